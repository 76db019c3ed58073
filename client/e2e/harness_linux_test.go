//go:build linux

package e2e

// The harness: builds the three binaries once, and starts, stops and kills
// each process the system test needs.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mapdrive/mapdrive/client/localclient"
	"github.com/mapdrive/mapdrive/shared/apitype"
	"github.com/mapdrive/mapdrive/shared/hermetic"
	"github.com/mapdrive/mapdrive/shared/m365sim"
	"github.com/mapdrive/mapdrive/shared/testbin"
)

// bins holds the paths of the binaries TestMain built; buildErr is why
// they could not be built.
var (
	bins     = map[string]string{}
	buildErr error
)

func TestMain(m *testing.M) {
	// Every process the harness starts inherits this environment: a
	// shell's MAPDRIVE_* (demo/env.sh: the desktop app's client id, the
	// demo's service URL) must reach none of them.
	hermetic.Clear()
	var f testbin.Finder
	if !hermetic.InChild() {
		buildErr = build(&f)
	}
	code := m.Run()
	f.Close()
	os.Exit(code)
}

// build finds the prebuilt m365sim, mapdrive-service and mapdrive (make
// test builds them first; see shared/testbin), or has f build them.
func build(f *testbin.Finder) error {
	for _, name := range []string{"m365sim", "mapdrive-service", "mapdrive"} {
		p, err := f.Path(name)
		if err != nil {
			return err
		}
		bins[name] = p
	}
	return nil
}

// TestHermetic proves TestMain keeps a shell's MAPDRIVE_* away from the
// processes the harness starts.
func TestHermetic(t *testing.T) { hermetic.Check(t, nil) }

// require fails the test under CI, and skips it elsewhere, when a
// prerequisite is missing.
func require(t *testing.T, ok bool, what string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("prerequisite missing under CI: %s", what)
	}
	t.Skipf("prerequisite missing: %s", what)
}

func haveCmd(name string) bool {
	_, err := exec.LookPath(name)
	return err == nil
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// httpsClient trusts the CA bundles given (PEM files).
func httpsClient(t *testing.T, caFiles ...string) *http.Client {
	t.Helper()
	pool := x509.NewCertPool()
	for _, f := range caFiles {
		pem, err := os.ReadFile(f)
		if err != nil {
			t.Fatalf("read CA %s: %v", f, err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			t.Fatalf("no certificate in %s", f)
		}
	}
	return &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, ForceAttemptHTTP2: true,
	}}
}

// waitFor polls cond every 100 ms until it holds or timeout passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// proc is one background process of the test, with its output appended
// to a log file.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

func startProc(t *testing.T, name, logFile string, env []string, bin string, args ...string) *proc {
	t.Helper()
	lf, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr, cmd.Env = lf, lf, env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		lf.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		lf.Close()
		close(p.done)
	}()
	t.Cleanup(func() { p.kill() })
	return p
}

func (p *proc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM and waits up to 30 s, then kills.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	if !p.running() {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Errorf("%s ignored SIGTERM for 30 s; killing it", p.name)
		p.kill()
	}
}

// kill sends SIGKILL and waits for the process to go.
func (p *proc) kill() {
	if p.running() {
		p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
	}
}

// sim is a running m365sim process.
type sim struct {
	url, ca string
	admin   *m365sim.AdminClient
	hc      *http.Client
}

// startSim starts m365sim on the seed of id.
func startSim(t *testing.T, dir string, id *identities) *sim {
	t.Helper()
	addr := fmt.Sprintf("localhost:%d", freePort(t))
	data := filepath.Join(dir, "sim")
	args := []string{"--addr", addr, "--data", data, "--seed", id.seedArg, "--log-level", "warn"}
	env := os.Environ()
	id.seen.add("m365sim", append(args, env...)...)
	startProc(t, "m365sim", filepath.Join(dir, "m365sim.log"), env, bins["m365sim"], args...)
	s := &sim{url: "https://" + addr, ca: filepath.Join(data, "ca.pem")}
	waitFor(t, "m365sim's CA file", 30*time.Second, func() bool { _, err := os.Stat(s.ca); return err == nil })
	time.Sleep(100 * time.Millisecond) // the file may be being written
	s.hc = httpsClient(t, s.ca)
	s.admin = m365sim.NewAdminClient(s.url, s.hc)
	waitFor(t, "m365sim's admin API", 30*time.Second, func() bool {
		_, err := s.admin.Info(context.Background())
		return err == nil
	})
	return s
}

