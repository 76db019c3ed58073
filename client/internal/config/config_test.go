package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestPrecedence(t *testing.T) {
	dir := t.TempDir()
	userFile := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(userFile, []byte(`
client_id = "file-client"
graph_url = "https://file.example/v1.0/"
service_url = "https://file.example:8443"
cache_max_gb = 5
autostart = true
lease_key = "file-key"
`), 0o600); err != nil {
		t.Fatal(err)
	}
	policy := map[string]string{
		"client_id": "policy-client", "graph_url": "https://policy.example/v1.0",
		"service_url": "https://policy.example", "tenant_id": "policy-tenant", "poll_interval": "60",
		"authority": "https://policy.example/tenant", "lease_key": "policy-key-1;policy-key-2",
	}
	env := map[string]string{
		"MAPDRIVE_CLIENT_ID": "env-client", "MAPDRIVE_GRAPH_URL": "https://env.example/v1.0",
		"MAPDRIVE_REFRESH_INTERVAL": "2m",
	}
	l := Loader{
		LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		UserFile:  userFile,
		Policy:    func() (map[string]string, error) { return policy, nil },
		Home:      "/home/alice",
	}
	c, err := l.Load(map[string]string{"client_id": "flag-client"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		key  string
		want string
		src  Source
	}{
		{"client_id", "flag-client", FromFlag},                     // flag beats all
		{"graph_url", "https://env.example/v1.0", FromEnv},         // env beats file and policy
		{"service_url", "https://policy.example", FromPolicy},      // policy beats the user's file
		{"tenant_id", "policy-tenant", FromPolicy},                 // policy beats default
		{"poll_interval", (60 * time.Second).String(), FromPolicy}, // bare seconds
		{"authority", "https://policy.example/tenant", FromPolicy}, // policy beats default
		{"lease_key", "policy-key-1;policy-key-2", FromPolicy},     // the MSI's LEASEKEY beats the user's pin
		{"cache_max_gb", "5", FromFile},                            // TOML integer
		{"autostart", "true", FromFile},                            // TOML boolean
		{"mount_root", filepath.Join("/home/alice", "Mapdrive"), FromDefault},
		{"service_scope", DefaultServiceScope, FromDefault},
		{"refresh_interval", (2 * time.Minute).String(), FromEnv},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			if got := c.Get(tt.key); got != tt.want {
				t.Errorf("Get(%q) = %q, want %q", tt.key, got, tt.want)
			}
			if got := c.Sources[tt.key]; got != tt.src {
				t.Errorf("Sources[%q] = %v, want %v", tt.key, got, tt.src)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	c, err := Loader{UserFile: filepath.Join(t.TempDir(), "missing.toml")}.Load(nil)
	if err != nil {
		t.Fatalf("Load with a missing user file: %v", err)
	}
	if c.Authority != DefaultAuthority || c.GraphURL != DefaultGraphURL || c.PollInterval != DefaultPollInterval {
		t.Errorf("defaults = %q %q %v, want %q %q %v", c.Authority, c.GraphURL, c.PollInterval, DefaultAuthority, DefaultGraphURL, DefaultPollInterval)
	}
	if c.RefreshInterval != DefaultRefreshInterval || DefaultRefreshInterval != 5*time.Minute {
		t.Errorf("default refresh interval = %v, want 5m", c.RefreshInterval)
	}
	if c.Configured() {
		t.Errorf("Configured() = true with no client id, want false")
	}
}

func TestBadValues(t *testing.T) {
	tests := []struct {
		name, file string
		flags      map[string]string
		wantErr    string
	}{
		{"unknown key in file", `clientid = "x"`, nil, `unknown setting "clientid"`},
		{"bad toml", `client_id = `, nil, "not valid TOML"},
		{"bad duration", ``, map[string]string{"poll_interval": "soon"}, "poll_interval"},
		{"bad refresh interval", `refresh_interval = "often"`, nil, "refresh_interval"},
		{"refresh interval too short", ``, map[string]string{"refresh_interval": "1s"}, "at least 30s"},
		{"negative cache", ``, map[string]string{"cache_max_gb": "-1"}, "cache_max_gb"},
		{"nan cache", `cache_max_gb = nan`, nil, "cache_max_gb"},
		{"not a url", ``, map[string]string{"graph_url": "graph.example"}, "is not a URL"},
		{"bad bool", `autostart = "perhaps"`, nil, "autostart"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "config.toml")
			os.WriteFile(f, []byte(tt.file), 0o600)
			_, err := Loader{UserFile: f}.Load(tt.flags)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Load = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestURLsMustBeHTTPS checks that the three URLs that send or issue bearer
// tokens refuse plain http except to loopback, whatever the source, and
// that the refusal names the setting and the fix.
func TestURLsMustBeHTTPS(t *testing.T) {
	tests := []struct {
		value   string
		wantErr string // "" = accepted
	}{
		{"https://graph.microsoft.com/v1.0", ""},
		{"https://mapdrive.contoso.com:8443/", ""},
		{"http://127.0.0.1:9443", ""},
		{"http://127.8.9.10", ""},
		{"http://localhost:8443/api", ""},
		{"http://LOCALHOST", ""},
		{"http://[::1]:8443", ""},
		{"http://[::ffff:127.0.0.1]:8443", ""},
		{"http://mapdrive.contoso.com", "plain http"},
		{"http://10.0.0.5:8443", "plain http"},
		{"http://localhost.evil.example", "plain http"},
		{"http://127.0.0.1.nip.io", "plain http"},
		{"http://[::2]", "plain http"},
		{"http://0.0.0.0", "plain http"},
		{"HTTP://mapdrive.contoso.com", "plain http"},
		{"ftp://mapdrive.contoso.com", "not a URL"},
		{"mapdrive.contoso.com", "not a URL"},
		{"https://", "not a URL"},
		{"https://user:pw@mapdrive.contoso.com", "user name or password"},
	}
	for _, key := range []string{"service_url", "graph_url", "authority"} {
		for _, tt := range tests {
			t.Run(key+" "+tt.value, func(t *testing.T) {
				_, err := Loader{}.Load(map[string]string{key: tt.value})
				env := map[string]string{EnvName(key): tt.value}
				_, envErr := Loader{LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}.Load(nil)
				if tt.wantErr == "" {
					if err != nil || envErr != nil {
						t.Fatalf("Load(%s = %q) = %v / from env %v, want accepted", key, tt.value, err, envErr)
					}
					return
				}
				for _, e := range []error{err, envErr} {
					if e == nil || !strings.Contains(e.Error(), tt.wantErr) || !strings.Contains(e.Error(), key) {
						t.Errorf("Load(%s = %q) = %v, want an error naming %s and saying %q", key, tt.value, e, key, tt.wantErr)
					}
				}
				if tt.wantErr == "plain http" && err != nil && !strings.Contains(err.Error(), "use https://") {
					t.Errorf("error %q does not say the fix", err)
				}
			})
		}
	}
}

// TestPolicyKeys: every setting machine policy may set is a setting, and
// the per-user locations are not among them (the Windows reader reads
// PolicyKeys only; shared/distcheck checks the ADMX writes exactly these).
func TestPolicyKeys(t *testing.T) {
	known := map[string]bool{}
	for _, k := range Keys {
		known[k] = true
	}
	seen := map[string]bool{}
	for _, k := range PolicyKeys {
		if !known[k] || seen[k] {
			t.Errorf("PolicyKeys holds %q: unknown or listed twice", k)
		}
		seen[k] = true
	}
	for _, k := range []string{"lease_key", "service_url", "client_id"} {
		if !seen[k] {
			t.Errorf("PolicyKeys lacks %s", k)
		}
	}
	for _, k := range []string{"socket", "state_dir", "cache_dir", "mount_root"} {
		if seen[k] {
			t.Errorf("PolicyKeys holds the per-user %s: every user of the machine would share it", k)
		}
	}
}
