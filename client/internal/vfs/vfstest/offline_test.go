package vfstest

// Offline behaviour of folders whose children were never fetched.

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/mapdrive/mapdrive/client/internal/vfs"
)

// TestOfflineNeverListedFolderIsEmpty: offline, a folder known only from
// its parent's listing answers an empty listing (not an error), status
// names it, and once a listing succeeds it shows its children and status
// forgets it. Until then it cannot be removed: its delete on the server
// would take files never seen here along.
func TestOfflineNeverListedFolderIsEmpty(t *testing.T) {
	bubble(t, func(t *testing.T) {
		e := newEnv(t)
		ctx := context.Background()
		e.remote.WriteFile("/docs/a.txt", []byte("a"))
		e.remote.WriteFile("/docs/sub/b.txt", []byte("b"))
		e.remote.WriteFile("/listed/c.txt", []byte("c"))
		if got := e.names("/"); !slices.Equal(got, []string{"docs", "listed"}) {
			t.Fatalf("ReadDir(/) = %v", got)
		}
		e.names("/listed")

		e.remote.SetOffline(true)
		got, err := e.fs.ReadDir(ctx, "/docs")
		if err != nil || len(got) != 0 {
			t.Fatalf("offline ReadDir(/docs) of a never-listed folder = %v, %v; want empty, nil", got, err)
		}
		if e.fs.Status().Online {
			t.Fatal("Status.Online after a listing failed offline")
		}
		// Known offline: answered without waiting on the network again.
		lists := e.remote.Calls("List")
		if got := e.names("/docs"); len(got) != 0 {
			t.Fatalf("second offline ReadDir(/docs) = %v", got)
		}
		if _, err := e.fs.Stat(ctx, "/docs/sub/b.txt"); !errors.Is(err, vfs.ErrNotFound) {
			t.Fatalf("offline Stat(/docs/sub/b.txt) = %v, want ErrNotFound", err)
		}
		if n := e.remote.Calls("List"); n != lists {
			t.Errorf("List called %d times offline after the drive was known offline", n-lists)
		}
		// A folder listed before keeps serving its children.
		if got := e.names("/listed"); !slices.Equal(got, []string{"c.txt"}) {
			t.Fatalf("offline ReadDir(/listed) = %v", got)
		}
		if got := e.fs.Status().UnavailableOffline; !slices.Equal(got, []string{"/docs"}) {
			t.Fatalf("Status.UnavailableOffline = %q, want [/docs]", got)
		}
		if err := e.fs.Rmdir(ctx, "/docs"); !errors.Is(err, vfs.ErrOffline) {
			t.Fatalf("offline Rmdir of a never-listed folder = %v, want ErrOffline", err)
		}

		// Back online: a write reaching the server tells the filesystem,
		// and the next listing fetches the children.
		e.remote.SetOffline(false)
		e.write("/note.txt", []byte("n"))
		e.sync()
		if got := e.names("/docs"); !slices.Equal(got, []string{"a.txt", "sub"}) {
			t.Fatalf("online ReadDir(/docs) = %v", got)
		}
		if got := e.fs.Status().UnavailableOffline; len(got) != 0 {
			t.Fatalf("Status.UnavailableOffline after listing = %q, want none", got)
		}
		e.remoteHas("/docs/sub/b.txt", []byte("b"))
	})
}

// TestUnavailableOfflineIsBounded: status names at most the 20 folders
// opened most recently, each once, and forgets them all once a full delta
// enumeration makes every folder's children known.
func TestUnavailableOfflineIsBounded(t *testing.T) {
	bubble(t, func(t *testing.T) {
		e := newEnv(t)
		ctx := context.Background()
		var dirs []string
		for i := range 25 {
			d := "/d" + string(rune('a'+i))
			dirs = append(dirs, d)
			e.remote.WriteFile(d+"/f.txt", []byte("f"))
		}
		e.names("/")
		e.remote.SetOffline(true)
		for _, d := range dirs {
			e.names(d)
		}
		e.names(dirs[10]) // again: moves to the end, not listed twice
		want := append(append([]string(nil), dirs[5:10]...), dirs[11:]...)
		want = append(want, dirs[10])
		if got := e.fs.Status().UnavailableOffline; !slices.Equal(got, want) {
			t.Fatalf("Status.UnavailableOffline =\n%q\nwant\n%q", got, want)
		}
		e.remote.SetOffline(false)
		must(t, e.fs.Refresh(ctx))
		if got := e.fs.Status().UnavailableOffline; len(got) != 0 {
			t.Fatalf("Status.UnavailableOffline after a full enumeration = %q", got)
		}
		if got := e.names(dirs[0]); !slices.Equal(got, []string{"f.txt"}) {
			t.Fatalf("ReadDir(%s) = %v", dirs[0], got)
		}
	})
}