// token signs upn in by device code (approved through the admin API) and
// returns an access token for scope.
func (s *sim) token(t *testing.T, ctx context.Context, tenant, clientID, upn, scope string) string {
	t.Helper()
	post := func(path string, form url.Values, out any) error {
		resp, err := s.hc.PostForm(s.url+"/"+tenant+path, form)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: %d %s", path, resp.StatusCode, body)
		}
		return json.Unmarshal(body, out)
	}
	var dc struct {
		UserCode   string `json:"user_code"`
		DeviceCode string `json:"device_code"`
	}
	if err := post("/oauth2/v2.0/devicecode", url.Values{"client_id": {clientID}, "scope": {scope}}, &dc); err != nil {
		t.Fatalf("device code for %s: %v", scope, err)
	}
	if err := s.admin.ApproveDeviceCode(ctx, dc.UserCode, upn); err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := post("/oauth2/v2.0/token", url.Values{"client_id": {clientID}, "device_code": {dc.DeviceCode},
		"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}}, &tok); err != nil {
		t.Fatalf("redeem device code: %v", err)
	}
	return tok.AccessToken
}

// service is mapdrive-service on a fresh PostgreSQL database.
type service struct {
	bin, data, log, db, url, listen string
	metricsAddr                     string // the private metrics listener
	sim                             *sim
	id                              *identities
	p                               *proc
	hc                              *http.Client
	bundle                          string // CA bundle trusting the service and the simulator
}

// freshDatabase creates a database named for the test on the cluster of
// MAPDRIVE_TEST_PG_DSN and returns its DSN; it is dropped at cleanup.
func freshDatabase(t *testing.T, dsn string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("MAPDRIVE_TEST_PG_DSN: %v", err)
	}
	name := fmt.Sprintf("mapdrive_e2e_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6)
	psql := func(sql string) {
		t.Helper()
		out, err := exec.Command("psql", dsn, "-v", "ON_ERROR_STOP=1", "-qc", sql).CombinedOutput()
		if err != nil {
			t.Fatalf("psql %q: %v\n%s", sql, err, out)
		}
	}
	psql("CREATE DATABASE " + name)
	t.Cleanup(func() {
		exec.Command("psql", dsn, "-qc", "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)").Run()
	})
	u.Path = "/" + name
	return u.String()
}

func newService(t *testing.T, dir string, s *sim, db string, id *identities) *service {
	t.Helper()
	svc := &service{bin: bins["mapdrive-service"], data: filepath.Join(dir, "service"), log: filepath.Join(dir, "service.log"),
		db: db, listen: fmt.Sprintf("127.0.0.1:%d", freePort(t)), sim: s, id: id}
	svc.url = "https://localhost:" + strings.Split(svc.listen, ":")[1]
	svc.metricsAddr = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	return svc
}

// common are the settings every mapdrive-service command takes.
func (svc *service) common() []svcSetting {
	return []svcSetting{{"data-dir", svc.data}, {"db", svc.db}, {"allow-local-kek", "true"}, {"log-level", "debug"}}
}

// command returns the arguments and environment that run a
// mapdrive-service command with settings: as flags, or as MAPDRIVESVC_
// variables (a repeated setting comma-separated), as the run's identities
// say.
func (svc *service) command(args []string, settings []svcSetting) ([]string, []string) {
	env := os.Environ()
	if !svc.id.serviceEnv {
		for _, s := range settings {
			args = append(args, "--"+s.name+"="+s.value)
		}
		return args, env
	}
	var names []string
	values := map[string][]string{}
	for _, s := range settings {
		if _, ok := values[s.name]; !ok {
			names = append(names, s.name)
		}
		values[s.name] = append(values[s.name], s.value)
	}
	for _, n := range names {
		env = append(env, "MAPDRIVESVC_"+strings.ToUpper(strings.ReplaceAll(n, "-", "_"))+"="+strings.Join(values[n], ","))
	}
	return args, env
}

