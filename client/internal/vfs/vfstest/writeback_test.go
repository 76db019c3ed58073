package vfstest

// Deleting or renaming a file stops its running upload at once (issue
// 14, vfs/writeback): the upload session is cancelled on the server, a
// deleted file never reaches it, a renamed one reaches it under its new
// name only, and neither counts as a failure.

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mapdrive/mapdrive/client/internal/vfs"
)

// gatedRemote is a MemRemote whose upload fragments at or past offset at
// wait until the test releases them, honouring their context as an HTTP
// request does (MemRemote itself answers at once and ignores it).
type gatedRemote struct {
	*MemRemote
	at int64

	mu        sync.Mutex // guards the fields below
	release   chan struct{}
	waiting   chan struct{} // closed when the first fragment waits
	cancelled chan struct{} // closed when a waiting fragment's context ends
	gatedURL  string        // the session of the fragment that waited
	late      []string      // sessions that took a fragment after a cancel
}

func newGatedRemote(m *MemRemote, at int64) *gatedRemote {
	return &gatedRemote{MemRemote: m, at: at, release: make(chan struct{}), waiting: make(chan struct{}),
		cancelled: make(chan struct{})}
}

func (g *gatedRemote) UploadFragment(ctx context.Context, s vfs.UploadSession, off, total int64, data []byte) (*vfs.Item, error) {
	g.mu.Lock()
	gate := off >= g.at && g.gatedURL == ""
	if gate {
		g.gatedURL = s.URL
		close(g.waiting)
	}
	if !gate && s.URL == g.gatedURL {
		select {
		case <-g.cancelled:
			g.late = append(g.late, s.URL)
		default:
		}
	}
	g.mu.Unlock()
	if gate {
		select {
		case <-g.release:
		case <-ctx.Done():
			close(g.cancelled)
			return nil, ctx.Err()
		}
	}
	return g.MemRemote.UploadFragment(ctx, s, off, total, data)
}

// warnings is a slog handler that keeps the messages of warnings and
// errors.
type warnings struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warnings) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (w *warnings) WithAttrs([]slog.Attr) slog.Handler           { return w }
func (w *warnings) WithGroup(string) slog.Handler                { return w }

func (w *warnings) Handle(_ context.Context, r slog.Record) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, r.Message)
	return nil
}

func (w *warnings) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.msgs, "; ")
}

// startGatedUpload writes a file of several fragments whose upload then
// waits at its third fragment, and returns once it does.
func startGatedUpload(t *testing.T) (e *env, g *gatedRemote, log *warnings, data []byte) {
	t.Helper()
	log = &warnings{}
	e = newEnv(t, func(o *vfs.Options, m *MemRemote) {
		g = newGatedRemote(m, 2*vfs.FragmentSize)
		o.Remote = g
		o.Logger = slog.New(log)
	})
	t.Cleanup(func() {
		select {
		case <-g.release:
		default:
			close(g.release)
		}
	})
	must(t, e.fs.Mkdir(context.Background(), "/d"))
	data = randBytes(5*vfs.FragmentSize + 1234)
	e.write("/big.bin", data)
	select {
	case <-g.waiting:
	case <-time.After(time.Hour):
		t.Fatal("the upload never reached its third fragment")
	}
	return e, g, log, data
}

