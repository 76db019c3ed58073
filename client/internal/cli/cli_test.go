package cli

import (
	"bytes"
	"context"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mapdrive/mapdrive/client/internal/ipc"
	"github.com/mapdrive/mapdrive/client/internal/localapi"
	"github.com/mapdrive/mapdrive/shared/apitype"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var when = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// fakeAgent is a fixed local API backend.
type fakeAgent struct{}

var (
	alice  = apitype.Account{Username: "alice@contoso.com", DisplayName: "Alice Anders", TenantID: "7a1c9e52-3b4d-4f6a-8e2b-1c5d9f0a3e77", UserID: "oid"}
	drives = []apitype.Drive{
		{ID: "map-finance", Name: "Finance", Kind: "sharepoint", Target: "https://contoso.sharepoint.com/sites/Finance › Documents", DriveID: "b!fin",
			Source: apitype.SourceAssigned, AutoMount: true, State: apitype.DriveMounted, Mountpoint: "/home/alice/Mapdrive/Finance", CacheBytes: 1500000},
		{ID: "b!alice", Name: "OneDrive", Kind: "onedrive", Target: "your OneDrive", DriveID: "b!alice",
			Source: apitype.SourceDiscovered, State: apitype.DriveUnmounted, Mountpoint: "/home/alice/Mapdrive/OneDrive"},
	}
)

func (fakeAgent) Status() (apitype.Status, <-chan struct{}) {
	return apitype.Status{
		AgentVersion: "1.2.3", SignIn: apitype.SignedIn, Account: &alice, Online: true,
		Licence: apitype.Licence{State: apitype.LicenceValid, ExpiresAt: when.Add(7 * 24 * time.Hour)},
		Drives:  drives,
		Transfers: []apitype.Transfer{{ID: "t1", Drive: "map-finance", Path: "/Reports/Q4.xlsx", Direction: apitype.Upload,
			Done: 5 << 20, Total: 10 << 20, State: "active"}},
		Errors: []apitype.Problem{{Code: apitype.CodeUnavailableOffline, Drive: "map-finance",
			Message: "the folder /Reports/2026 was never opened while online, so it is empty offline; it will list when the connection returns",
			Action:  "Nothing is lost: the files stay on the server."}},
		Conflicts: []apitype.Conflict{{Drive: "map-finance", Path: "/Budget.xlsx", ConflictPath: "/Budget (conflict from laptop 2026-11-25).xlsx", Time: when}},
		Settings:  apitype.Settings{MountRoot: "/home/alice/Mapdrive", Pins: []apitype.Pin{}},
		Updated:   when, Seq: 7,
	}, make(chan struct{})
}
func (fakeAgent) Login(ctx context.Context, req apitype.LoginRequest) (apitype.LoginResponse, error) {
	return apitype.LoginResponse{Prompt: &apitype.LoginPrompt{DeviceCode: true, UserCode: "ABCD-EFGH",
		VerificationURL: "https://login.example/device", Message: "To sign in, open https://login.example/device and enter ABCD-EFGH.", ExpiresAt: when}}, nil
}
func (fakeAgent) WaitLogin(ctx context.Context) (apitype.Account, error)  { return alice, nil }
func (fakeAgent) Logout(ctx context.Context) (string, error)              { return "signed out", nil }
func (fakeAgent) WhoAmI(ctx context.Context) (apitype.Account, error)     { return alice, nil }
func (fakeAgent) Drives(ctx context.Context) ([]apitype.Drive, error)     { return drives, nil }
func (fakeAgent) SetUploadsPaused(ctx context.Context, paused bool) error { return nil }
func (fakeAgent) Settings(ctx context.Context) (apitype.Settings, error) {
	return apitype.Settings{}, nil
}
func (fakeAgent) Pin(ctx context.Context, r apitype.PinRequest, p bool) error { return nil }
func (fakeAgent) UpdateSettings(ctx context.Context, u apitype.SettingsUpdate) (apitype.Settings, error) {
	return apitype.Settings{}, nil
}
func (fakeAgent) Mount(ctx context.Context, req apitype.MountRequest) (apitype.Drive, error) {
	if !strings.EqualFold(req.Drive, "OneDrive") {
		return apitype.Drive{}, apitype.NewError(apitype.CodeUnknownDrive, "there is no drive \""+req.Drive+"\"", "Known drives: \"Finance\", \"OneDrive\".")
	}
	d := drives[1]
	d.State = apitype.DriveMounted
	if req.Mountpoint != "" {
		d.Mountpoint = req.Mountpoint
	}
	return d, nil
}
func (f fakeAgent) RefreshNow(ctx context.Context) (apitype.Status, error) {
	st, _ := f.Status()
	return st, nil
}
func (fakeAgent) Unmount(ctx context.Context, target string) (apitype.Drive, error) {
	d := drives[0]
	d.State = apitype.DriveUnmounted
	return d, nil
}

func (fakeAgent) WebURL(ctx context.Context, req apitype.LinkRequest) (apitype.Link, error) {
	return apitype.Link{Drive: "map-finance", Path: "/Reports/Q1.txt", WebURL: "https://contoso.sharepoint.com/sites/Finance/Shared%20Documents/Reports/Q1.txt"}, nil
}
func (f fakeAgent) Link(ctx context.Context, req apitype.LinkRequest) (apitype.Link, error) {
	if strings.HasSuffix(req.Path, "secret.txt") {
		return apitype.Link{}, apitype.NewError(apitype.CodeLinksDisabled, "your organisation's Mapdrive policy does not allow sharing links (link scope: none)",
			"Open the file in the browser with `mapdrive open-web` and share it from there, or ask your IT administrator to choose a link scope under Policies → Sharing links in the Mapdrive portal.")
	}
	l, _ := f.WebURL(ctx, req)
	l.URL, l.Type, l.Scope = "https://contoso.sharepoint.com/:u:/g/EXAMPLE", "view", apitype.LinkScopeOrganization
	return l, nil
}

// opened records the pages the CLI opened in the "browser".
var opened []string

// serveFake starts the fake agent on a real socket.
func serveFake(t *testing.T) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "agent.sock")
	ln, err := ipc.Listen(sock, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: localapi.New(fakeAgent{}, nil)}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return sock
}

