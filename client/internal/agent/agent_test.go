package agent

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mapdrive/mapdrive/client/internal/config"
	"github.com/mapdrive/mapdrive/client/internal/fusefs"
	"github.com/mapdrive/mapdrive/client/internal/ipc"
	"github.com/mapdrive/mapdrive/client/internal/keyring"
	"github.com/mapdrive/mapdrive/client/internal/mountdriver"
	"github.com/mapdrive/mapdrive/client/internal/svcclient"
	"github.com/mapdrive/mapdrive/client/localclient"
	"github.com/mapdrive/mapdrive/shared/apitype"
)

type harness struct {
	t      *testing.T
	a      *Agent
	c      *localclient.Client
	auth   *fakeAuth
	dir    *fakeDirectory
	mnt    *fakeMounter
	svc    *leaseService
	cfg    config.Config
	clock  *clock
	cancel context.CancelFunc
	done   chan error
}

type clock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.off += d
}

type setup struct {
	auth     *fakeAuth
	svc      *leaseService // nil: a new one
	stateDir string        // "": a new one
	secrets  Secrets
	offline  bool // Graph unreachable from the start
	logs     io.Writer
	// refreshInterval is the agent's refresh interval; 0: an hour, so
	// tests see only the refreshes they ask for.
	refreshInterval time.Duration
	links           Links // nil: none
	mountErr        error // what every mount fails with; nil: mounts work
}

