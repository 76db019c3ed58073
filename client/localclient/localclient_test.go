package localclient

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mapdrive/mapdrive/client/internal/ipc"
	"github.com/mapdrive/mapdrive/shared/apitype"
)

func TestAgentNotRunning(t *testing.T) {
	c, err := New(filepath.Join(t.TempDir(), "agent.sock"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Status(context.Background())
	if !errors.Is(err, ErrAgentNotRunning) {
		t.Errorf("Status with no agent = %v, want ErrAgentNotRunning", err)
	}
}

// TestErrorsDecoded checks that an agent's problem answer comes back as
// *apitype.Error with its code, over a real socket.
func TestErrorsDecoded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.sock")
	ln, err := ipc.Listen(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"code":"unknown_drive","message":"no drive named Foo","action":"Run mapdrive drives."}`))
	})}
	go srv.Serve(ln)
	defer srv.Close()
	c, _ := New(path)
	_, err = c.Mount(context.Background(), "Foo", "")
	var ae *apitype.Error
	if !errors.As(err, &ae) || ae.Code != apitype.CodeUnknownDrive || Code(err) != apitype.CodeUnknownDrive {
		t.Fatalf("Mount = %v, want an *apitype.Error with code unknown_drive", err)
	}
	if got, want := err.Error(), "no drive named Foo. Run mapdrive drives."; got != want {
		t.Errorf("error text = %q, want %q", got, want)
	}
}

// TestRefresh checks that Refresh posts to the refresh route and decodes
// the status it answers with.
func TestRefresh(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.sock")
	ln, err := ipc.Listen(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Method + " " + r.URL.Path
		json.NewEncoder(w).Encode(apitype.Status{SignIn: apitype.SignedIn, Seq: 42})
	})}
	go srv.Serve(ln)
	defer srv.Close()
	c, _ := New(path)
	st, err := c.Refresh(context.Background())
	if err != nil || st.Seq != 42 || st.SignIn != apitype.SignedIn {
		t.Fatalf("Refresh = %+v, %v; want the served status", st, err)
	}
	if req, want := <-got, "POST "+apitype.RouteRefresh; req != want {
		t.Errorf("Refresh sent %s, want %s", req, want)
	}
}

// TestUntrustedAgentRefused checks that a server the ipc layer does not
// trust (here: its socket directory is open to other users, who could have
// replaced the socket) is reported as ErrUntrustedAgent, not as "not
// running", and that no request reaches it.
func TestUntrustedAgentRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run", "agent.sock")
	ln, err := ipc.Listen(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	var requests atomic.Int32
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Write([]byte(`{}`))
	})}
	go srv.Serve(ln)
	defer srv.Close()
	if err := os.Chmod(filepath.Dir(path), 0o777); err != nil {
		t.Fatal(err)
	}
	c, err := New(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Status(context.Background())
	if !errors.Is(err, ErrUntrustedAgent) || errors.Is(err, ErrAgentNotRunning) {
		t.Fatalf("Status from an untrusted agent = %v, want ErrUntrustedAgent only", err)
	}
	if strings.Contains(err.Error(), "http://") {
		t.Errorf("error %q carries the transport's URL noise", err)
	}
	if _, err := c.WatchStatus(context.Background()); !errors.Is(err, ErrUntrustedAgent) {
		t.Errorf("WatchStatus from an untrusted agent = %v, want ErrUntrustedAgent", err)
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("the untrusted agent received %d requests, want none", n)
	}
}