func run(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(context.Background(), args, Env{
		Stdout: &out, Stderr: &errb,
		LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		OpenURL:   func(u string) error { opened = append(opened, u); return nil },
	})
	return out.String(), errb.String(), code
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s output differs from %s (-want +got):\n%s", name, path, diff)
	}
}

func TestJSONGolden(t *testing.T) {
	sock := serveFake(t)
	noFile := filepath.Join(t.TempDir(), "config.toml")
	tests := []struct {
		name string
		args []string
	}{
		{"status", []string{"status"}},
		{"drives", []string{"drives"}},
		{"whoami", []string{"whoami"}},
		{"login", []string{"login", "--device-code"}},
		{"logout", []string{"logout"}},
		{"mount", []string{"mount", "OneDrive", "/mnt/od"}},
		{"unmount", []string{"unmount", "Finance"}},
		{"mount_unknown", []string{"mount", "Payroll"}},
		{"pause", []string{"uploads", "pause"}},
		{"pin", []string{"pin", "Finance", "/Reports"}},
		{"refresh", []string{"refresh"}},
		{"link", []string{"link", "/home/alice/Mapdrive/Finance/Reports/Q1.txt"}},
		{"link_disabled", []string{"link", "/home/alice/Mapdrive/Finance/secret.txt"}},
		{"open_web", []string{"open-web", "/home/alice/Mapdrive/Finance/Reports/Q1.txt"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append(append([]string{}, tt.args...), "--json", "--socket", sock, "--config", noFile)
			out, _, code := run(t, nil, args...)
			wantCode := 0
			if strings.HasSuffix(tt.name, "_unknown") || strings.HasSuffix(tt.name, "_disabled") {
				wantCode = 1
			}
			if code != wantCode {
				t.Errorf("mapdrive %s exit code = %d, want %d", strings.Join(tt.args, " "), code, wantCode)
			}
			golden(t, "json_"+tt.name, out)
		})
	}
}

