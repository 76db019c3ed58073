package localclient

import (
	"context"
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
