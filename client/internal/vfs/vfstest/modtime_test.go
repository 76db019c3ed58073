package vfstest

// A modification time set here (touch -d, cp -p, rsync -t) reaches the
// item's fileSystemInfo on the server, so it survives the server's next
// report of the item and shows on every other client.

import (
	"context"
	"testing"
	"time"

	"github.com/mapdrive/mapdrive/client/internal/vfs"
)

func TestModTimeReachesTheServer(t *testing.T) {
	bubble(t, func(t *testing.T) {
		e := newEnv(t)
		ctx := context.Background()
		t0 := time.Date(1999, 12, 31, 23, 59, 58, 0, time.UTC)
		t1 := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)

		// touch -d on a file that is on the server already.
		e.remote.WriteFile("/old.txt", []byte("old"))
		must(t, e.fs.Refresh(ctx))
		must(t, e.fs.SetModTime(ctx, "/old.txt", t0))
		e.sync()
		if it, _ := e.remote.Lookup("/old.txt"); !it.ModTime.Equal(t0) {
			t.Errorf("server time of old.txt = %v, want %v", it.ModTime, t0)
		}
		// The server's next report of the item keeps the time.
		must(t, e.fs.Refresh(ctx))
		if a, err := e.fs.Stat(ctx, "/old.txt"); err != nil || !a.ModTime.Equal(t0) {
			t.Errorf("Stat(old.txt) after refresh = %v, %v; want %v", a.ModTime, err, t0)
		}

		// cp -p: the copy's time is set before it is closed.
		h, err := e.fs.Create(ctx, "/copy.txt")
		must(t, err)
		if _, err := h.WriteAt(ctx, []byte("copied"), 0); err != nil {
			t.Fatal(err)
		}
		must(t, e.fs.SetModTime(ctx, "/copy.txt", t1))
		must(t, h.Release(ctx))
		e.sync()
		e.remoteHas("/copy.txt", []byte("copied"))
		if it, _ := e.remote.Lookup("/copy.txt"); !it.ModTime.Equal(t1) {
			t.Errorf("server time of copy.txt = %v, want %v", it.ModTime, t1)
		}
		must(t, e.fs.Refresh(ctx))
		if a, _ := e.fs.Stat(ctx, "/copy.txt"); !a.ModTime.Equal(t1) {
			t.Errorf("Stat(copy.txt) after refresh = %v, want %v", a.ModTime, t1)
		}

		// Written after the time was set: the write's time wins.
		must(t, e.fs.SetModTime(ctx, "/old.txt", t0))
		h, err = e.fs.Open(ctx, "/old.txt", vfs.OpenFlags{Write: true})
		must(t, err)
		if _, err := h.WriteAt(ctx, []byte("new"), 0); err != nil {
			t.Fatal(err)
		}
		must(t, h.Release(ctx))
		e.sync()
		if it, _ := e.remote.Lookup("/old.txt"); it.ModTime.Equal(t0) {
			t.Errorf("server time of old.txt after a write is still the one set before it")
		}
	})
}
