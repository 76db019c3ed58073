//go:build linux

package fusefs

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mapdrive/mapdrive/client/internal/vfs"
	"github.com/mapdrive/mapdrive/client/internal/vfs/vfstest"
	"github.com/mapdrive/mapdrive/shared/m365sim"
)

// shortcutTTL is the FolderTTL of the shortcut tests: the bound on how
// stale a shortcut's listing may be when it is opened.
const shortcutTTL = 1500 * time.Millisecond

// newShortcutMount mounts alice's OneDrive with a delta poll much faster
// than FolderTTL: the OneDrive's own folders stay fresh through delta,
// which must not keep a shortcut's listing from expiring.
func newShortcutMount(t *testing.T) (*simMount, string, *m365sim.UserClient) {
	t.Helper()
	s := newSimMount(t, func(o *vfs.Options, _ *vfstest.MemRemote) {
		o.PollInterval = 200 * time.Millisecond
		o.FolderTTL = shortcutTTL
	})
	fin := s.sim.Directory().Tenant("contoso").Site("Finance").Libraries[0].ID
	return s, fin, s.sim.Admin().As("contoso", "admin@contoso.com")
}

// A shortcut to a Finance folder ("Add shortcut to My files") is a folder
// in the mounted OneDrive: its files read the target's bytes, its
// sub-folders open, a change made in Finance by someone else shows once
// the listing is FolderTTL old, writes inside it are refused with EROFS
// and a status message naming it, and the shortcut itself renames and
// deletes like any item, leaving the target alone.
func TestSimMountShortcut(t *testing.T) {
	s, fin, admin := newShortcutMount(t)
	ctx := context.Background()
	if _, err := admin.Mkdir(ctx, fin, "Reports", "Archive"); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Upload(ctx, fin, "Reports/Archive/2025.txt", []byte("last year\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.other.AddShortcut(ctx, "Finance Reports", fin, "Reports"); err != nil {
		t.Fatalf("add shortcut: %v", err)
	}
	s.refresh()

	fi, err := os.Stat(s.p("Finance Reports"))
	if err != nil || !fi.IsDir() {
		t.Fatalf("stat shortcut = %v, %v; want a directory", fi, err)
	}
	if got := s.sh(`ls "Finance Reports"`); got != "Archive\nQ1.txt\n" {
		t.Errorf("ls shortcut = %q, want Archive and Q1.txt", got)
	}
	if got := s.sh(`cat "Finance Reports/Q1.txt"`); got != "Q1 revenue: 1,234,567\n" {
		t.Errorf("cat Q1.txt through the shortcut = %q", got)
	}
	if got := s.sh(`cat "Finance Reports/Archive/2025.txt"`); got != "last year\n" {
		t.Errorf("cat in a sub-folder of the shortcut = %q", got)
	}

	// Someone changes Finance: the OneDrive's delta says nothing, the
	// listing expires after FolderTTL and the next look sees it.
	if _, err := admin.Upload(ctx, fin, "Reports/Q2.txt", []byte("Q2 revenue: 2,345,678\n")); err != nil {
		t.Fatal(err)
	}
	changed := time.Now()
	eventually(t, shortcutTTL+5*time.Second, "Q2.txt in the shortcut", func() bool {
		return strings.Contains(s.sh(`ls "Finance Reports"`), "Q2.txt")
	})
	t.Logf("seen %v after the change (FolderTTL %v)", time.Since(changed).Round(time.Millisecond), shortcutTTL)
	if got := s.sh(`cat "Finance Reports/Q2.txt"`); got != "Q2 revenue: 2,345,678\n" {
		t.Errorf("cat Q2.txt = %q", got)
	}

	// Writes inside are refused, at once, with a status naming the shortcut.
	for _, op := range []func() error{
		func() error { return os.WriteFile(s.p("Finance Reports/new.txt"), []byte("x"), 0o644) },
		func() error { return os.WriteFile(s.p("Finance Reports/Q1.txt"), []byte("x"), 0o644) },
		func() error { return os.Mkdir(s.p("Finance Reports/dir"), 0o755) },
		func() error { return os.Remove(s.p("Finance Reports/Q1.txt")) },
		func() error { return os.Rename(s.p("Finance Reports/Q1.txt"), s.p("Finance Reports/Q1b.txt")) },
		func() error {
			return os.Rename(s.p("Documents/Welcome.txt"), s.p("Finance Reports/Archive/Welcome.txt"))
		},
	} {
		if err := op(); !errors.Is(err, syscall.EROFS) {
			t.Errorf("write inside the shortcut: err = %v, want EROFS", err)
		}
	}
	if vfstest.StatusCount(s.fs, "/Finance Reports", vfs.ShortcutReadOnly) == 0 {
		t.Errorf("status errors = %+v, want %q for /Finance Reports", s.fs.Status().Errors, vfs.ShortcutReadOnly)
	}
	if got := s.sh(`cat "Finance Reports/Q1.txt"`); got != "Q1 revenue: 1,234,567\n" {
		t.Errorf("Q1.txt after refused writes = %q", got)
	}

	// The shortcut itself is an item of the OneDrive.
	s.sh(`mv "Finance Reports" "Reports link"`)
	if got := s.names("/"); !slices.Contains(got, "Reports link") || slices.Contains(got, "Finance Reports") {
		t.Errorf("OneDrive root after renaming the shortcut = %v", got)
	}
	if err := os.Remove(s.p("Reports link")); err != nil {
		t.Fatalf("rmdir shortcut: %v", err)
	}
	if got := s.names("/"); slices.Contains(got, "Reports link") {
		t.Errorf("OneDrive root after deleting the shortcut = %v", got)
	}
	if _, err := admin.Get(ctx, fin, "Reports/Q1.txt"); err != nil {
		t.Errorf("target after deleting the shortcut: %v", err)
	}
}

// A shortcut whose target the user can no longer reach (here deleted in
// Finance) shows as an empty folder with one status problem, and is not
// asked about again before FolderTTL: no error loop.
func TestSimMountShortcutUnreachable(t *testing.T) {
	s, fin, admin := newShortcutMount(t)
	ctx := context.Background()
	if _, err := s.other.AddShortcut(ctx, "Finance Reports", fin, "Reports"); err != nil {
		t.Fatalf("add shortcut: %v", err)
	}
	if err := admin.Delete(ctx, fin, "Reports"); err != nil {
		t.Fatal(err)
	}
	s.refresh()
	for range 3 {
		if got := s.sh(`ls -A "Finance Reports"`); got != "" {
			t.Errorf("ls unreachable shortcut = %q, want empty", got)
		}
	}
	if n := vfstest.StatusCount(s.fs, "/Finance Reports", vfs.ShortcutUnreachable); n != 1 {
		t.Errorf("%d status problems %q, want 1 within FolderTTL: %+v", n, vfs.ShortcutUnreachable, s.fs.Status().Errors)
	}
	if fi, err := os.Stat(s.p("Finance Reports")); err != nil || !fi.IsDir() {
		t.Errorf("stat unreachable shortcut = %v, %v; want a directory", fi, err)
	}
}
