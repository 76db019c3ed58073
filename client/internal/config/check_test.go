package config

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckSaysWhatToSet: a client with nothing configured, or with a
// service but no scope for it, says which key to set, in which sources
// (policy, installer property, user file, variable, flag), what the value
// is, and which page explains it. Loaded defaults alone are never enough.
func TestCheckSaysWhatToSet(t *testing.T) {
	l := Loader{LookupEnv: func(string) (string, bool) { return "", false }, UserFile: filepath.Join(t.TempDir(), "config.toml"), Home: t.TempDir()}
	defaults, err := l.Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	with := func(f func(*Config)) Config { c := defaults; f(&c); return c }
	tests := []struct {
		name string
		cfg  Config
		key  string // "": configured
		want []string
	}{
		{"nothing configured", defaults, "client_id",
			[]string{"client_id is not set", "MAPDRIVE_CLIENT_ID", "--client-id", "CLIENTID", PolicyFile(), l.UserFile, "Mapdrive\" app registration", DocRegistration}},
		{"service without scope", with(func(c *Config) { c.ClientID, c.ServiceURL = "app", "https://svc.example" }), "service_scope",
			[]string{"service_scope is not set (service_url is set)", "MAPDRIVE_SERVICE_SCOPE", "--service-scope", "SERVICESCOPE", PolicyFile(), "api://<Mapdrive Service application id>/Mapdrive.Access", DocRegistration}},
		{"scope without client id", with(func(c *Config) { c.ServiceURL, c.ServiceScope = "https://svc.example", "api://x/Mapdrive.Access" }), "client_id", nil},
		{"client id, no service", with(func(c *Config) { c.ClientID = "app" }), "", nil},
		{"client id, service and scope", with(func(c *Config) {
			c.ClientID, c.ServiceURL, c.ServiceScope = "app", "https://svc.example", "api://x/Mapdrive.Access"
		}), "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Check()
			var me *MissingError
			if tt.key == "" {
				if err != nil {
					t.Fatalf("Check = %v, want nil", err)
				}
				return
			}
			if !errors.As(err, &me) || me.Key != tt.key {
				t.Fatalf("Check = %v, want a MissingError for %s", err, tt.key)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("message lacks %q:\n%s", w, err)
				}
			}
		})
	}
}
