//go:build linux

package agent

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
	"github.com/mapdrive/mapdrive/shared/m365sim"
	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
)

// serviceAgent is an agent of alice's, running against mapdrive-service
// and m365sim, with its local API client.
type serviceAgent struct {
	t    *testing.T
	a    *Agent
	p    *Parts
	cfg  config.Config
	c    *localclient.Client
	logs syncBuffer
	// stop stops the agent (at cleanup at the latest); an error from Run
	// fails the test.
	stop func()
}

// startServiceAgent builds and runs an agent configured for the service
// at svcURL, trusting bundle, polling delta every 2 s.
func startServiceAgent(t *testing.T, sim *m365sim.Sim, svcURL, bundle string) *serviceAgent {
	t.Helper()
	base := t.TempDir()
	e := &serviceAgent{t: t, cfg: config.Config{
		Authority: sim.AuthorityURL("organizations"), ClientID: directory.DemoClientID,
		GraphURL: sim.GraphURL(), CAFile: bundle, PollInterval: 2 * time.Second,
		ServiceURL: svcURL, ServiceScope: directory.DemoServiceAppURI + "/" + directory.DemoServiceScope,
		StateDir: filepath.Join(base, "state"), CacheDir: filepath.Join(base, "cache"),
		MountRoot: filepath.Join(base, "mnt"), LogLevel: "debug",
	}}
	logw := os.Stderr
	if !testing.Verbose() {
		logw, _ = os.Open(os.DevNull)
	}
	log := NewLogger(io.MultiWriter(&e.logs, logw), "debug")
	p, err := Build(e.cfg, log, BuildOptions{
		Secrets:     keyring.New(keyring.WithBackend(keyring.NewMemory())),
		OpenBrowser: authtest.Browser(sim.HTTPClient(), "alice@contoso.com"),
	})
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(base, "run", "agent.sock")
	ln, err := ipc.Listen(sock, log)
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(Options{Config: e.cfg, Auth: p.Auth, Directory: p.Directory, Mounter: p.Mounter, Secrets: p.Secrets,
		Service: p.Service, Listener: ln, Log: log, StatsInterval: 100 * time.Millisecond, Bandwidth: p.Bandwidth, Links: p.Links})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	stopped := false
	e.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	}
	t.Cleanup(e.stop)
	e.a, e.p = a, p
	e.c, _ = localclient.New(sock)
	return e
}

// login signs alice in through the device code flow.
func (e *serviceAgent) login(ctx context.Context, sim *m365sim.Sim) {
	e.t.Helper()
	resp, err := e.c.Login(ctx, true)
	if err != nil || resp.Prompt == nil {
		e.t.Fatalf("Login = %+v, %v", resp, err)
	}
	if err := sim.Admin().ApproveDeviceCode(ctx, resp.Prompt.UserCode, "alice@contoso.com"); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.c.WaitLogin(ctx); err != nil {
		e.t.Fatalf("WaitLogin: %v", err)
	}
}
