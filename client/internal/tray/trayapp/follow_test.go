//go:build !windows

package trayapp

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"github.com/mapdrive/mapdrive/client/internal/tray"
	"github.com/mapdrive/mapdrive/client/localclient"
	"github.com/mapdrive/mapdrive/shared/apitype"
)

// nopAgent answers no action; follow only watches.
type nopAgent struct{ tray.Agent }

// TestFollowReconnects feeds the UI from a status stream that ends once
// (an agent restart) and checks the UI reports the agent down while
// nothing answers, then follows the new stream.
func TestFollowReconnects(t *testing.T) {
	a := test.NewTempApp(t)
	icons, err := tray.NewIcons()
	if err != nil {
		t.Fatal(err)
	}
	// The test driver has no main loop: a mutex stands in for it, and the
	// test reads the UI under it too.
	var mu sync.Mutex
	do := func(f func()) {
		mu.Lock()
		defer mu.Unlock()
		f()
	}
	ui, err := tray.New(tray.Options{App: a, Agent: nopAgent{}, Icons: icons, Open: func(string) error { return nil }, Do: do})
	if err != nil {
		t.Fatal(err)
	}
	defer ui.Close()

	// The directory must be private, as the agent's is: the client refuses
	// a socket others could have replaced (t.TempDir's leaf is 0755).
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "agent.sock")
	lc, err := localclient.New(sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var firsts atomic.Int32
	starter := &agentStarter{disabled: true, log: slog.New(slog.DiscardHandler)}
	go func() {
		defer close(done)
		follow(ctx, lc, ui, starter, slog.New(slog.DiscardHandler), func(apitype.Status) { firsts.Add(1) })
	}()
	defer func() { cancel(); <-done }()

	// Nothing listens yet: the UI says the agent is down.
	waitUntil(t, "the agent reported down", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return strings.Contains(ui.Menu().Items[0].Label, "not running")
	})

	// The first agent sends one status and ends the stream.
	serve := func(seq uint64, hold bool) (stop func()) {
		ln, err := net.Listen("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != apitype.RouteStatusWatch {
				http.NotFound(w, r)
				return
			}
			json.NewEncoder(w).Encode(apitype.Status{SignIn: apitype.SignedIn, Online: true, Seq: seq,
				Drives: []apitype.Drive{{ID: "d", Name: "Drive", State: apitype.DriveUnmounted}}})
			w.(http.Flusher).Flush()
			if hold {
				<-r.Context().Done()
			}
		})}
		go srv.Serve(ln)
		return func() { srv.Close() }
	}
	stop := serve(1, false)
	seq := func() uint64 {
		mu.Lock()
		defer mu.Unlock()
		return ui.Status().Seq
	}
	waitUntil(t, "status 1", func() bool { return seq() == 1 })
	stop()

	// The restarted agent keeps its stream open.
	stop = serve(2, true)
	defer stop()
	waitUntil(t, "status 2", func() bool { return seq() == 2 })
	if n := firsts.Load(); n != 1 {
		t.Errorf("first-status hook ran %d times, want once", n)
	}
	mu.Lock()
	got := ui.Menu().Items[0].Label
	mu.Unlock()
	if got != "Up to date" {
		t.Errorf("menu status = %q, want Up to date", got)
	}
}

func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for end := time.Now().Add(20 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if ok() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}