// cli runs a mapdrive-service operator command against the database.
func (svc *service) cli(t *testing.T, args ...string) string {
	t.Helper()
	args, env := svc.command(args, svc.common())
	svc.id.seen.add("mapdrive-service "+args[0], append(args, env...)...)
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(svc.bin, args...)
	cmd.Stdout, cmd.Stderr, cmd.Env = &stdout, &stderr, env
	err := cmd.Run()
	appendFile(t, svc.log, stderr.Bytes())
	if err != nil {
		t.Fatalf("mapdrive-service %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return stdout.String()
}

func appendFile(t *testing.T, name string, data []byte) {
	f, err := os.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.Write(data)
}

func (svc *service) start(t *testing.T) {
	t.Helper()
	// The simulator stands in for the cloud's endpoints (authority, its
	// CA, Graph); the identities are the run's.
	settings := append(svc.common(), []svcSetting{{"listen", svc.listen}, {"metrics-listen", svc.metricsAddr}, {"public-url", svc.url},
		{"authority", svc.sim.url}, {"graph-url", svc.sim.url + "/v1.0"}, {"authority-ca", svc.sim.ca}}...)
	args, env := svc.command([]string{"serve"}, append(settings, svc.id.serviceIDs...))
	svc.id.seen.add("mapdrive-service serve", append(args, env...)...)
	svc.p = startProc(t, "mapdrive-service", svc.log, env, svc.bin, args...)
	ca := filepath.Join(svc.data, "ca.pem")
	waitFor(t, "the service's CA file", 30*time.Second, func() bool { _, err := os.Stat(ca); return err == nil })
	time.Sleep(100 * time.Millisecond)
	if svc.bundle == "" {
		simCA, _ := os.ReadFile(svc.sim.ca)
		svcCA, _ := os.ReadFile(ca)
		svc.bundle = filepath.Join(filepath.Dir(svc.data), "ca-bundle.pem")
		if err := os.WriteFile(svc.bundle, append(append(simCA, '\n'), svcCA...), 0o600); err != nil {
			t.Fatal(err)
		}
		svc.hc = httpsClient(t, svc.bundle)
	}
	waitFor(t, "the service's /healthz", 60*time.Second, func() bool {
		if !svc.p.running() {
			t.Fatalf("mapdrive-service exited: %v (log %s)", svc.p.err, svc.log)
		}
		resp, err := svc.hc.Get(svc.url + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// call sends a JSON request to the service with a bearer token.
func (svc *service) call(t *testing.T, method, path, token string, in, out any) int {
	t.Helper()
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, svc.url+path, body)
	req.Header.Set("Authorization", "Bearer "+token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := svc.hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode/100 == 2 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, path, data, err)
		}
	}
	if resp.StatusCode/100 != 2 {
		t.Logf("%s %s: %d %s", method, path, resp.StatusCode, data)
	}
	return resp.StatusCode
}

// metrics returns the service's Prometheus exposition.
func (svc *service) metrics(t *testing.T) string {
	t.Helper()
	resp, err := http.Get("http://" + svc.metricsAddr + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// session is a private D-Bus session bus with an unlocked gnome-keyring,
// where the agent keeps the MSAL cache.
type session struct {
	bus string // DBUS_SESSION_BUS_ADDRESS
	env []string
}

func startSession(t *testing.T, dir string) *session {
	t.Helper()
	run := filepath.Join(dir, "run")
	if err := os.MkdirAll(run, 0o700); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(run, "bus")
	s := &session{bus: "unix:path=" + sock}
	startProc(t, "dbus-daemon", filepath.Join(dir, "dbus.log"), os.Environ(), "dbus-daemon",
		"--session", "--nofork", "--nopidfile", "--address="+s.bus)
	waitFor(t, "the session bus", 10*time.Second, func() bool { _, err := os.Stat(sock); return err == nil })
	s.env = append(os.Environ(), "DBUS_SESSION_BUS_ADDRESS="+s.bus, "XDG_RUNTIME_DIR="+run,
		"XDG_DATA_HOME="+filepath.Join(dir, "data"), "XDG_CONFIG_HOME="+filepath.Join(dir, "config"), "HOME="+filepath.Join(dir, "home"))
	// gnome-keyring-daemon --unlock reads the password on stdin.
	lf, err := os.Create(filepath.Join(dir, "keyring.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets")
	cmd.Env, cmd.Stdin, cmd.Stdout, cmd.Stderr = s.env, strings.NewReader("mapdrive-e2e"), lf, lf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start gnome-keyring-daemon: %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait(); lf.Close() })
	waitFor(t, "the keyring on the session bus", 10*time.Second, func() bool {
		c := exec.Command("dbus-send", "--session", "--print-reply", "--dest=org.freedesktop.DBus", "/",
			"org.freedesktop.DBus.GetNameOwner", "string:org.freedesktop.secrets")
		c.Env = s.env
		return c.Run() == nil
	})
	return s
}

// agent is alice's mapdrive agent process.
type agent struct {
	id        *identities
	env       []string
	log       string
	sock      string
	mountRoot string
	p         *proc
	c         *localclient.Client
}

// newAgent configures alice's agent with the settings of
// docs/client-settings.md, as the MAPDRIVE_ variables it documents: the
// run's identities, and the simulator in place of the cloud's endpoints.
func newAgent(t *testing.T, dir string, sess *session, s *sim, svc *service, poll time.Duration, id *identities) *agent {
	t.Helper()
	a := &agent{id: id, log: filepath.Join(dir, "agent.log"), sock: filepath.Join(dir, "run", "agent.sock"),
		mountRoot: filepath.Join(dir, "mnt")}
	for _, d := range []string{a.mountRoot, filepath.Join(dir, "home"), filepath.Join(dir, "config")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	env := []string{}
	for _, kv := range sess.env {
		if !strings.HasPrefix(kv, "MAPDRIVE_") {
			env = append(env, kv)
		}
	}
	if id.pinTenant != "" {
		env = append(env, "MAPDRIVE_TENANT_ID="+id.pinTenant)
	}
	a.env = append(env,
		"MAPDRIVE_AUTHORITY="+s.url+"/"+id.authTenant,
		"MAPDRIVE_CLIENT_ID="+id.desktopClientID,
		"MAPDRIVE_GRAPH_URL="+s.url+"/v1.0",
		"MAPDRIVE_SERVICE_URL="+svc.url,
		"MAPDRIVE_SERVICE_SCOPE="+id.serviceScope,
		"MAPDRIVE_CA_FILE="+svc.bundle,
		"MAPDRIVE_POLL_INTERVAL="+poll.String(),
		"MAPDRIVE_MOUNT_ROOT="+a.mountRoot,
		"MAPDRIVE_SOCKET="+a.sock,
		"MAPDRIVE_STATE_DIR="+filepath.Join(dir, "agent-state"),
		"MAPDRIVE_CACHE_DIR="+filepath.Join(dir, "agent-cache"),
		"MAPDRIVE_LOG_LEVEL=debug",
	)
	t.Cleanup(func() { unmountAll(a.mountRoot) })
	return a
}

func (a *agent) start(t *testing.T) {
	t.Helper()
	a.id.seen.add("mapdrive agent", append([]string{"agent"}, a.env...)...)
	a.p = startProc(t, "mapdrive agent", a.log, a.env, bins["mapdrive"], "agent")
	c, err := localclient.New(a.sock)
	if err != nil {
		t.Fatal(err)
	}
	a.c = c
	waitFor(t, "the agent's local API", 30*time.Second, func() bool {
		if !a.p.running() {
			t.Fatalf("the agent exited: %v (log %s)", a.p.err, a.log)
		}
		_, err := a.c.Status(context.Background())
		return err == nil
	})
}

// mapdrive runs the CLI against the agent.
func (a *agent) mapdrive(t *testing.T, args ...string) []byte {
	t.Helper()
	a.id.seen.add("mapdrive "+args[0], append(args, a.env...)...)
	cmd := exec.Command(bins["mapdrive"], args...)
	cmd.Env = a.env
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("mapdrive %s: %v\n%s%s", strings.Join(args, " "), err, out, ee.Stderr)
		}
		t.Fatalf("mapdrive %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// waitStatus polls the agent's status until pred holds.
func (a *agent) waitStatus(t *testing.T, what string, timeout time.Duration, pred func(apitype.Status) bool) apitype.Status {
	t.Helper()
	var st apitype.Status
	deadline := time.Now().Add(timeout)
	for {
		var err error
		st, err = a.c.Status(context.Background())
		if err == nil && pred(st) {
			return st
		}
		if time.Now().After(deadline) {
			b, _ := json.MarshalIndent(st, "", "  ")
			t.Fatalf("timed out after %v waiting for %s; last status (err %v):\n%s", timeout, what, err, b)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func driveNamed(st apitype.Status, name string) *apitype.Drive {
	for i := range st.Drives {
		if st.Drives[i].Name == name {
			return &st.Drives[i]
		}
	}
	return nil
}

// mounted reports whether path is a mount point (per /proc/self/mounts).
func mounted(path string) bool {
	f, err := os.Open("/proc/self/mounts")
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fs := strings.Fields(sc.Text()); len(fs) > 1 && fs[1] == path {
			return true
		}
	}
	return false
}

// unmountAll lazily unmounts whatever is still mounted under root.
func unmountAll(root string) {
	f, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(f), "\n") {
		if fs := strings.Fields(line); len(fs) > 1 && strings.HasPrefix(fs[1], root+"/") {
			exec.Command("fusermount", "-uz", fs[1]).Run()
		}
	}
}

// jsonLines decodes successive JSON values from r.
func jsonLines(r io.Reader) func(any) error {
	dec := json.NewDecoder(r)
	return dec.Decode
}
