package vfstest

// Deletes and moves carry the eTag last seen (If-Match); a 412 never
// loses the other writer's version.

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mapdrive/mapdrive/client/internal/vfs"
)

// notDeleted reports whether status lists p as a delete the server
// refused.
func notDeleted(s vfs.Status, p string) bool {
	return slices.ContainsFunc(s.NotDeleted, func(e vfs.ItemError) bool { return e.Path == p && e.Err == vfs.NotDeletedReason })
}

// TestDeleteOfItemChangedElsewhereKeepsTheirVersion: a local delete of a
// file someone else changed since it was last seen here is refused by
// the server; their version stays there, shows again in the mount, and
// status and events name it. Deleting again, now knowing their version,
// deletes it.
func TestDeleteOfItemChangedElsewhereKeepsTheirVersion(t *testing.T) {
	bubble(t, func(t *testing.T) {
		e := newEnv(t)
		ctx := context.Background()
		e.remote.WriteFile("/a.txt", []byte("v1"))
		if got := e.mustRead("/a.txt"); string(got) != "v1" {
			t.Fatalf("a.txt = %q", got)
		}
		events := e.fs.Subscribe(ctx)
		e.remote.WriteFile("/a.txt", []byte("their edit"))

		if err := e.fs.Remove(ctx, "/a.txt"); !errors.Is(err, vfs.ErrPreconditionFailed) {
			t.Fatalf("Remove of a file changed elsewhere = %v, want ErrPreconditionFailed", err)
		}
		e.remoteHas("/a.txt", []byte("their edit"))
		if got := e.names("/"); !slices.Equal(got, []string{"a.txt"}) {
			t.Fatalf("ReadDir(/) after the refused delete = %v, want a.txt back", got)
		}
		if got := e.mustRead("/a.txt"); string(got) != "their edit" {
			t.Fatalf("a.txt after the refused delete = %q, want their edit", got)
		}
		if !notDeleted(e.fs.Status(), "/a.txt") {
			t.Fatalf("Status.NotDeleted = %+v, want /a.txt", e.fs.Status().NotDeleted)
		}
		waitEvent(t, events, vfs.EventNotDeleted, "/a.txt")

		must(t, e.fs.Remove(ctx, "/a.txt"))
		if _, ok := e.remote.Lookup("/a.txt"); ok {
			t.Fatal("second delete, of the version now known, left a.txt on the server")
		}
	})
}

// waitEvent reads events until one of kind for path arrives.
func waitEvent(t *testing.T, ch <-chan vfs.Event, kind vfs.EventKind, path string) {
	t.Helper()
	for {
		select {
		case ev := <-ch:
			if ev.Kind == kind && ev.Path == path {
				return
			}
		default:
			t.Fatalf("no %s event for %s", kind, path)
		}
	}
}

// TestQueuedDeleteOfItemChangedElsewhereKeepsTheirVersion: a delete made
// offline carries the eTag seen before; when someone else changed the
// file meanwhile, the queued delete is refused and their version stays.
func TestQueuedDeleteOfItemChangedElsewhereKeepsTheirVersion(t *testing.T) {
	bubble(t, func(t *testing.T) {
		e := newEnv(t)
		ctx := context.Background()
		e.remote.WriteFile("/b.txt", []byte("v1"))
		e.remote.WriteFile("/gone.txt", []byte("x"))
		must(t, e.fs.Refresh(ctx))
		e.remote.SetOffline(true)
		e.fs.Refresh(ctx)
		must(t, e.fs.Remove(ctx, "/b.txt"))
		must(t, e.fs.Remove(ctx, "/gone.txt"))
		if e.fs.QueueLen() != 2 {
			t.Fatalf("queued jobs = %d, want the two deletes", e.fs.QueueLen())
		}
		e.remote.WriteFile("/b.txt", []byte("their edit"))

		e.remote.SetOffline(false)
		must(t, e.fs.Refresh(ctx))
		e.sync()
		e.remoteHas("/b.txt", []byte("their edit"))
		if _, ok := e.remote.Lookup("/gone.txt"); ok {
			t.Error("queued delete of an unchanged file not applied")
		}
		if got := e.names("/"); !slices.Equal(got, []string{"b.txt"}) {
			t.Fatalf("ReadDir(/) = %v, want b.txt back", got)
		}
		if got := e.mustRead("/b.txt"); string(got) != "their edit" {
			t.Fatalf("b.txt = %q, want their edit", got)
		}
		if !notDeleted(e.fs.Status(), "/b.txt") {
			t.Fatalf("Status.NotDeleted = %+v, want /b.txt", e.fs.Status().NotDeleted)
		}
	})
}