func start(t *testing.T, s setup) *harness {
	t.Helper()
	base := t.TempDir()
	if s.stateDir == "" {
		s.stateDir = filepath.Join(base, "state")
	}
	if s.auth == nil {
		s.auth = newFakeAuth()
	}
	if s.svc == nil {
		s.svc = newLeaseService(t)
	}
	if s.secrets == nil {
		s.secrets = keyring.New(keyring.WithBackend(keyring.NewMemory()))
	}
	h := &harness{t: t, auth: s.auth, dir: &fakeDirectory{offline: s.offline}, mnt: &fakeMounter{mountErr: s.mountErr}, svc: s.svc, clock: &clock{}}
	h.cfg = config.Config{
		ClientID: "client", ServiceURL: s.svc.srv.URL, MountRoot: filepath.Join(base, "mnt"),
		StateDir: s.stateDir, CacheDir: filepath.Join(base, "cache"), PollInterval: time.Second, UserFile: "/nonexistent/config.toml",
	}
	sc, err := svcclient.New(svcclient.Options{
		BaseURL: s.svc.srv.URL, HTTP: s.svc.srv.Client(), StateDir: s.stateDir, Now: h.clock.Now,
		Token: func(ctx context.Context) (string, error) { return "token", nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(base, "run", "agent.sock")
	ln, err := ipc.Listen(sock, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.refreshInterval == 0 {
		s.refreshInterval = time.Hour
	}
	h.a, err = New(Options{
		Config: h.cfg, Auth: h.auth, Directory: h.dir, Mounter: h.mnt, Service: sc, Secrets: s.secrets,
		Listener: ln, Now: h.clock.Now, StatsInterval: 20 * time.Millisecond, RefreshInterval: s.refreshInterval,
		Log: logger(s.logs), Links: s.links,
	})
	if err != nil {
		t.Fatal(err)
	}
	h.c, _ = localclient.New(sock)
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	h.done = make(chan error, 1)
	go func() { h.done <- h.a.Run(ctx) }()
	t.Cleanup(h.stop)
	return h
}

func (h *harness) stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	h.cancel = nil
	if err := <-h.done; err != nil {
		h.t.Errorf("Run = %v", err)
	}
	checkNoLeaks(h.t)
}

// waitFor watches the status until ok holds.
func (h *harness) waitFor(what string, ok func(apitype.Status) bool) apitype.Status {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	w, err := h.c.WatchStatus(ctx)
	if err != nil {
		h.t.Fatalf("watch: %v", err)
	}
	defer w.Close()
	var last apitype.Status
	for {
		st, err := w.Next()
		if err != nil {
			b, _ := json.MarshalIndent(last, "", "  ")
			h.t.Fatalf("waiting for %s: %v; last status:\n%s", what, err, b)
		}
		if ok(st) {
			return st
		}
		last = st
	}
}

func driveByName(st apitype.Status, name string) *apitype.Drive {
	for i := range st.Drives {
		if st.Drives[i].Name == name {
			return &st.Drives[i]
		}
	}
	return nil
}

func mounted(name string) func(apitype.Status) bool {
	return func(st apitype.Status) bool {
		d := driveByName(st, name)
		return d != nil && d.State == apitype.DriveMounted
	}
}

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	var ae *apitype.Error
	if !errors.As(err, &ae) || ae.Code != code {
		t.Fatalf("%s = %v, want code %s", what, err, code)
	}
	if ae.Message == "" || ae.Action == "" {
		t.Errorf("%s: error %+v lacks a message or an action", what, ae)
	}
}

func TestLoginDiscoverAutomount(t *testing.T) {
	h := start(t, setup{})
	ctx := context.Background()
	h.waitFor("first refresh", func(st apitype.Status) bool { return st.SignIn == apitype.SignedOut })
	if _, err := h.c.Drives(ctx); localclient.Code(err) != apitype.CodeNotSignedIn {
		t.Errorf("Drives before sign-in = %v, want not_signed_in", err)
	}

	resp, err := h.c.Login(ctx, true)
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	if resp.Prompt == nil || resp.Prompt.UserCode != "WXYZ-1234" || !strings.Contains(resp.Prompt.Message, "WXYZ-1234") {
		t.Fatalf("Login = %+v, want the device-code prompt", resp)
	}
	st := h.waitFor("signing in with the prompt", func(st apitype.Status) bool {
		return st.SignIn == apitype.SigningIn && st.Login != nil
	})
	if st.Login.VerificationURL != "https://login.example/device" {
		t.Errorf("status prompt = %+v", st.Login)
	}
	h.auth.approve <- struct{}{}
	acct, err := h.c.WaitLogin(ctx)
	if err != nil || acct.Username != alice.Username {
		t.Fatalf("WaitLogin = %+v, %v", acct, err)
	}

	st = h.waitFor("Finance auto-mounted", mounted("Finance"))
	if st.Licence.State != apitype.LicenceValid || st.Account == nil {
		t.Errorf("licence %v account %v, want valid and alice", st.Licence, st.Account)
	}
	var names []string
	for _, d := range st.Drives {
		names = append(names, d.Name+"/"+string(d.Source))
	}
	want := "Finance/assigned,OneDrive/discovered,Marketing/discovered"
	if got := strings.Join(names, ","); got != want {
		t.Errorf("drives = %s, want %s (Finance's library once, as the assignment)", got, want)
	}
	fin := driveByName(st, "Finance")
	if wantMP := filepath.Join(h.cfg.MountRoot, "Finance"); fin.Mountpoint != wantMP {
		t.Errorf("Finance mountpoint = %q, want %q", fin.Mountpoint, wantMP)
	}
	spec := h.mnt.get(fin.Mountpoint).spec
	if spec.Drive.ID != financeLb.ID || len(spec.CacheKey) != 32 {
		t.Errorf("mount spec = %+v, want Finance's drive and a 32-byte cache key", spec)
	}
	if driveByName(st, "OneDrive").State != apitype.DriveUnmounted {
		t.Errorf("OneDrive was mounted without being asked")
	}

	// Mount OneDrive by name at a chosen place, see a transfer, unmount.
	mp := filepath.Join(t.TempDir(), "od")
	d, err := h.c.Mount(ctx, "onedrive", mp)
	if err != nil || d.State != apitype.DriveMounted || d.Mountpoint != mp {
		t.Fatalf("Mount OneDrive = %+v, %v", d, err)
	}
	fm := h.mnt.get(mp)
	fm.mu.Lock()
	fm.stats.Transfers = []apitype.Transfer{{ID: "1", Path: "/Documents/big.bin", Direction: apitype.Upload, Done: 50, Total: 100, State: "active"}}
	fm.mu.Unlock()
	st = h.waitFor("the upload in the status", func(st apitype.Status) bool { return len(st.Transfers) == 1 })
	if tr := st.Transfers[0]; tr.Drive != oneDrive.ID || tr.Done != 50 {
		t.Errorf("transfer = %+v", tr)
	}
	if err := h.c.PauseUploads(ctx); err != nil {
		t.Fatal(err)
	}
	fm.mu.Lock()
	paused := fm.paused
	fm.mu.Unlock()
	if !paused {
		t.Errorf("PauseUploads did not reach the mount")
	}
	if err := h.c.Pin(ctx, "OneDrive", "Documents"); err != nil {
		t.Fatal(err)
	}
	if s, _ := h.c.Settings(ctx); len(s.Pins) != 1 || s.Pins[0].Path != "/Documents" {
		t.Errorf("pins = %+v, want /Documents", s.Pins)
	}
	if _, err := h.c.Unmount(ctx, mp); err != nil {
		t.Fatalf("Unmount by mountpoint: %v", err)
	}
	if fm.unmount != 1 {
		t.Errorf("mount unmounted %d times, want 1", fm.unmount)
	}

	// Sign out: everything unmounted, lease forgotten.
	if err := h.c.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	if h.mnt.get(fin.Mountpoint).unmount != 1 {
		t.Errorf("Finance not unmounted at sign-out")
	}
	if _, err := os.Stat(filepath.Join(h.cfg.StateDir, "lease.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lease kept after sign-out: %v", err)
	}
	if _, err := h.c.WhoAmI(ctx); localclient.Code(err) != apitype.CodeNotSignedIn {
		t.Errorf("WhoAmI after sign-out = %v, want not_signed_in", err)
	}
}

func TestBadInputKeepsRunning(t *testing.T) {
	h := start(t, setup{auth: newFakeAuth().signedIn()})
	ctx := context.Background()
	h.waitFor("Finance auto-mounted", mounted("Finance"))

	notEmpty := t.TempDir()
	os.WriteFile(filepath.Join(notEmpty, "file"), []byte("x"), 0o600)
	aFile := filepath.Join(t.TempDir(), "f")
	os.WriteFile(aFile, nil, 0o600)
	finMP := filepath.Join(h.cfg.MountRoot, "Finance")

	tests := []struct {
		name, drive, mp, code string
	}{
		{"unknown drive", "Payroll", "", apitype.CodeUnknownDrive},
		{"mountpoint not empty", "OneDrive", notEmpty, apitype.CodeMountpointNotEmpty},
		{"mountpoint is a file", "OneDrive", aFile, apitype.CodeMountpointNotEmpty},
		{"mountpoint used by another drive", "OneDrive", finMP, apitype.CodeMountpointBusy},
		{"already mounted elsewhere", "Finance", t.TempDir(), apitype.CodeAlreadyMounted},
	}
	if runtime.GOOS != "windows" {
		tests = append(tests, struct{ name, drive, mp, code string }{"drive letter on unix", "OneDrive", "X:", apitype.CodeBadRequest})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.c.Mount(ctx, tt.drive, tt.mp)
			wantCode(t, "Mount("+tt.drive+", "+tt.mp+")", err, tt.code)
		})
	}
	if _, err := h.c.Unmount(ctx, "Marketing"); localclient.Code(err) != apitype.CodeNotMounted {
		t.Errorf("Unmount of an unmounted drive = %v, want not_mounted", err)
	}
	// Still alive and serving.
	if st, err := h.c.Status(ctx); err != nil || driveByName(st, "Finance").State != apitype.DriveMounted {
		t.Errorf("Status after bad input = %v", err)
	}
}

