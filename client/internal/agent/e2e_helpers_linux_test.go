//go:build linux

package agent

// The one way the end-to-end tests start a real agent (auth, graph, vfs,
// fusefs, keyring in memory) against m365sim, and, when given one, the
// real mapdrive-service; and sign a user in through the device code flow.

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mapdrive/mapdrive/client/internal/auth/authtest"
	"github.com/mapdrive/mapdrive/client/internal/config"
	"github.com/mapdrive/mapdrive/client/internal/ipc"
	"github.com/mapdrive/mapdrive/client/internal/keyring"
	"github.com/mapdrive/mapdrive/client/localclient"
	"github.com/mapdrive/mapdrive/shared/apitype"
	"github.com/mapdrive/mapdrive/shared/m365sim"
	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
)

// realAgent is a running agent with its local API client.
type realAgent struct {
	sim     *m365sim.Sim
	agent   *Agent
	p       *Parts
	cfg     config.Config
	c       *localclient.Client
	secrets *keyring.Memory
	logs    syncBuffer // the agent's log
	// stop stops the agent (at cleanup at the latest); an error from Run
	// fails the test.
	stop func()
}

// agentSetup says how startAgent configures an agent.
type agentSetup struct {
	upn string // whom the interactive sign-in picks in the browser
	// base holds state, cache, mounts and the socket; "" a new t.TempDir.
	// A second agent on the same base and keyring takes over from a
	// stopped one, as after a restart.
	base string
	mem  *keyring.Memory // the keyring; nil a new, empty one
	// svcURL is mapdrive-service's URL and bundle a CA bundle trusting it
	// and the simulator; "" runs without a service.
	svcURL, bundle string
}

// startAgent builds the agent's parts from its configuration, as
// `mapdrive agent` does, and runs it; remote changes are polled every 2 s.
func startAgent(t *testing.T, sim *m365sim.Sim, s agentSetup) *realAgent {
	t.Helper()
	if s.base == "" {
		s.base = t.TempDir()
	}
	if s.mem == nil {
		s.mem = keyring.NewMemory()
	}
	cfg := config.Config{
		Authority: sim.AuthorityURL("organizations"), ClientID: directory.DemoClientID,
		GraphURL: sim.GraphURL(), CAFile: sim.CAFile(), PollInterval: 2 * time.Second,
		StateDir: filepath.Join(s.base, "state"), CacheDir: filepath.Join(s.base, "cache"),
		MountRoot: filepath.Join(s.base, "mnt"), LogLevel: "debug",
	}
	if s.svcURL != "" {
		cfg.ServiceURL, cfg.CAFile = s.svcURL, s.bundle
		cfg.ServiceScope = directory.DemoServiceAppURI + "/" + directory.DemoServiceScope
	}
	r := &realAgent{sim: sim, cfg: cfg, secrets: s.mem}
	var logw io.Writer = &r.logs
	if testing.Verbose() {
		logw = io.MultiWriter(&r.logs, os.Stderr)
	}
	log := NewLogger(logw, "debug")
	p, err := Build(cfg, log, BuildOptions{
		Secrets:     keyring.New(keyring.WithBackend(s.mem)),
		OpenBrowser: authtest.Browser(sim.HTTPClient(), s.upn),
	})
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(s.base, "run", "agent.sock")
	ln, err := ipc.Listen(sock, log)
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Config: cfg, Auth: p.Auth, Directory: p.Directory, Mounter: p.Mounter, Secrets: p.Secrets,
		Listener: ln, Log: log, StatsInterval: 100 * time.Millisecond, Bandwidth: p.Bandwidth, Links: p.Links}
	if p.Service != nil {
		// Not a nil *svcclient.Client in the interface: none means none.
		o.Service = p.Service
	}
	a, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	stopped := false
	r.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("agent Run = %v", err)
		}
	}
	t.Cleanup(r.stop)
	r.agent, r.p = a, p
	r.c, _ = localclient.New(sock)
	return r
}

// loginAs signs r in as upn with a device code, approved through the
// simulator as the user would in a browser.
func loginAs(t *testing.T, ctx context.Context, r *realAgent, upn string) apitype.Account {
	t.Helper()
	resp, err := r.c.Login(ctx, true)
	if err != nil || resp.Prompt == nil {
		t.Fatalf("Login = %+v, %v", resp, err)
	}
	if err := r.sim.Admin().ApproveDeviceCode(ctx, resp.Prompt.UserCode, upn); err != nil {
		t.Fatal(err)
	}
	acct, err := r.c.WaitLogin(ctx)
	if err != nil {
		t.Fatalf("WaitLogin as %s: %v", upn, err)
	}
	return acct
}