func TestHumanOutput(t *testing.T) {
	sock := serveFake(t)
	noFile := filepath.Join(t.TempDir(), "config.toml")
	out, _, code := run(t, nil, "status", "--socket", sock, "--config", noFile)
	if code != 0 {
		t.Fatalf("status exit code %d", code)
	}
	for _, want := range []string{"Signed in as alice@contoso.com (Alice Anders)", "[##########----------]  50%", "Finance", "conflict from laptop",
		"Problems:\n  the folder /Reports/2026 was never opened while online, so it is empty offline; it will list when the connection returns. Nothing is lost"} {
		if !strings.Contains(out, want) {
			t.Errorf("status output lacks %q:\n%s", want, out)
		}
	}
	out, _, code = run(t, nil, "refresh", "--socket", sock, "--config", noFile)
	if code != 0 || !strings.HasPrefix(out, "Refreshed the licence and drives.\n") || !strings.Contains(out, "Finance") {
		t.Errorf("refresh: code %d, output:\n%s", code, out)
	}
	_, stderr, code := run(t, nil, "mount", "Payroll", "--socket", sock, "--config", noFile)
	if code != 1 || stderr != "mapdrive: there is no drive \"Payroll\"\nKnown drives: \"Finance\", \"OneDrive\".\n" {
		t.Errorf("mount of an unknown drive: code %d, stderr %q", code, stderr)
	}
}

// TestLinkCommands: link prints the link alone (for scripts and the
// Nautilus script), open-web opens the web address and says so, a relative
// path is made absolute, and a disabled policy is a clear error.
func TestLinkCommands(t *testing.T) {
	sock := serveFake(t)
	noFile := filepath.Join(t.TempDir(), "config.toml")
	out, stderr, code := run(t, nil, "link", "Reports/Q1.txt", "--socket", sock, "--config", noFile)
	if code != 0 || out != "https://contoso.sharepoint.com/:u:/g/EXAMPLE\n" || stderr != "" {
		t.Errorf("link: code %d, stdout %q, stderr %q", code, out, stderr)
	}
	opened = nil
	out, _, code = run(t, nil, "open-web", "/home/alice/Mapdrive/Finance/Reports/Q1.txt", "--socket", sock, "--config", noFile)
	want := "https://contoso.sharepoint.com/sites/Finance/Shared%20Documents/Reports/Q1.txt"
	if code != 0 || out != "Opened "+want+"\n" || len(opened) != 1 || opened[0] != want {
		t.Errorf("open-web: code %d, stdout %q, opened %q", code, out, opened)
	}
	_, stderr, code = run(t, nil, "link", "/home/alice/Mapdrive/Finance/secret.txt", "--socket", sock, "--config", noFile)
	if code != 1 || !strings.Contains(stderr, "link scope: none") || !strings.Contains(stderr, "mapdrive open-web") {
		t.Errorf("link with links disabled: code %d, stderr %q", code, stderr)
	}
	for _, args := range [][]string{{"link"}, {"open-web", "a", "b"}} {
		if _, stderr, code := run(t, nil, args...); code != 1 || !strings.Contains(stderr, "--help") {
			t.Errorf("mapdrive %v: code %d stderr %q, want a usage hint", args, code, stderr)
		}
	}
}

func TestAgentNotRunning(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "none.sock")
	_, stderr, code := run(t, nil, "drives", "--socket", sock)
	if code != 1 || !strings.Contains(stderr, "the Mapdrive agent is not running") || !strings.Contains(stderr, "mapdrive agent") {
		t.Errorf("drives with no agent: code %d, stderr %q", code, stderr)
	}
	out, _, _ := run(t, nil, "drives", "--json", "--socket", sock)
	golden(t, "json_agent_not_running", out)
}

