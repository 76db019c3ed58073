package localclient

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"path/filepath"
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