// TestMountDriverMissing: a mount that fails for want of WinFsp (or
// libfuse) leaves the agent running and says so with a code the tray acts
// on, in the drive's state, the status's problems and the Mount answer.
func TestMountDriverMissing(t *testing.T) {
	h := start(t, setup{auth: newFakeAuth().signedIn(), mountErr: fusefs.ErrNoFUSE})
	ctx := context.Background()
	st := h.waitFor("Finance's auto-mount failed", func(st apitype.Status) bool {
		d := driveByName(st, "Finance")
		return d != nil && d.State == apitype.DriveError
	})
	fin := driveByName(st, "Finance")
	d := mountdriver.For(runtime.GOOS)
	if fin.Error == nil || fin.Error.Code != apitype.CodeMountDriverMissing ||
		!strings.HasPrefix(fin.Error.Message, d.Missing+": ") || fin.Error.URL != d.URL || fin.Error.Action == "" {
		t.Errorf("Finance's problem = %+v, want %s starting %q with an action and URL %q", fin.Error, apitype.CodeMountDriverMissing, d.Missing+": ", d.URL)
	}
	if !slices.ContainsFunc(st.Errors, func(p apitype.Problem) bool { return p.Code == apitype.CodeMountDriverMissing }) {
		t.Errorf("status problems = %+v, want %s among them", st.Errors, apitype.CodeMountDriverMissing)
	}
	_, err := h.c.Mount(ctx, "OneDrive", "")
	wantCode(t, "Mount(OneDrive)", err, apitype.CodeMountDriverMissing)
	if _, err := h.c.Status(ctx); err != nil {
		t.Errorf("Status after the failed mounts = %v; the agent must keep running", err)
	}
}

