package distcheck

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mapdrive/mapdrive/shared/apitype"
	"github.com/mapdrive/mapdrive/shared/lease"
	"github.com/mapdrive/mapdrive/shared/m365sim"
	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
)

// agentExe is the installed CLI and agent.
const agentExe = installDir + `\mapdrive.exe`

// TestWindowsAgentUnderWine installs the signed MSI silently with its
// properties, as Intune would, and runs the installed Windows agent under
// wine against m365sim and the real mapdrive-service: policy from
// HKLM\SOFTWARE\Policies\Mapdrive, device-code sign-in, tokens in
// Credential Manager, the CLI over the named pipe, and a mount that fails
// for want of WinFsp without taking the agent down. It also runs the
// Windows-only tests of client/internal/ipc (the pipe's DACL) under wine.
//
// What wine cannot show is said in the test's output: the tray (a GUI
// program; the agent is started with the tray's command line instead),
// WinFsp (no kernel driver), and another user (one SID per prefix).
func TestWindowsAgentUnderWine(t *testing.T) {
	t.Parallel() // with TestMSIUnderWine and TestDebPackage; its own prefix
	d := buildDist(t)
	wineBin, err := FindWine()
	if err != nil {
		requireTools(t, "wine64") // fails under CI, skips elsewhere
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	w := &Wine{Binary: wineBin, Prefix: filepath.Join(tmpBase, "wine-agent")}
	initDone := make(chan error, 1)
	go func() { initDone <- w.Init(ctx) }()
	t.Cleanup(func() { w.Shutdown(context.Background()) })

	// While the prefix boots: the simulator, the service from the release
	// tarball, and the Windows build of the ipc tests.
	sim := m365sim.StartForTest(t)
	svcURL, bundle, leaseKey := startDistService(t, ctx, d, sim)
	unitTests := buildWindowsTests(t, ctx, d.root, "client", "./internal/ipc", "./internal/keyring", "./internal/config")
	if err := <-initDone; err != nil {
		t.Fatal(err)
	}
	addGoRuntimeShim(t, ctx, w)
	t.Logf("prefix, simulator, service and Windows test binaries ready in %v", time.Since(start).Round(time.Millisecond))

	// The Windows-only unit tests: the pipe's DACL and Credential Manager,
	// with the OS-neutral ones they build on (not the Linux keyring's).
	const windowsTests = "^(TestPipe|TestVerifyServerSID|TestDialRefusesForeignSID|TestCredentialManager|TestStore|TestRegistryPolicy)"
	for _, exe := range unitTests {
		t.Run(strings.TrimSuffix(filepath.Base(exe), ".exe"), func(t *testing.T) {
			code, out, err := w.Run(ctx, exe, "-test.v", "-test.timeout", "60s", "-test.run", windowsTests)
			if err != nil || code != 0 {
				t.Fatalf("%s under wine: exit %d, %v\n%s", filepath.Base(exe), code, err, out)
			}
			for _, l := range strings.Split(out, "\n") {
				if strings.HasPrefix(l, "--- ") || strings.Contains(l, "under wine") || strings.Contains(l, "DACL") {
					t.Log(strings.TrimSpace(l))
				}
			}
		})
	}

	// 1. The MSI, installed silently with its properties, as Intune would,
	// LEASEKEY being the key `mapdrive-service lease-key` printed on the
	// service's host (docs/deploy-intune.md).
	contoso := demoTenant(t)
	msiLog := filepath.Join(t.TempDir(), "install.log")
	code, out, err := w.Run(ctx, "msiexec", "/i", WinPath(d.msi), "/qn", "/l*v", WinPath(msiLog),
		"SERVICEURL="+svcURL, "SERVICESCOPE="+directory.DemoServiceAppURI+"/"+directory.DemoServiceScope,
		"CLIENTID="+directory.DemoClientID, "AUTHORITY="+sim.AuthorityURL("organizations"), "TENANTID="+contoso,
		"CACHEMAXGB=7", "LEASEKEY="+leaseKey)
	if err != nil || code != 0 {
		log, _ := os.ReadFile(msiLog)
		t.Fatalf("msiexec /i: exit %d, %v\n%s\n%s", code, err, out, lastLines(string(log), 30))
	}
	if pol, _, err := w.RegQuery(ctx, policyKey); err != nil || pol["service_url"].Data != svcURL || pol["client_id"].Data != directory.DemoClientID ||
		pol["lease_key"] != (RegValue{"REG_SZ", leaseKey}) {
		t.Fatalf("%s after install = %v, %v", policyKey, pol, err)
	}
	// Settings the MSI has no property for come from the user's file,
	// %AppData%\mapdrive\config.toml (config.DefaultUserFile on Windows).
	appData := winEnv(t, ctx, w, "APPDATA")
	userFile, err := w.UnixPath(appData + `\mapdrive\config.toml`)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(userFile), 0o700); err != nil {
		t.Fatal(err)
	}
	toml := fmt.Sprintf("graph_url = %q\nca_file = '%s'\nlog_level = \"debug\"\n", sim.GraphURL(), WinPath(bundle))
	if err := os.WriteFile(userFile, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}

	// 2. The agent, started as the tray starts it at login.
	t.Log("the tray (mapdrive-tray.exe --at-login) is a GUI program and wine here has no display: " +
		"the agent is started with the tray's own command line, `mapdrive.exe agent` (client/internal/tray/trayapp/agentstart.go)")
	agentLog := filepath.Join(t.TempDir(), "agent.log")
	agent := startWineAgent(t, ctx, w, agentLog)
	st := waitAgentStatus(t, ctx, w, agent, "the agent answers on its named pipe", func(apitype.Status) bool { return true })
	if st.SignIn == apitype.SignedIn {
		t.Fatalf("a fresh prefix starts signed in: %+v", st.Account)
	}
	if st.Settings.CacheMaxGB != 7 {
		t.Errorf("status settings cache_max_gb = %v, want 7 from %s (CACHEMAXGB=7)", st.Settings.CacheMaxGB, policyKey)
	}

	// 3. Device-code sign-in over TLS, approved through the simulator.
	acct := wineLogin(t, ctx, w, sim, "alice@contoso.com")
	if acct.Username != "alice@contoso.com" || acct.TenantID != contoso {
		t.Errorf("signed in as %+v, want alice@contoso.com in tenant %s", acct, contoso)
	}

	// 4. status and drives over the pipe: the account, the lease from the
	// service (service_url is set only by the policy), and the assigned
	// mapping with its letter. 5. Its mount fails for want of WinFsp.
	st = waitAgentStatus(t, ctx, w, agent, "licence valid and Finance tried", func(st apitype.Status) bool {
		f := findDrive(st.Drives, "Finance")
		return st.Licence.State != apitype.LicenceUnknown && f != nil && f.State == apitype.DriveError
	})
	if st.Account == nil || st.Account.Username != "alice@contoso.com" {
		t.Errorf("status account = %+v", st.Account)
	}
	if st.Licence.State != apitype.LicenceValid {
		t.Errorf("licence = %+v, want valid from %s", st.Licence, svcURL)
	}
	// Valid with the pinned key, not trust on first use: nothing was
	// pinned in the user's state folder, and the agent never said so.
	checkNoFirstUsePin(t, ctx, w, agentLog)
	checkNoWinFsp(t, findDrive(st.Drives, "Finance"))
	var list apitype.DriveList
	cliJSON(t, ctx, w, &list, "drives", "--json")
	if f := findDrive(list.Drives, "Finance"); f == nil || f.Source != apitype.SourceAssigned || !strings.EqualFold(f.Mountpoint, "F:") {
		t.Errorf("drives --json Finance = %+v, want assigned at F:", f)
	}
	code, stdout, stderr, err := w.Output(ctx, agentExe, "mount", "Finance")
	if err != nil || code == 0 || !strings.Contains(stdout+stderr, "WinFsp is not installed: ") {
		t.Errorf("mapdrive.exe mount Finance: exit %d, %v, output %q; want a failure saying WinFsp is not installed", code, err, stdout+stderr)
	} else {
		t.Logf("mapdrive.exe mount Finance without WinFsp: exit %d: %s", code, strings.TrimSpace(lastLines(stdout+stderr, 2)))
	}
	st = waitAgentStatus(t, ctx, w, agent, "the agent still serves after the failed mount", func(apitype.Status) bool { return true })
	checkNoWinFsp(t, findDrive(st.Drives, "Finance"))
	t.Log("WinFsp's kernel driver does not run under wine: the mount itself, drive letters in Explorer, case folding and " +
		"attributes through WinFsp are left to a real Windows machine (docs/windows.md)")

	// 3 (continued). The tokens are in Credential Manager, never in a file:
	// wine keeps credentials in the registry under HKCU\Software\Wine\
	// Credential Manager, the secret itself encrypted.
	code, out, err = w.Run(ctx, "reg", "query", `HKCU\Software\Wine\Credential Manager`, "/s")
	if err != nil || code != 0 || !strings.Contains(out, "Mapdrive") {
		t.Errorf("no Mapdrive entry in wine's Credential Manager (exit %d, %v):\n%s", code, err, lastLines(out, 20))
	} else {
		t.Logf("Credential Manager holds %d Mapdrive entries (go-keyring wincred, CredWriteW)", strings.Count(out, "Generic: Mapdrive"))
	}
	// The user's folders hold the config file, the agent's state and cache.
	checkNoTokenFiles(t, w.Prefix, filepath.Join(w.Prefix, "drive_c", "users"))

	// The tokens are read back from Credential Manager by a new agent.
	stopWineAgent(t, agent)
	agent = startWineAgent(t, ctx, w, agentLog)
	st = waitAgentStatus(t, ctx, w, agent, "signed in again from Credential Manager", func(st apitype.Status) bool {
		return st.SignIn == apitype.SignedIn && st.Licence.State != apitype.LicenceUnknown
	})
	if st.Account == nil || st.Account.Username != "alice@contoso.com" || st.Licence.State != apitype.LicenceValid {
		t.Errorf("after a restart: account %+v, licence %+v; want alice, valid", st.Account, st.Licence)
	}
	stopWineAgent(t, agent)

	// 6. Another key in the policy (a mistyped LEASEKEY, or a service
	// whose key changed): the service's lease is refused with a message
	// naming both key ids.
	other, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	if code, out, err := w.Run(ctx, "reg", "add", policyKey, "/v", "lease_key", "/t", "REG_SZ", "/d", lease.EncodePublicKey(other), "/f"); err != nil || code != 0 {
		t.Fatalf("reg add %s lease_key: exit %d, %v\n%s", policyKey, code, err, out)
	}
	agent = startWineAgent(t, ctx, w, agentLog)
	st = waitAgentStatus(t, ctx, w, agent, "the lease refused under another pinned key", func(st apitype.Status) bool {
		return st.Licence.State == apitype.LicenceRefused
	})
	servedKey, err := lease.ParsePublicKey(leaseKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"the lease names key " + lease.KeyID(servedKey), "the pinned lease_key is " + lease.KeyID(other)} {
		if !strings.Contains(st.Licence.Message, want) {
			t.Errorf("licence refused with %q; want it to say %q", st.Licence.Message, want)
		}
	}
	t.Logf("with another lease_key in %s: licence %s: %s", policyKey, st.Licence.State, st.Licence.Message)
	checkNoFirstUsePin(t, ctx, w, agentLog)
	stopWineAgent(t, agent)
	if log, _ := os.ReadFile(agentLog); bytes.Contains(log, []byte("panic")) || bytes.Contains(log, []byte("goroutine ")) {
		t.Errorf("the agent's log shows a panic:\n%s", lastLines(string(log), 40))
	}
	t.Logf("Windows agent under wine: %v", time.Since(start).Round(time.Millisecond))
}