// TestFirstRun: `mapdrive` with a setting missing says which one, where
// and how to set it, and which page explains it; with everything set but
// no agent, it says to start the agent.
func TestFirstRun(t *testing.T) {
	cfgFile := filepath.Join(t.TempDir(), "config.toml")
	svc := map[string]string{"MAPDRIVE_CLIENT_ID": "x", "MAPDRIVE_SERVICE_URL": "https://svc.example", "MAPDRIVE_SOCKET": filepath.Join(t.TempDir(), "s")}
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want []string
	}{
		{"nothing configured", nil, nil, []string{"client_id is not set", "MAPDRIVE_CLIENT_ID", "--client-id", "CLIENTID", "docs/entra-app-registration.md", cfgFile, "mapdrive agent", "mapdrive login"}},
		{"service without its scope", svc, nil, []string{"service_scope is not set", "MAPDRIVE_SERVICE_SCOPE", "--service-scope", "SERVICESCOPE", "api://<Mapdrive Service application id>/Mapdrive.Access", "docs/entra-app-registration.md"}},
		{"scope by flag", svc, []string{"--service-scope", "api://svc/Mapdrive.Access"}, []string{"agent is not running"}},
		{"client id alone", map[string]string{"MAPDRIVE_CLIENT_ID": "x", "MAPDRIVE_SOCKET": filepath.Join(t.TempDir(), "s")}, nil, []string{"agent is not running"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, stderr, code := run(t, tt.env, append([]string{"--config", cfgFile}, tt.args...)...)
			if code != 0 || stderr != "" {
				t.Fatalf("mapdrive: code %d stderr %q", code, stderr)
			}
			for _, want := range tt.want {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	tests := [][]string{{"mount"}, {"unmount", "a", "b"}, {"status", "--bogus"}, {"pin", "x"}, {"refresh", "now"}, {"frobnicate"}}
	for _, args := range tests {
		_, stderr, code := run(t, nil, args...)
		if code != 1 || !strings.Contains(stderr, "--help") {
			t.Errorf("mapdrive %v: code %d stderr %q, want a usage hint", args, code, stderr)
		}
	}
}

func TestProgressBar(t *testing.T) {
	tests := []struct {
		done, total int64
		want        string
	}{
		{0, 100, "[----------]"}, {50, 100, "[#####-----]"}, {100, 100, "[##########]"}, {200, 100, "[##########]"}, {5, 0, "[??????????]"},
	}
	for _, tt := range tests {
		if got := progressBar(tt.done, tt.total, 10); got != tt.want {
			t.Errorf("progressBar(%d, %d) = %q, want %q", tt.done, tt.total, got, tt.want)
		}
	}
}

// TestBandwidthLine: status names each limit and says which one holds
// transfers back now.
func TestBandwidthLine(t *testing.T) {
	for _, tt := range []struct {
		b    apitype.Bandwidth
		want string
	}{
		{apitype.Bandwidth{}, ""},
		{apitype.Bandwidth{UploadLimit: 20_000_000}, "uploads up to 20.0 MB/s, set by your organisation"},
		{apitype.Bandwidth{UploadLimit: 20_000_000, DownloadLimit: 2_500_000, DownloadLimited: true},
			"downloads up to 2.5 MB/s (limiting now), uploads up to 20.0 MB/s, set by your organisation"},
	} {
		if got := bandwidthLine(tt.b); got != tt.want {
			t.Errorf("bandwidthLine(%+v) = %q, want %q", tt.b, got, tt.want)
		}
	}
	var buf strings.Builder
	renderStatus(&buf, apitype.Status{Bandwidth: apitype.Bandwidth{UploadLimit: 1_000_000, UploadLimited: true}})
	if !strings.Contains(buf.String(), "Bandwidth: uploads up to 1.0 MB/s (limiting now)") {
		t.Errorf("status output lacks the bandwidth line:\n%s", buf.String())
	}
}