func TestServiceDownUsesStoredLease(t *testing.T) {
	svc := newLeaseService(t)
	stateDir := filepath.Join(t.TempDir(), "state")
	h := start(t, setup{auth: newFakeAuth().signedIn(), svc: svc, stateDir: stateDir})
	h.waitFor("Finance mounted with a fresh lease", mounted("Finance"))
	h.stop()

	// The service goes away; a new agent starts with the stored lease and
	// the drives it resolved before, even with Graph unreachable too.
	svc.srv.Close()
	h2 := start(t, setup{auth: newFakeAuth().signedIn(), svc: svc, stateDir: stateDir, offline: true})
	st := h2.waitFor("Finance mounted on the stored lease", func(st apitype.Status) bool {
		return st.Licence.State == apitype.LicenceCached && mounted("Finance")(st)
	})
	if !strings.Contains(st.Licence.Message, "stored licence") {
		t.Errorf("cached licence message = %q", st.Licence.Message)
	}

	// A week later the lease has expired: a clear refusal to mount.
	h2.clock.advance(8 * 24 * time.Hour)
	h2.a.Refresh()
	h2.waitFor("licence expired", func(st apitype.Status) bool { return st.Licence.State == apitype.LicenceExpired })
	_, err := h2.c.Mount(context.Background(), "OneDrive", "")
	wantCode(t, "Mount with an expired lease", err, apitype.CodeLicenceExpired)
}