// checkNoFirstUsePin fails if the agent pinned the service's lease key on
// first use (svcclient's lease-key.pub in the user's state folder, and its
// log line), which it does only when no lease_key is configured.
func checkNoFirstUsePin(t *testing.T, ctx context.Context, w *Wine, agentLog string) {
	t.Helper()
	state, err := w.UnixPath(winEnv(t, ctx, w, "LOCALAPPDATA") + `\Mapdrive\state\lease-key.pub`)
	if err != nil {
		t.Fatal(err)
	}
	if fileExists(state) {
		t.Errorf("%s exists: the agent trusted the service's key on first use instead of the policy's lease_key", state)
	}
	if log, _ := os.ReadFile(agentLog); bytes.Contains(log, []byte("pinned the service's lease key")) {
		t.Error("the agent's log says it pinned the service's lease key on first use; the policy's lease_key should be used")
	}
}

// demoTenant returns the id of the simulator's demo tenant contoso.
func demoTenant(t *testing.T) string {
	t.Helper()
	dir, err := directory.New(directory.DemoSeed())
	if err != nil {
		t.Fatal(err)
	}
	return dir.Tenant("contoso").ID
}

// winEnv returns a Windows environment variable of the prefix's user.
func winEnv(t *testing.T, ctx context.Context, w *Wine, name string) string {
	t.Helper()
	code, out, err := w.Run(ctx, "cmd", "/c", "echo", "%"+name+"%")
	v := strings.TrimSpace(out)
	if err != nil || code != 0 || v == "" || strings.Contains(v, "%") {
		t.Fatalf("%%%s%% in the prefix: exit %d, %v, %q", name, code, err, out)
	}
	return v
}

