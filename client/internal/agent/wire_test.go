package agent

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mapdrive/mapdrive/client/internal/config"
	"github.com/mapdrive/mapdrive/client/internal/vfs"
	"github.com/mapdrive/mapdrive/client/localclient"
	"github.com/mapdrive/mapdrive/shared/apitype"
)

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRunFromConfigUnconfigured runs `mapdrive agent` with no client id:
// it serves the local API, says what to configure, and a second agent on
// the same socket is refused with a clear message.
func TestRunFromConfigUnconfigured(t *testing.T) {
	dir := t.TempDir()
	cfg := config.Config{Socket: filepath.Join(dir, "run", "agent.sock"), StateDir: filepath.Join(dir, "state"),
		UserFile: filepath.Join(dir, "config.toml"), LogLevel: "info"}
	var logs syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- RunFromConfig(ctx, cfg, &logs) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("RunFromConfig = %v", err)
		}
		checkNoLeaks(t)
	}()
	c, _ := localclient.New(cfg.Socket)
	var st apitype.Status
	var err error
	for i := 0; i < 100; i++ {
		if st, err = c.Status(context.Background()); err == nil && len(st.Errors) > 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil || len(st.Errors) == 0 || !strings.Contains(st.Errors[0].Action, "client_id") {
		t.Fatalf("status of an unconfigured agent = %+v, %v; want advice naming client_id", st.Errors, err)
	}
	err = RunFromConfig(context.Background(), cfg, &logs)
	if err == nil || !strings.Contains(err.Error(), "already running") {
		t.Errorf("second agent = %v, want an already-running refusal", err)
	}
	if !strings.Contains(logs.String(), "not configured") || !strings.Contains(logs.String(), "MAPDRIVE_CLIENT_ID") {
		t.Errorf("log lacks the not-configured warning naming what to set:\n%s", logs.String())
	}
}

// TestRunFromConfigServiceWithoutScope: a client id and a service but no
// scope for the service's API (there is no built-in one) stops the agent
// at start, saying what to set, instead of running with tokens the
// service would refuse.
func TestRunFromConfigServiceWithoutScope(t *testing.T) {
	dir := t.TempDir()
	cfg := config.Config{ClientID: "app", ServiceURL: "https://svc.example", Socket: filepath.Join(dir, "run", "agent.sock"),
		StateDir: filepath.Join(dir, "state"), UserFile: filepath.Join(dir, "config.toml"), LogLevel: "info"}
	// Bounded: an agent that wrongly starts runs until its context ends.
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	err := RunFromConfig(ctx, cfg, &syncBuffer{})
	if err == nil || !strings.Contains(err.Error(), "service_scope") || !strings.Contains(err.Error(), "MAPDRIVE_SERVICE_SCOPE") {
		t.Errorf("RunFromConfig = %v, want a refusal naming service_scope and MAPDRIVE_SERVICE_SCOPE", err)
	}
}

// TestMountStatsNamesFoldersUnavailableOffline: the folders a mount
// answered empty offline become one problem naming them, saying they list
// when the connection returns.
func TestMountStatsNamesFoldersUnavailableOffline(t *testing.T) {
	if got := mountStats(vfs.Status{Online: true}); len(got.Errors) != 0 {
		t.Fatalf("problems without unavailable folders = %+v", got.Errors)
	}
	for _, tt := range []struct {
		paths []string
		want  string
	}{
		{[]string{"/trip"}, "the folder /trip was never opened while online, so it is empty offline; it will list when the connection returns"},
		{[]string{"/trip", "/Reports/2026"}, "the folders /trip, /Reports/2026 were never opened while online, so they are empty offline; they will list when the connection returns"},
	} {
		got := mountStats(vfs.Status{UnavailableOffline: tt.paths}).Errors
		if len(got) != 1 || got[0].Code != apitype.CodeUnavailableOffline || got[0].Message != tt.want || got[0].Action == "" {
			t.Errorf("mountStats(unavailable %q).Errors = %+v, want one %s problem %q with an action", tt.paths, got, apitype.CodeUnavailableOffline, tt.want)
		}
	}
}

// TestMountStatsNamesCheckOutHolder: a file someone else has checked out
// becomes a problem naming the file and the holder.
func TestMountStatsNamesCheckOutHolder(t *testing.T) {
	when := time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)
	got := mountStats(vfs.Status{CheckedOut: []vfs.ItemError{{Path: "/plan.docx", Err: "checked out by Bob Berg", Time: when}}}).Errors
	want := "/plan.docx: checked out by Bob Berg"
	if len(got) != 1 || got[0].Code != apitype.CodeCheckedOut || got[0].Message != want || got[0].Action == "" || !got[0].Time.Equal(when) {
		t.Fatalf("mountStats(checked out).Errors = %+v, want one %s problem %q", got, apitype.CodeCheckedOut, want)
	}
}

// TestMountStatsNamesFilesNotDeleted: a delete the server refused because
// someone else changed the file becomes a problem naming the file.
func TestMountStatsNamesFilesNotDeleted(t *testing.T) {
	when := time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)
	got := mountStats(vfs.Status{NotDeleted: []vfs.ItemError{{Path: "/notes.txt", Err: vfs.NotDeletedReason, Time: when}}}).Errors
	want := "/notes.txt: changed on the server by someone else; not deleted"
	if len(got) != 1 || got[0].Code != apitype.CodeNotDeleted || got[0].Message != want || got[0].Action == "" || !got[0].Time.Equal(when) {
		t.Fatalf("mountStats(not deleted).Errors = %+v, want one %s problem %q", got, apitype.CodeNotDeleted, want)
	}
}