// checkCancelled fails unless the waiting fragment's context ended
// without the test releasing it, and the job ended as no failure: what is
// left of it runs again at once, without a backoff (the bubble's clock
// does not move while the remote answers).
func checkCancelled(t *testing.T, e *env, g *gatedRemote, log *warnings, what string) {
	t.Helper()
	start := time.Now()
	select {
	case <-g.cancelled:
	case <-time.After(time.Minute):
		t.Fatalf("the running upload's context still open a minute after the %s", what)
	}
	e.sync()
	if d := time.Since(start); d > 0 {
		t.Errorf("the job ended %v after the %s, want at once (no backoff)", d, what)
	}
	if _, err := e.remote.UploadStatus(context.Background(), vfs.UploadSession{URL: g.gatedURL}); !errors.Is(err, vfs.ErrNotFound) {
		t.Errorf("status of the stopped upload session = %v, want ErrNotFound (cancelled on the server)", err)
	}
	if len(g.late) > 0 {
		t.Errorf("fragments sent to the stopped session after its cancel: %v", g.late)
	}
	if errs := e.fs.Status().Errors; len(errs) > 0 {
		t.Errorf("Status.Errors = %+v, want none (a cancelled upload is no failure)", errs)
	}
	if l := log.String(); l != "" {
		t.Errorf("warnings logged: %s; want none", l)
	}
	if n := e.fs.QueueLen(); n != 0 {
		t.Errorf("QueueLen = %d after Sync", n)
	}
}

// TestDeleteStopsRunningUpload: a large new file deleted while its upload
// is under way: the upload stops at once, its session is cancelled, and
// the server never gets the file.
func TestDeleteStopsRunningUpload(t *testing.T) {
	bubble(t, func(t *testing.T) {
		e, g, log, _ := startGatedUpload(t)
		must(t, e.fs.Remove(context.Background(), "/big.bin"))
		checkCancelled(t, e, g, log, "delete")
		if _, ok := e.remote.Lookup("/big.bin"); ok {
			t.Error("the deleted file reached the server")
		}
		if got := e.remote.Calls("CancelUpload"); got != 1 {
			t.Errorf("CancelUpload calls = %d, want 1", got)
		}
	})
}

// TestRenameRestartsRunningUpload: a large new file renamed into another
// folder while its upload is under way: the upload to the old name stops
// at once, and the file reaches the server under its new name only, whole.
func TestRenameRestartsRunningUpload(t *testing.T) {
	bubble(t, func(t *testing.T) {
		e, g, log, data := startGatedUpload(t)
		must(t, e.fs.Rename(context.Background(), "/big.bin", "/d/renamed.bin"))
		checkCancelled(t, e, g, log, "rename")
		e.remoteHas("/d/renamed.bin", data)
		if names := e.remote.Names("/"); len(names) != 1 || names[0] != "d" {
			t.Errorf("remote / = %v, want only d (nothing under the old name)", names)
		}
		if got := e.remote.Calls("CreateUploadSession"); got != 2 {
			t.Errorf("CreateUploadSession calls = %d, want 2 (the old name's, then the new one's)", got)
		}
	})
}

// TestDeleteDuringUploadSessionCancelledAfterRestart: when the server
// cannot be told at once (offline), the stopped upload's session stays
// journaled; after a restart (a crash after the delete alike), it is
// cancelled on the server.
func TestDeleteDuringUploadSessionCancelledAfterRestart(t *testing.T) {
	bubble(t, func(t *testing.T) {
		e, g, _, _ := startGatedUpload(t)
		e.remote.Hook("CancelUpload", func() error { return vfs.ErrOffline })
		must(t, e.fs.Remove(context.Background(), "/big.bin"))
		<-g.cancelled
		synctest.Wait()
		if e.fs.QueueLen() != 1 {
			t.Fatalf("QueueLen = %d while the session cannot be cancelled, want its job kept", e.fs.QueueLen())
		}
		must(t, e.fs.Close())
		e.remote.Hook("CancelUpload", nil)
		calls := e.remote.Calls("CancelUpload")
		e.open()
		e.sync()
		if e.remote.Calls("CancelUpload") == calls {
			t.Error("no CancelUpload after the restart")
		}
		if _, err := e.remote.UploadStatus(context.Background(), vfs.UploadSession{URL: g.gatedURL}); !errors.Is(err, vfs.ErrNotFound) {
			t.Errorf("status of the stopped upload session after a restart = %v, want ErrNotFound (cancelled)", err)
		}
		if _, ok := e.remote.Lookup("/big.bin"); ok {
			t.Error("the deleted file reached the server")
		}
	})
}