func TestTamperedStoredLeaseRejected(t *testing.T) {
	svc := newLeaseService(t)
	stateDir := filepath.Join(t.TempDir(), "state")
	h := start(t, setup{auth: newFakeAuth().signedIn(), svc: svc, stateDir: stateDir})
	h.waitFor("Finance mounted", mounted("Finance"))
	h.stop()

	// Someone edits the stored mapping set to point Finance elsewhere.
	path := filepath.Join(stateDir, "lease.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data = []byte(strings.Replace(string(data), "sites/Finance", "sites/Evil", 1))
	os.WriteFile(path, data, 0o600)
	svc.srv.Close()

	h2 := start(t, setup{auth: newFakeAuth().signedIn(), svc: svc, stateDir: stateDir})
	st := h2.waitFor("lease rejected", func(st apitype.Status) bool { return st.Licence.State == apitype.LicenceRefused })
	found := false
	for _, p := range st.Errors {
		found = found || p.Code == apitype.CodeLeaseInvalid
	}
	if !found {
		t.Errorf("status errors %+v lack lease_invalid", st.Errors)
	}
	if len(h2.mnt.specs) != 0 {
		t.Errorf("mounted %d drives on a tampered lease, want 0", len(h2.mnt.specs))
	}
}

func TestLicenceRefused(t *testing.T) {
	svc := newLeaseService(t)
	svc.refuse = apitype.ServiceCodeSeatsExhausted
	h := start(t, setup{auth: newFakeAuth().signedIn(), svc: svc})
	st := h.waitFor("licence refused", func(st apitype.Status) bool { return st.Licence.State == apitype.LicenceRefused })
	if !strings.Contains(st.Licence.Message, "every Mapdrive seat") {
		t.Errorf("licence message = %q, want the reason", st.Licence.Message)
	}
	_, err := h.c.Mount(context.Background(), "Payroll", "")
	wantCode(t, "Mount of an unknown drive while refused", err, apitype.CodeUnknownDrive)
}

func TestSignInExpired(t *testing.T) {
	auth := newFakeAuth().signedIn()
	auth.expired = true
	h := start(t, setup{auth: auth})
	h.waitFor("refreshed", func(st apitype.Status) bool { return st.SignIn == apitype.SignInExpired && len(st.Errors) > 0 })
	st, _ := h.c.Status(context.Background())
	if st.Errors[0].Code != apitype.CodeSignInExpired || !strings.Contains(st.Errors[0].Action, "mapdrive login") {
		t.Errorf("errors = %+v, want sign_in_expired telling to run mapdrive login", st.Errors)
	}
}

func TestNotConfigured(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "agent.sock")
	ln, err := ipc.Listen(sock, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := New(Options{Listener: ln, Config: config.Config{UserFile: "/home/u/.config/mapdrive/config.toml"}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() { cancel(); <-done }()
	c, _ := localclient.New(sock)
	_, err = c.Login(context.Background(), true)
	wantCode(t, "Login unconfigured", err, apitype.CodeNotSignedIn)
	if !strings.Contains(err.Error(), "client_id") {
		t.Errorf("unconfigured error %q does not name client_id", err)
	}
}

// agentGoroutines returns the stacks of goroutines still running agent or
// local API code.
func agentGoroutines() []string {
	buf := make([]byte, 4<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "internal/agent.(*Agent)") || strings.Contains(g, "internal/localapi.") {
			out = append(out, g)
		}
	}
	return out
}

// checkNoLeaks fails the test if agent goroutines outlive Run.
func checkNoLeaks(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		left := agentGoroutines()
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%d agent goroutines left after Run returned:\n%s", len(left), strings.Join(left, "\n\n"))
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPendingLoginEndsWithAgent: a sign-in nobody finishes does not keep
// a goroutine alive after the agent stops (checkNoLeaks in stop).
func TestPendingLoginEndsWithAgent(t *testing.T) {
	h := start(t, setup{})
	if _, err := h.c.Login(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	if len(agentGoroutines()) == 0 {
		t.Fatal("no agent goroutines seen while running; the leak check would see nothing")
	}
	h.stop()
}

func TestOfflineGraph(t *testing.T) {
	h := start(t, setup{auth: newFakeAuth().signedIn(), offline: true})
	st := h.waitFor("offline reported", func(st apitype.Status) bool { return len(st.Errors) > 0 })
	if st.Online || st.Errors[0].Code != apitype.CodeOffline || !strings.Contains(st.Errors[0].Action, "network") {
		t.Errorf("status online=%v errors=%+v, want offline with advice", st.Online, st.Errors)
	}
	// Finance was never resolved: a clear error rather than a mount.
	if d := driveByName(st, "Finance"); d == nil || d.State != apitype.DriveError || d.Error == nil || d.Error.Code != apitype.CodeOffline {
		t.Errorf("Finance = %+v, want an offline error", d)
	}
	_, err := h.c.Mount(context.Background(), "Finance", "")
	wantCode(t, "Mount of an unresolved drive", err, apitype.CodeUnknownDrive)
	// Back online: the problem clears and Finance mounts.
	h.dir.mu.Lock()
	h.dir.offline = false
	h.dir.mu.Unlock()
	h.a.Refresh()
	st = h.waitFor("back online", mounted("Finance"))
	for _, p := range st.Errors {
		if p.Code == apitype.CodeOffline {
			t.Errorf("offline problem kept after reconnecting: %+v", p)
		}
	}
}

func logger(w io.Writer) *slog.Logger {
	if w == nil {
		return nil
	}
	return NewLogger(w, "debug")
}

// TestLogsCarryNoUPN signs in, mounts and fails in a few ways with debug
// logging on, then looks for alice's UPN in the log.
func TestLogsCarryNoUPN(t *testing.T) {
	var logs syncBuffer
	h := start(t, setup{logs: &logs})
	ctx := context.Background()
	if _, err := h.c.Login(ctx, true); err != nil {
		t.Fatal(err)
	}
	h.auth.approve <- struct{}{}
	if _, err := h.c.WaitLogin(ctx); err != nil {
		t.Fatal(err)
	}
	h.waitFor("Finance mounted", mounted("Finance"))
	h.c.Mount(ctx, "alice@contoso.com", "")
	h.c.Unmount(ctx, "Finance")
	h.stop()
	out := logs.String()
	if !strings.Contains(out, "signed in") {
		t.Fatalf("log lacks the sign-in line; is logging wired?\n%s", out)
	}
	if strings.Contains(out, alice.Username) {
		t.Errorf("the log holds alice's UPN:\n%s", out)
	}
}

func TestAssignedDriveNotFound(t *testing.T) {
	svc := newLeaseService(t)
	svc.mappings = append(svc.mappings, apitype.Mapping{ID: "map-payroll", DisplayName: "Payroll", Position: 1,
		Target: apitype.Target{Kind: apitype.TargetSharePoint, SiteURL: "https://contoso.sharepoint.com/sites/Payroll"}})
	h := start(t, setup{auth: newFakeAuth().signedIn(), svc: svc})
	st := h.waitFor("Finance mounted", mounted("Finance"))
	p := driveByName(st, "Payroll")
	if p == nil || p.State != apitype.DriveError || p.Error == nil || p.Error.Code != apitype.CodeUnknownDrive ||
		!strings.Contains(p.Error.Action, "administrator") {
		t.Fatalf("Payroll = %+v, want an unknown_drive error telling to ask the administrator", p)
	}
	_, err := h.c.Mount(context.Background(), "Payroll", "")
	wantCode(t, "Mount of an assigned drive that does not exist", err, apitype.CodeUnknownDrive)
}

// TestSignInWakesUploadQueues: a new sign-in makes the pending uploads of
// every mounted drive due at once; their backoff grew while the sign-in
// was lost (e2e: TestEndToEndRevokedSessionKeepsWritesUntilSignIn).
func TestSignInWakesUploadQueues(t *testing.T) {
	h := start(t, setup{auth: newFakeAuth().signedIn()})
	ctx := context.Background()
	st := h.waitFor("Finance auto-mounted", mounted("Finance"))
	m := h.mnt.get(driveByName(st, "Finance").Mountpoint)
	wakes := func() int {
		m.mu.Lock()
		defer m.mu.Unlock()
		return m.wakes
	}
	if n := wakes(); n != 0 {
		t.Fatalf("WakeUploads called %d times before any new sign-in", n)
	}
	if _, err := h.c.Login(ctx, true); err != nil {
		t.Fatalf("Login: %v", err)
	}
	h.auth.approve <- struct{}{}
	if _, err := h.c.WaitLogin(ctx); err != nil {
		t.Fatalf("WaitLogin: %v", err)
	}
	for deadline := time.Now().Add(10 * time.Second); wakes() == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("Finance's uploads were not woken after the new sign-in")
		}
	}
}