// wineAgent is a background `mapdrive.exe agent`.
type wineAgent struct {
	cmd     *exec.Cmd
	logPath string
	exited  chan error // receives Wait's result once
	mu      sync.Mutex
	err     error
	done    bool
}

func startWineAgent(t *testing.T, ctx context.Context, w *Wine, logPath string) *wineAgent {
	t.Helper()
	before, _ := os.ReadFile(logPath)
	started := bytes.Count(before, []byte("agent started"))
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logf.Close() })
	cmd, err := w.Start(ctx, logf, agentExe, "agent")
	if err != nil {
		t.Fatal(err)
	}
	a := &wineAgent{cmd: cmd, exited: make(chan error, 1), logPath: logPath}
	go func() {
		err := cmd.Wait()
		a.mu.Lock()
		a.err, a.done = err, true
		a.mu.Unlock()
		a.exited <- err
	}()
	t.Cleanup(func() { stopWineAgent(t, a) })
	// Under wine a client that dials while the agent creates its pipe can
	// take go-winio's placeholder instance before the agent closes it to
	// clients (ipc.usePlaceholder), and then waits forever; the tray's
	// poll has the same window there. Windows 10 has none. So the first
	// dial waits for the agent's "agent started", logged once it listens.
	deadline := time.Now().Add(time.Minute)
	for {
		b, _ := os.ReadFile(logPath)
		if bytes.Count(b, []byte("agent started")) > started {
			return a
		}
		if done, err := a.exitedErr(); done {
			t.Fatalf("the agent exited at start: %v\n%s", err, lastLines(string(b), 20))
		}
		if time.Now().After(deadline) {
			t.Fatalf("the agent did not log \"agent started\" within a minute:\n%s", lastLines(string(b), 20))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// exitedErr reports whether the agent has exited, and how.
func (a *wineAgent) exitedErr() (bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.done, a.err
}

// stopWineAgent kills the agent's process (the Windows process wine runs
// as this Linux process) and waits for it.
func stopWineAgent(t *testing.T, a *wineAgent) {
	if done, _ := a.exitedErr(); done {
		return
	}
	a.cmd.Process.Kill()
	select {
	case <-a.exited:
	case <-time.After(30 * time.Second):
		t.Error("the agent did not exit within 30s of being killed")
	}
}

// waitAgentStatus polls `mapdrive.exe status --json` until cond holds,
// failing if the agent exits or a minute passes.
func waitAgentStatus(t *testing.T, ctx context.Context, w *Wine, a *wineAgent, what string, cond func(apitype.Status) bool) apitype.Status {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	var last string
	for {
		if done, err := a.exitedErr(); done {
			t.Fatalf("waiting for %s: the agent exited: %v", what, err)
		}
		code, stdout, stderr, err := w.Output(ctx, agentExe, "status", "--json")
		if err != nil {
			t.Fatal(err)
		}
		if code == 0 {
			var st apitype.Status
			if err := json.Unmarshal([]byte(stdout), &st); err != nil {
				t.Fatalf("status --json: %v\n%s", err, stdout)
			}
			if cond(st) {
				return st
			}
			last = stdout
		} else {
			last = fmt.Sprintf("exit %d: %s%s", code, stdout, stderr)
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(a.logPath)
			t.Fatalf("no %s within a minute; last status: %s\nagent log:\n%s", what, lastLines(last, 40), lastLines(string(log), 40))
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// cliJSON runs a mapdrive.exe command that prints JSON into v.
func cliJSON(t *testing.T, ctx context.Context, w *Wine, v any, args ...string) {
	t.Helper()
	code, stdout, stderr, err := w.Output(ctx, append([]string{agentExe}, args...)...)
	if err != nil || code != 0 {
		t.Fatalf("mapdrive.exe %s: exit %d, %v\n%s%s", strings.Join(args, " "), code, err, stdout, stderr)
	}
	if err := json.Unmarshal([]byte(stdout), v); err != nil {
		t.Fatalf("mapdrive.exe %s: %v\n%s", strings.Join(args, " "), err, stdout)
	}
}

// wineLogin runs `mapdrive.exe login --device-code --json`, approves the
// code it prints through the simulator's admin API as upn, and returns the
// account the command ends with.
func wineLogin(t *testing.T, ctx context.Context, w *Wine, sim *m365sim.Sim, upn string) apitype.Account {
	t.Helper()
	var stderr bytes.Buffer
	cmd := w.command(ctx, agentExe, "login", "--device-code", "--json")
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	next := func(v any) {
		t.Helper()
		if !lines.Scan() {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("login --device-code --json ended early: %v\n%s", lines.Err(), stderr.String())
		}
		if err := json.Unmarshal(lines.Bytes(), v); err != nil {
			t.Fatalf("login --device-code --json line %q: %v", lines.Text(), err)
		}
	}
	var resp apitype.LoginResponse
	next(&resp)
	if resp.Prompt == nil || !resp.Prompt.DeviceCode || resp.Prompt.UserCode == "" {
		t.Fatalf("login prompt %+v, want a device code", resp)
	}
	if err := sim.Admin().ApproveDeviceCode(ctx, resp.Prompt.UserCode, upn); err != nil {
		t.Fatal(err)
	}
	var acct apitype.Account
	next(&acct)
	io.Copy(io.Discard, stdout)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("login --device-code: %v\n%s", err, stderr.String())
	}
	t.Logf("mapdrive.exe login --device-code: code approved through the simulator's admin API; signed in to %s", sim.BaseURL())
	return acct
}

func findDrive(drives []apitype.Drive, name string) *apitype.Drive {
	for i := range drives {
		if drives[i].Name == name {
			return &drives[i]
		}
	}
	return nil
}

// checkNoWinFsp checks that d failed to mount for want of WinFsp, and says so.
func checkNoWinFsp(t *testing.T, d *apitype.Drive) {
	t.Helper()
	if d == nil || d.State != apitype.DriveError || d.Error == nil || !strings.Contains(d.Error.Message, "WinFsp is not installed: ") {
		t.Errorf("Finance = %+v (error %+v), want state error saying WinFsp is not installed", d, errorOf(d))
		return
	}
	t.Logf("Finance at %s: state %s, %q", d.Mountpoint, d.State, d.Error.Message)
}

func errorOf(d *apitype.Drive) *apitype.Problem {
	if d == nil {
		return nil
	}
	return d.Error
}

// checkNoTokenFiles fails if any file under the prefix's registry files or
// dirs holds an MSAL token cache in clear ("RefreshToken" is the cache's
// section name; Credential Manager's secrets are encrypted by wine).
func checkNoTokenFiles(t *testing.T, prefix string, dirs ...string) {
	t.Helper()
	files := 0
	check := func(path string) {
		b, err := os.ReadFile(path)
		if err != nil {
			return
		}
		files++
		for _, marker := range []string{`"RefreshToken"`, `"refresh_token"`, `"AccessToken"`} {
			if bytes.Contains(b, []byte(marker)) {
				t.Errorf("%s holds %s: a token reached a file", path, marker)
			}
		}
	}
	for _, reg := range []string{"system.reg", "user.reg", "userdef.reg"} {
		check(filepath.Join(prefix, reg))
	}
	for _, dir := range dirs {
		filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
			if err == nil && e.Type().IsRegular() {
				check(path)
			}
			return nil
		})
	}
	t.Logf("no token cache in clear in %d files of the prefix (registry files and the user's folders)", files)
}

// startDistService runs the release's mapdrive-service (from its tarball)
// seeded with the demo tenant, against sim. It returns its URL, a CA
// bundle trusting both the simulator and the service, and its lease key
// as `mapdrive-service lease-key` prints it.
func startDistService(t *testing.T, ctx context.Context, d *distArtifacts, sim *m365sim.Sim) (url, caBundle, leaseKey string) {
	t.Helper()
	dir := t.TempDir()
	tarball := filepath.Join(d.dir, "mapdrive-service_"+d.version+"_linux_amd64.tar.gz")
	if out, err := exec.CommandContext(ctx, "tar", "-xzf", tarball, "-C", dir).CombinedOutput(); err != nil {
		t.Fatalf("unpack %s: %v: %s", tarball, err, out)
	}
	var bin string
	filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err == nil && e.Name() == "mapdrive-service" && e.Type().IsRegular() {
			bin = path
		}
		return nil
	})
	if bin == "" {
		t.Fatalf("%s holds no mapdrive-service", tarball)
	}
	data := filepath.Join(dir, "data")
	if out, err := exec.CommandContext(ctx, bin, "seed-demo", "--data-dir", data).CombinedOutput(); err != nil {
		t.Fatalf("mapdrive-service seed-demo: %v\n%s", err, out)
	}
	// The key an admin reads on the service's host for the MSI's LEASEKEY.
	out, err := Output(ctx, bin, "lease-key", "--data-dir", data)
	if err != nil {
		t.Fatalf("mapdrive-service lease-key: %v", err)
	}
	leaseKey = strings.TrimSpace(out)
	if _, err := lease.ParsePublicKey(leaseKey); err != nil {
		t.Fatalf("mapdrive-service lease-key printed %q: %v", out, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	var logs bytes.Buffer
	svc := exec.Command(bin, "serve", "--data-dir", data, "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--metrics-listen", "off",
		"--authority", sim.BaseURL(), "--authority-ca", sim.CAFile(), "--log-level", "warn")
	svc.Stdout, svc.Stderr = &logs, &logs
	if err := svc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		svc.Process.Kill()
		svc.Wait()
		if t.Failed() {
			t.Logf("mapdrive-service log:\n%s", lastLines(logs.String(), 30))
		}
	})
	base := fmt.Sprintf("https://localhost:%d", port)
	bundle := filepath.Join(dir, "ca-bundle.pem")
	deadline := time.Now().Add(time.Minute)
	for {
		simCA, _ := os.ReadFile(sim.CAFile())
		svcCA, err := os.ReadFile(filepath.Join(data, "ca.pem"))
		if err == nil {
			if err := os.WriteFile(bundle, append(append(simCA, '\n'), svcCA...), 0o644); err != nil {
				t.Fatal(err)
			}
			pool := x509.NewCertPool()
			pool.AppendCertsFromPEM(svcCA)
			hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
			if resp, err := hc.Get(base + "/healthz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return base, bundle, leaseKey
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("mapdrive-service did not become healthy on %s:\n%s", base, lastLines(logs.String(), 20))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// buildWindowsTests compiles the tests of pkgs (in module mod of the
// repository) for windows/amd64 and returns the .exe files. Those tests
// need Windows' APIs; wine runs them.
func buildWindowsTests(t *testing.T, ctx context.Context, root, mod string, pkgs ...string) []string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.CommandContext(ctx, "go", append([]string{"test", "-c", "-o", dir + "/"}, pkgs...)...)
	cmd.Dir = filepath.Join(root, mod)
	cmd.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("GOOS=windows go test -c %v: %v\n%s", pkgs, err, b)
	}
	var exes []string
	for _, p := range pkgs {
		exe := filepath.Join(dir, filepath.Base(p)+".test.exe")
		if !fileExists(exe) {
			t.Fatalf("go test -c wrote no %s", exe)
		}
		exes = append(exes, exe)
	}
	return exes
}
