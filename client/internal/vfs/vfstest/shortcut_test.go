package vfstest

// Shortcuts ("Add shortcut to My files"): folders whose children live in
// another drive (graph-contract.md, Delta).

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/mapdrive/mapdrive/client/internal/vfs"
)

// A shortcut lists and reads its target drive; a change there shows once
// the shortcut's listing is FolderTTL old, however often the mounted
// drive's delta runs; a resync of the mounted drive keeps what the
// shortcut listed; writes inside are refused; the shortcut itself renames
// and deletes as an item of the mounted drive.
func TestShortcutListsTargetWithinFolderTTL(t *testing.T) {
	bubble(t, func(t *testing.T) {
		e := newEnv(t)
		ctx := context.Background()
		fin := e.remote.AddDrive("b!fin")
		fin.WriteFile("/Reports/Q1.txt", []byte("q1"))
		fin.WriteFile("/Reports/Archive/old.txt", []byte("old"))
		e.remote.AddShortcut("Finance Reports", "b!fin", "/Reports")
		if err := e.fs.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		if a, err := e.fs.Stat(ctx, "/Finance Reports"); err != nil || !a.IsDir {
			t.Fatalf("Stat(/Finance Reports) = %+v, %v; want a folder", a, err)
		}
		if got := e.names("/Finance Reports"); !slices.Equal(got, []string{"Archive", "Q1.txt"}) {
			t.Fatalf("ReadDir(/Finance Reports) = %v", got)
		}
		if got := string(e.mustRead("/Finance Reports/Q1.txt")); got != "q1" {
			t.Errorf("read Q1.txt = %q", got)
		}
		if got := string(e.mustRead("/Finance Reports/Archive/old.txt")); got != "old" {
			t.Errorf("read Archive/old.txt = %q", got)
		}

		// A resync of the mounted drive knows nothing of the target's
		// items and must not drop them.
		e.remote.ExpireDeltaTokens()
		if err := e.fs.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		if got := e.names("/Finance Reports"); !slices.Equal(got, []string{"Archive", "Q1.txt"}) {
			t.Fatalf("ReadDir(/Finance Reports) after a resync = %v", got)
		}

		fin.WriteFile("/Reports/Q2.txt", []byte("q2"))
		for range 2 {
			time.Sleep(e.opt.FolderTTL / 2)
			if err := e.fs.Refresh(ctx); err != nil { // the delta poll
				t.Fatal(err)
			}
		}
		time.Sleep(time.Second)
		if got := e.names("/Finance Reports"); !slices.Contains(got, "Q2.txt") {
			t.Fatalf("ReadDir(/Finance Reports) %v after FolderTTL = %v, want Q2.txt", e.opt.FolderTTL, got)
		}
		if got := string(e.mustRead("/Finance Reports/Q2.txt")); got != "q2" {
			t.Errorf("read Q2.txt = %q", got)
		}

		for name, err := range map[string]error{
			"create": func() error { _, err := e.fs.Create(ctx, "/Finance Reports/new.txt"); return err }(),
			"open write": func() error {
				_, err := e.fs.Open(ctx, "/Finance Reports/Q1.txt", vfs.OpenFlags{Write: true})
				return err
			}(),
			"mkdir":      e.fs.Mkdir(ctx, "/Finance Reports/Archive/d"),
			"remove":     e.fs.Remove(ctx, "/Finance Reports/Q1.txt"),
			"rename out": e.fs.Rename(ctx, "/Finance Reports/Q1.txt", "/Q1.txt"),
			"rename in": func() error {
				e.write("/mine.txt", []byte("m"))
				return e.fs.Rename(ctx, "/mine.txt", "/Finance Reports/mine.txt")
			}(),
			"set mod time": e.fs.SetModTime(ctx, "/Finance Reports/Q1.txt", time.Now()),
		} {
			if !errors.Is(err, vfs.ErrReadOnly) {
				t.Errorf("%s inside the shortcut = %v, want ErrReadOnly", name, err)
			}
		}
		if n := StatusCount(e.fs, "/Finance Reports", vfs.ShortcutReadOnly); n == 0 {
			t.Errorf("status errors %+v, want %q at /Finance Reports", e.fs.Status().Errors, vfs.ShortcutReadOnly)
		}

		if err := e.fs.Rename(ctx, "/Finance Reports", "/Reports link"); err != nil {
			t.Fatalf("rename the shortcut: %v", err)
		}
		if err := e.fs.Rmdir(ctx, "/Reports link"); err != nil {
			t.Fatalf("rmdir the shortcut: %v", err)
		}
		e.sync()
		if got := e.remote.Names("/"); slices.Contains(got, "Reports link") || slices.Contains(got, "Finance Reports") {
			t.Errorf("remote root after deleting the shortcut = %v", got)
		}
		if _, ok := fin.ReadFile("/Reports/Q1.txt"); !ok {
			t.Error("deleting the shortcut deleted its target's file")
		}
	})
}

// A shortcut whose target cannot be reached is an empty folder with one
// status problem, asked about again only after FolderTTL.
func TestShortcutUnreachableIsEmpty(t *testing.T) {
	bubble(t, func(t *testing.T) {
		e := newEnv(t)
		ctx := context.Background()
		e.remote.AddShortcut("Gone", "b!nowhere", "/x")
		if err := e.fs.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if got := e.names("/Gone"); len(got) != 0 {
				t.Fatalf("ReadDir(/Gone) = %v, want empty", got)
			}
		}
		if n := StatusCount(e.fs, "/Gone", vfs.ShortcutUnreachable); n != 1 {
			t.Errorf("%d status problems %q, want 1: %+v", n, vfs.ShortcutUnreachable, e.fs.Status().Errors)
		}
		time.Sleep(e.opt.FolderTTL + time.Second)
		e.names("/Gone")
		if n := StatusCount(e.fs, "/Gone", vfs.ShortcutUnreachable); n != 2 {
			t.Errorf("after FolderTTL: %d status problems, want 2 (tried again)", n)
		}
	})
}
