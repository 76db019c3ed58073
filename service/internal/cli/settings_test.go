package cli

import (
	"bytes"
	"context"
	"flag"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the settings table in docs/deploy-service.md")

// parseServe parses serve's settings from args and env alone, as cmdServe
// does before it opens anything, and returns them with the log it wrote.
func parseServe(t *testing.T, env map[string]string, args ...string) (*cmdFlags, *common, *serveFlags, string) {
	t.Helper()
	var logs bytes.Buffer
	fs, c := newFlags("serve", Options{Stderr: &logs, LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	var f serveFlags
	fs.add(f.settings()...)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("parse %v with %v: %v", args, env, err)
	}
	c.logger(&logs)
	return fs, c, &f, logs.String()
}

// testValue returns a valid value for s other than its default.
func testValue(s setting) string {
	switch s.value.(interface{ typeName() string }).typeName() {
	case "bool":
		if s.value.String() == "true" {
			return "false"
		}
		return "true"
	case "int":
		return "7"
	case "float":
		return "2.5"
	case "duration":
		return "3m0s"
	case "list":
		return "aud-" + s.name
	}
	return "value-of-" + s.name
}

// TestEverySettingReadAsMAPDRIVESVC sets each of serve's settings (the
// ones docs/deploy-service.md lists) through its MAPDRIVESVC_ variable
// alone and checks the value arrives, and that the service looks up no
// client (MAPDRIVE_) name other than the old names it still honours.
func TestEverySettingReadAsMAPDRIVESVC(t *testing.T) {
	var c common
	var f serveFlags
	all := slices.Concat(c.settings(), f.settings())
	if len(all) < 25 {
		t.Fatalf("only %d settings: the table lost some", len(all))
	}
	for _, s := range all {
		t.Run(s.name, func(t *testing.T) {
			if !strings.HasPrefix(s.env(), "MAPDRIVESVC_") {
				t.Errorf("%s reads %s, want the MAPDRIVESVC_ prefix", s.name, s.env())
			}
			want := testValue(s)
			var looked []string
			var logs bytes.Buffer
			fs, _ := newFlags("serve", Options{Stderr: &logs, LookupEnv: func(k string) (string, bool) {
				looked = append(looked, k)
				if k == s.env() {
					return want, true
				}
				return "", false
			}})
			var sf serveFlags
			fs.add(sf.settings()...)
			if err := fs.Parse(nil); err != nil {
				t.Fatal(err)
			}
			if got := fs.Lookup(s.name).Value.String(); got != want {
				t.Errorf("with %s=%s, --%s = %q, want %q", s.env(), want, s.name, got, want)
			}
			for _, k := range looked {
				if strings.HasPrefix(k, "MAPDRIVE_") && !slices.ContainsFunc(all, func(s setting) bool { return s.old == k }) {
					t.Errorf("serve looked up %s, a client name that is no old name of a setting", k)
				}
			}
		})
	}
}

// TestOldNamesStillWorkAndWarn checks the transition from MAPDRIVE_: an
// old name alone still sets the value and is logged as deprecated with
// its new name; next to its new name (the desktop client's
// MAPDRIVE_CLIENT_ID in the same shell) it is ignored, with a warning;
// a flag wins over both.
func TestOldNamesStillWorkAndWarn(t *testing.T) {
	_, _, f, logs := parseServe(t, map[string]string{"MAPDRIVE_CLIENT_ID": "svc-old", "MAPDRIVE_SERVICE_DATA": "/old/data", "MAPDRIVE_AUDIENCES": "a, b"})
	if f.clientID != "svc-old" || strings.Join(f.audiences, "|") != "a|b" {
		t.Errorf("old names alone: client id %q, audiences %q; want svc-old, [a b]", f.clientID, f.audiences)
	}
	for _, pair := range [][2]string{{"MAPDRIVE_CLIENT_ID", "MAPDRIVESVC_CLIENT_ID"}, {"MAPDRIVE_SERVICE_DATA", "MAPDRIVESVC_DATA_DIR"}, {"MAPDRIVE_AUDIENCES", "MAPDRIVESVC_AUDIENCE"}} {
		if !strings.Contains(logs, `"msg":"deprecated environment variable`) || !strings.Contains(logs, `"old":"`+pair[0]+`","new":"`+pair[1]+`"`) {
			t.Errorf("log lacks a deprecation warning naming %s and %s:\n%s", pair[0], pair[1], logs)
		}
	}
	if strings.Contains(logs, "svc-old") || strings.Contains(logs, "/old/data") {
		t.Errorf("the warning shows a value; values may be secrets:\n%s", logs)
	}

	_, _, f, logs = parseServe(t, map[string]string{"MAPDRIVE_CLIENT_ID": "desktop-app", "MAPDRIVESVC_CLIENT_ID": "service-api"})
	if f.clientID != "service-api" {
		t.Errorf("both names set: client id %q, want the MAPDRIVESVC_ value service-api", f.clientID)
	}
	if !strings.Contains(logs, `"msg":"environment variable ignored`) || !strings.Contains(logs, `"old":"MAPDRIVE_CLIENT_ID","new":"MAPDRIVESVC_CLIENT_ID"`) {
		t.Errorf("log lacks the warning that MAPDRIVE_CLIENT_ID is ignored:\n%s", logs)
	}

	_, _, f, logs = parseServe(t, map[string]string{"MAPDRIVE_CLIENT_ID": "desktop-app", "MAPDRIVESVC_CLIENT_ID": "service-api"}, "--client-id", "flag-id")
	if f.clientID != "flag-id" {
		t.Errorf("flag and both variables: client id %q, want flag-id", f.clientID)
	}
	if strings.Contains(logs, "MAPDRIVE_CLIENT_ID") {
		t.Errorf("a given flag makes the variables moot, yet the log warns about them:\n%s", logs)
	}

	_, _, f, logs = parseServe(t, nil)
	if f.clientID == "desktop-app" || logs != "" {
		t.Errorf("no variables: client id %q, log %q; want the default and no warnings", f.clientID, logs)
	}
}

// TestBadVariableNamed checks a variable that does not parse fails the
// command with the variable's name.
func TestBadVariableNamed(t *testing.T) {
	fs, _ := newFlags("serve", Options{Stderr: io.Discard, LookupEnv: func(k string) (string, bool) {
		if k == "MAPDRIVESVC_PLAIN_HTTP" {
			return "yes please", true
		}
		return "", false
	}})
	var f serveFlags
	fs.add(f.settings()...)
	if err := fs.Parse(nil); err == nil || !strings.Contains(err.Error(), "environment variable MAPDRIVESVC_PLAIN_HTTP") {
		t.Errorf("MAPDRIVESVC_PLAIN_HTTP=%q: parse error %v, want one naming the variable", "yes please", err)
	}
}

// TestHelpComesFromTheTable checks serve -h lists every setting with its
// variable and default.
func TestHelpComesFromTheTable(t *testing.T) {
	out, code := runEnv(t, nil, "serve", "-h")
	if code != 0 {
		t.Fatalf("serve -h = exit %d", code)
	}
	var c common
	var f serveFlags
	for _, s := range slices.Concat(c.settings(), f.settings()) {
		if !strings.Contains(out, "--"+s.name+" ") && !strings.Contains(out, "--"+s.name+"  ") {
			t.Errorf("serve -h lacks --%s", s.name)
		}
		if !strings.Contains(out, "("+s.env()+")") {
			t.Errorf("serve -h lacks %s", s.env())
		}
	}
}

// TestSettingsDoc keeps the settings table in docs/deploy-service.md
// equal to the one in settings.go; go test -update rewrites it.
func TestSettingsDoc(t *testing.T) {
	const begin, end = "<!-- settings: generated by TestSettingsDoc in service/internal/cli; go test -update -->\n", "<!-- end of settings -->"
	path := filepath.Join("..", "..", "..", "docs", "deploy-service.md")
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	before, rest, ok := strings.Cut(string(doc), begin)
	_, after, ok2 := strings.Cut(rest, end)
	if !ok || !ok2 {
		t.Fatalf("%s lacks the markers %q ... %q", path, begin, end)
	}
	want := before + begin + settingsDoc() + end + after
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if string(doc) != want {
		t.Errorf("%s's settings table differs from settings.go: run go test ./internal/cli -run TestSettingsDoc -update", path)
	}
}

func runEnv(t *testing.T, env map[string]string, args ...string) (string, int) {
	t.Helper()
	var out bytes.Buffer
	code := Main(t.Context(), args, Options{Stdout: &out, Stderr: &out, LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	return out.String(), code
}

// TestDeploymentFilesUseTheTable checks the container image and the Azure
// template set the service only through MAPDRIVESVC_ names of the table:
// no old name, no typo that the service would silently ignore.
func TestDeploymentFilesUseTheTable(t *testing.T) {
	var c common
	var f serveFlags
	known := map[string]bool{}
	for _, s := range slices.Concat(c.settings(), f.settings()) {
		known[s.env()] = true
	}
	name := regexp.MustCompile(`MAPDRIVE[A-Z0-9_]*`)
	for _, file := range []string{"service/Dockerfile", "installer/azure/main.bicep"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "..", file))
		if err != nil {
			t.Fatal(err)
		}
		found := name.FindAllString(string(b), -1)
		if len(found) == 0 {
			t.Errorf("%s sets no MAPDRIVESVC_ variable: the scan is looking at the wrong file", file)
		}
		for _, n := range found {
			if !known[n] {
				t.Errorf("%s sets %s, which is not a setting of the service (settings.go)", file, n)
			}
		}
	}
}

// TestServeNeedsClientID: with no client id configured, serve refuses to
// start and says what to set (the flag and its variable) and where the
// value is found; any one source of the setting satisfies it. There is no
// built-in id to fall back to.
func TestServeNeedsClientID(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		ok   bool
	}{
		{"nothing configured", nil, nil, false},
		{"old variable, for one release", map[string]string{"MAPDRIVE_CLIENT_ID": "service-api"}, nil, true},
		{"empty flag", nil, []string{"--client-id="}, false},
		{"flag", nil, []string{"--client-id", "service-api"}, true},
		{"variable", map[string]string{"MAPDRIVESVC_CLIENT_ID": "service-api"}, nil, true},
		{"audience alone", map[string]string{"MAPDRIVESVC_AUDIENCE": "api://x"}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, f, _ := parseServe(t, tt.env, tt.args...)
			err := f.check()
			if tt.ok {
				if err != nil {
					t.Errorf("check: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("check passed with client id %q", f.clientID)
			}
			for _, want := range []string{"--client-id", "MAPDRIVESVC_CLIENT_ID", "Mapdrive Service", "docs/entra-app-registration.md"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not name %s", err, want)
				}
			}
		})
	}
	// serve itself stops there, before it opens a database. Bounded, and
	// on a free port: a serve that wrongly starts runs until ctx ends.
	data := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var out bytes.Buffer
	code := Main(ctx, []string{"serve", "--data-dir", data, "--listen", "127.0.0.1:0", "--metrics-listen", "off"},
		Options{Stdout: &out, Stderr: &out, LookupEnv: func(string) (string, bool) { return "", false }})
	if code == 0 || !strings.Contains(out.String(), "MAPDRIVESVC_CLIENT_ID") {
		t.Errorf("serve without a client id: exit %d, %q", code, out.String())
	}
	if _, err := os.Stat(filepath.Join(data, "mapdrive.db")); err == nil {
		t.Error("serve opened the database before refusing")
	}
}

// The cloud setting gives every endpoint left unset; nothing is guessed
// from the authority's host name (a custom authority, such as m365sim,
// says its Graph URL itself).
func TestServeCloudDefaults(t *testing.T) {
	for _, tc := range []struct {
		name                                string
		f                                   serveFlags
		authority, v1, v2, graph, scope, ee string
	}{
		{name: "global by default", f: serveFlags{clientID: "x"},
			authority: "https://login.microsoftonline.com", v1: "https://sts.windows.net", v2: "https://login.microsoftonline.com",
			graph: "https://graph.microsoft.com/v1.0", scope: "https://graph.microsoft.com/.default"},
		{name: "us government L4", f: serveFlags{clientID: "x", cloud: "usgov"},
			authority: "https://login.microsoftonline.us", v1: "https://sts.windows.net", v2: "https://login.microsoftonline.us",
			graph: "https://graph.microsoft.us/v1.0", scope: "https://graph.microsoft.us/.default"},
		{name: "us government L5", f: serveFlags{clientID: "x", cloud: "usgovdod"},
			authority: "https://login.microsoftonline.us", v1: "https://sts.windows.net", v2: "https://login.microsoftonline.us",
			graph: "https://dod-graph.microsoft.us/v1.0", scope: "https://dod-graph.microsoft.us/.default"},
		{name: "china", f: serveFlags{clientID: "x", cloud: "china"},
			authority: "https://login.chinacloudapi.cn", v1: "https://sts.chinacloudapi.cn", v2: "https://login.partner.microsoftonline.cn",
			graph: "https://microsoftgraph.chinacloudapi.cn/v1.0", scope: "https://microsoftgraph.chinacloudapi.cn/.default"},
		{name: "custom authority: its own v2 issuer, the cloud's Graph unless set", f: serveFlags{clientID: "x", authority: "https://localhost:9443"},
			authority: "https://localhost:9443", v1: "https://sts.windows.net", v2: "https://localhost:9443",
			graph: "https://graph.microsoft.com/v1.0", scope: "https://graph.microsoft.com/.default"},
		{name: "unknown cloud", f: serveFlags{clientID: "x", cloud: "germany"}, ee: "set cloud to one of global, usgov, usgovdod, china"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.f
			err := f.check()
			if tc.ee != "" {
				if err == nil || !strings.Contains(err.Error(), tc.ee) {
					t.Fatalf("check() = %v, want an error containing %q", err, tc.ee)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := []string{f.authority, f.v1Issuer, f.v2Issuer, f.graphURL, f.graphScope}
			want := []string{tc.authority, tc.v1, tc.v2, tc.graph, tc.scope}
			if !slices.Equal(got, want) {
				t.Errorf("authority, v1, v2, graph, scope = %q, want %q", got, want)
			}
		})
	}
}