// TestMoveOfItemChangedElsewhereKeepsTheirContent: a rename of a file
// someone else changed since it was last seen gets 412, is retried under
// the fresh eTag, and ends with their content under the new name, in the
// mount as on the server.
func TestMoveOfItemChangedElsewhereKeepsTheirContent(t *testing.T) {
	bubble(t, func(t *testing.T) {
		e := newEnv(t)
		ctx := context.Background()
		e.remote.WriteFile("/m.txt", []byte("v1"))
		if got := e.mustRead("/m.txt"); string(got) != "v1" {
			t.Fatalf("m.txt = %q", got)
		}
		e.remote.WriteFile("/m.txt", []byte("their edit"))
		must(t, e.fs.Rename(ctx, "/m.txt", "/n.txt"))
		e.remoteHas("/n.txt", []byte("their edit"))
		if got := e.remote.Names("/"); !slices.Equal(got, []string{"n.txt"}) {
			t.Fatalf("remote root = %v", got)
		}
		if got := e.mustRead("/n.txt"); string(got) != "their edit" {
			t.Fatalf("n.txt in the mount = %q, want their edit", got)
		}
		if got := e.remote.Calls("Move"); got != 2 {
			t.Errorf("Move calls = %d, want 2 (refused, then under the fresh eTag)", got)
		}

		// Already moved to the same target by someone else: the 412 is
		// resolved without moving again.
		it := e.remote.WriteFile("/p.txt", []byte("p"))
		must(t, e.fs.Refresh(ctx))
		root, _ := e.remote.Lookup("/")
		if _, err := e.remote.Move(ctx, it.ID, root.ID, "q.txt", ""); err != nil {
			t.Fatal(err)
		}
		moves := e.remote.Calls("Move")
		must(t, e.fs.Rename(ctx, "/p.txt", "/q.txt"))
		if got := e.remote.Calls("Move") - moves; got != 1 {
			t.Errorf("Move calls for an item already at its target = %d, want 1", got)
		}
		if got := e.names("/"); !slices.Equal(got, []string{"n.txt", "q.txt"}) {
			t.Fatalf("ReadDir(/) = %v", got)
		}
	})
}

// TestQueuedMoveWithLocalEditKeepsBothVersions: offline, a file is
// edited and renamed while someone else edits it on the server. The move
// goes through under the fresh eTag, but the local edit, made against
// the old version, does not replace theirs: it is kept beside it as a
// conflict copy.
func TestQueuedMoveWithLocalEditKeepsBothVersions(t *testing.T) {
	bubble(t, func(t *testing.T) {
		e := newEnv(t)
		ctx := context.Background()
		e.remote.WriteFile("/e.txt", []byte("base"))
		must(t, e.fs.Refresh(ctx))
		e.mustRead("/e.txt")
		e.remote.SetOffline(true)
		e.fs.Refresh(ctx)
		e.write("/e.txt", []byte("mine"))
		must(t, e.fs.Rename(ctx, "/e.txt", "/f.txt"))
		e.remote.WriteFile("/e.txt", []byte("their edit"))

		e.remote.SetOffline(false)
		must(t, e.fs.Refresh(ctx))
		e.sync()
		e.remoteHas("/f.txt", []byte("their edit"))
		e.remoteHas("/"+vfs.ConflictName("f.txt", "testhost", time.Now(), 1), []byte("mine"))
		if _, ok := e.remote.Lookup("/e.txt"); ok {
			t.Error("the old name stayed on the server")
		}
	})
}

// TestRenameDuringFirstUploadMovesTheUploadedFile: a new file renamed
// while its first upload is under way ends on the server under the new
// name (the upload created it under the old one).
func TestRenameDuringFirstUploadMovesTheUploadedFile(t *testing.T) {
	bubble(t, func(t *testing.T) {
		e := newEnv(t)
		ctx := context.Background()
		must(t, e.fs.Mkdir(ctx, "/d"))
		renamed := make(chan struct{})
		e.remote.Hook("PutSmall", func() error { <-renamed; return nil })
		e.write("/d/new.txt", []byte("new"))
		time.Sleep(5 * time.Second) // the upload starts and waits in the hook
		synctest.Wait()
		if e.remote.Calls("PutSmall") != 1 {
			t.Fatalf("PutSmall calls = %d, want the upload under way", e.remote.Calls("PutSmall"))
		}
		must(t, e.fs.Rename(ctx, "/d/new.txt", "/moved.txt"))
		close(renamed)
		e.sync()
		e.remoteHas("/moved.txt", []byte("new"))
		if got := e.remote.Names("/d"); len(got) != 0 {
			t.Fatalf("remote /d = %v, want the file moved out", got)
		}
	})
}

// TestDeleteDuringOwnUploadDeletes: the user saves a file and removes it
// while that save is still uploading. The upload commits between the
// local delete and the server delete, so the delete's If-Match names the
// version before the save and the server answers 412. The newer version
// is this mount's own, not another writer's: the file is deleted, and
// nothing reports it as "not deleted".
func TestDeleteDuringOwnUploadDeletes(t *testing.T) {
	bubble(t, func(t *testing.T) {
		e := newEnv(t)
		ctx := context.Background()
		old := e.remote.WriteFile("/a.txt", []byte("v1"))
		e.mustRead("/a.txt")
		release := make(chan struct{})
		var deletes atomic.Int32
		e.remote.Hook("PutSmall", func() error { <-release; return nil })
		e.remote.Hook("Delete", func() error {
			if deletes.Add(1) > 1 {
				// Later deletes (the upload's own clean-up, once it
				// finds the file deleted here) wait a second of the
				// bubble's time, which passes only once the user's
				// delete is blocked or done: it reaches the server
				// first.
				time.Sleep(time.Second)
				return nil
			}
			// The user's delete: let the save commit on the server
			// first, as a slow network would order them.
			close(release)
			for {
				if it, ok := e.remote.Lookup("/a.txt"); ok && it.ETag != old.ETag {
					return nil
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
		e.write("/a.txt", []byte("my edit"))
		for e.remote.Calls("PutSmall") == 0 {
			time.Sleep(10 * time.Millisecond)
		}
		if err := e.fs.Remove(ctx, "/a.txt"); err != nil {
			t.Fatalf("Remove during the file's own upload = %v, want nil", err)
		}
		e.sync()
		if _, ok := e.remote.Lookup("/a.txt"); ok {
			t.Error("a.txt is still on the server")
		}
		if got := e.names("/"); len(got) != 0 {
			t.Errorf("ReadDir(/) = %v, want empty", got)
		}
		if notDeleted(e.fs.Status(), "/a.txt") {
			t.Errorf("Status.NotDeleted names the user's own edit: %+v", e.fs.Status().NotDeleted)
		}
	})
}
