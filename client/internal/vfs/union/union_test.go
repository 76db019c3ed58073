package union_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/mapdrive/mapdrive/client/internal/vfs"
	"github.com/mapdrive/mapdrive/client/internal/vfs/union"
	"github.com/mapdrive/mapdrive/client/internal/vfs/vfstest"
)

// library opens a member drive over an in-memory remote holding files.
// Every MemRemote numbers its items alike, so two libraries share item
// ids as two real drives may: only InoSpace keeps their inodes apart.
func library(t *testing.T, name string, files map[string]string) (union.Member, *vfstest.MemRemote) {
	t.Helper()
	mem := vfstest.NewMemRemote()
	for p, data := range files {
		mem.WriteFile(p, []byte(data))
	}
	key := make([]byte, 32)
	rand.Read(key)
	fsys, err := vfs.New(context.Background(), vfs.Options{Remote: mem, StateDir: t.TempDir(), CacheDir: t.TempDir(),
		CacheKey: key, CacheMaxBytes: 1 << 30, PollInterval: -1, FolderTTL: time.Minute, Host: "testhost",
		InoSpace: name})
	if err != nil {
		t.Fatalf("vfs.New(%s): %v", name, err)
	}
	t.Cleanup(func() { fsys.Close() })
	return union.Member{Name: name, FS: fsys}, mem
}

func names(attrs []vfs.Attr) []string {
	var out []string
	for _, a := range attrs {
		out = append(out, a.Name)
	}
	return out
}

func TestRootListsMembersAndRoutesPaths(t *testing.T) {
	ctx := context.Background()
	fin, _ := library(t, "Finance", map[string]string{"/report.txt": "finance"})
	hr, _ := library(t, "HR", map[string]string{"/report.txt": "hr", "/Policies/leave.txt": "leave"})
	u, err := union.New(false, []union.Member{hr, fin})
	if err != nil {
		t.Fatal(err)
	}
	root, err := u.ReadDir(ctx, "/")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := names(root), []string{"Finance", "HR"}; !slices.Equal(got, want) {
		t.Fatalf("root = %v, want %v", got, want)
	}
	for _, a := range root {
		if !a.IsDir {
			t.Errorf("root entry %q is not a folder", a.Name)
		}
	}
	if at, err := u.Stat(ctx, "/"); err != nil || !at.IsDir || at.Ino != union.RootIno {
		t.Errorf("Stat(/) = %+v, %v", at, err)
	}
	if at, err := u.Stat(ctx, "/HR"); err != nil || !at.IsDir || at.Name != "HR" {
		t.Errorf("Stat(/HR) = %+v, %v", at, err)
	}
	if got, err := u.ReadDir(ctx, "/HR"); err != nil || !slices.Equal(names(got), []string{"Policies", "report.txt"}) {
		t.Errorf("ReadDir(/HR) = %v, %v", names(got), err)
	}
	for p, want := range map[string]string{"/Finance/report.txt": "finance", "/HR/report.txt": "hr", "/HR/Policies/leave.txt": "leave"} {
		h, err := u.Open(ctx, p, vfs.OpenFlags{})
		if err != nil {
			t.Fatalf("Open(%s): %v", p, err)
		}
		buf := make([]byte, 64)
		n, _ := h.ReadAt(ctx, buf, 0)
		h.Release(ctx)
		if string(buf[:n]) != want {
			t.Errorf("%s = %q, want %q", p, buf[:n], want)
		}
	}
	// Both libraries' report.txt have the same item id; their inodes
	// must differ, or the kernel would take one for the other.
	a, errA := u.Stat(ctx, "/Finance/report.txt")
	b, errB := u.Stat(ctx, "/HR/report.txt")
	if errA != nil || errB != nil || a.Ino == b.Ino {
		t.Errorf("inodes of two libraries' files: %d, %d (%v, %v), want distinct", a.Ino, b.Ino, errA, errB)
	}
}

func TestOperations(t *testing.T) {
	ctx := context.Background()
	fin, _ := library(t, "Finance", map[string]string{"/a.txt": "a", "/Q1/b.txt": "b"})
	hr, _ := library(t, "HR", map[string]string{"/c.txt": "c"})
	u, err := union.New(false, []union.Member{fin, hr})
	if err != nil {
		t.Fatal(err)
	}
	create := vfs.OpenFlags{Write: true, Create: true}
	for _, tc := range []struct {
		name string
		op   func() error
		want error // nil: succeeds
	}{
		{"mkdir at the root", func() error { return u.Mkdir(ctx, "/Sales") }, vfs.ErrAccessDenied},
		{"mkdir of a library", func() error { return u.Mkdir(ctx, "/HR") }, vfs.ErrExist},
		{"mkdir inside a library", func() error { return u.Mkdir(ctx, "/HR/New") }, nil},
		{"create at the root", func() error { _, err := u.Open(ctx, "/x.txt", create); return err }, vfs.ErrAccessDenied},
		{"open an absent library", func() error { _, err := u.Open(ctx, "/Sales/x.txt", vfs.OpenFlags{}); return err }, vfs.ErrNotFound},
		{"stat an absent library", func() error { _, err := u.Stat(ctx, "/Sales"); return err }, vfs.ErrNotFound},
		{"rmdir a library", func() error { return u.Rmdir(ctx, "/HR") }, vfs.ErrAccessDenied},
		{"remove a library", func() error { return u.Remove(ctx, "/Finance") }, vfs.ErrAccessDenied},
		{"rmdir the root", func() error { return u.Rmdir(ctx, "/") }, vfs.ErrAccessDenied},
		{"rename a library", func() error { return u.Rename(ctx, "/HR", "/People") }, vfs.ErrAccessDenied},
		{"rename onto a library", func() error { return u.Rename(ctx, "/HR/c.txt", "/Finance") }, vfs.ErrAccessDenied},
		{"move a file to the root", func() error { return u.Rename(ctx, "/HR/c.txt", "/c.txt") }, vfs.ErrAccessDenied},
		{"move a file across libraries", func() error { return u.Rename(ctx, "/HR/c.txt", "/Finance/c.txt") }, vfs.ErrCrossDevice},
		{"move a folder across libraries", func() error { return u.Rename(ctx, "/Finance/Q1", "/HR/Q1") }, vfs.ErrCrossDevice},
		{"rename inside a library", func() error { return u.Rename(ctx, "/Finance/a.txt", "/Finance/Q1/a2.txt") }, nil},
		{"create inside a library", func() error {
			h, err := u.Open(ctx, "/HR/new.txt", create)
			if err != nil {
				return err
			}
			return h.Release(ctx)
		}, nil},
		{"touch the root", func() error { return u.SetModTime(ctx, "/", time.Now()) }, nil},
		{"touch a library", func() error { return u.SetModTime(ctx, "/HR", time.Now()) }, nil},
		{"truncate a library", func() error { return u.Truncate(ctx, "/HR", 0) }, vfs.ErrIsDir},
		{"remove inside a library", func() error { return u.Remove(ctx, "/HR/new.txt") }, nil},
	} {
		err := tc.op()
		if (tc.want == nil && err != nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if got, err := u.ReadDir(ctx, "/Finance/Q1"); err != nil || !slices.Equal(names(got), []string{"a2.txt", "b.txt"}) {
		t.Errorf("Finance/Q1 after the rename = %v, %v", names(got), err)
	}
	if _, err := u.Stat(ctx, "/HR/c.txt"); err != nil {
		t.Errorf("HR/c.txt after refused moves: %v", err)
	}
}

func TestWritesReachTheMembersRemote(t *testing.T) {
	ctx := context.Background()
	fin, finMem := library(t, "Finance", nil)
	hr, hrMem := library(t, "HR", nil)
	u, err := union.New(false, []union.Member{fin, hr})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/Finance/f.txt", "/HR/h.txt"} {
		h, err := u.Open(ctx, p, vfs.OpenFlags{Write: true, Create: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.WriteAt(ctx, []byte(p), 0); err != nil {
			t.Fatal(err)
		}
		if err := h.Release(ctx); err != nil {
			t.Fatal(err)
		}
	}
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for _, m := range []union.Member{fin, hr} {
		if err := m.FS.Sync(sctx); err != nil {
			t.Fatalf("sync %s: %v", m.Name, err)
		}
	}
	if got, ok := finMem.ReadFile("/f.txt"); !ok || string(got) != "/Finance/f.txt" {
		t.Errorf("Finance's remote /f.txt = %q, %v", got, ok)
	}
	if got, ok := hrMem.ReadFile("/h.txt"); !ok || string(got) != "/HR/h.txt" {
		t.Errorf("HR's remote /h.txt = %q, %v", got, ok)
	}
	if _, ok := finMem.ReadFile("/h.txt"); ok {
		t.Error("HR's file reached Finance's remote")
	}
}

func TestSetChangesMembers(t *testing.T) {
	ctx := context.Background()
	fin, _ := library(t, "Finance", map[string]string{"/a.txt": "a"})
	hr, _ := library(t, "HR", nil)
	u, err := union.New(true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := u.ReadDir(ctx, "/"); err != nil || len(got) != 0 {
		t.Fatalf("empty drive's root = %v, %v", names(got), err)
	}
	if err := u.Set([]union.Member{fin, hr}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(u.Members(), []string{"Finance", "HR"}) {
		t.Errorf("Members = %v", u.Members())
	}
	// Case-insensitive: a member's name is found in any case (the names
	// inside it are the member's business).
	if _, err := u.Stat(ctx, "/finance/a.txt"); err != nil {
		t.Errorf("case-insensitive Stat: %v", err)
	}
	if err := u.Set([]union.Member{hr}); err != nil {
		t.Fatal(err)
	}
	if _, err := u.Stat(ctx, "/Finance/a.txt"); !errors.Is(err, vfs.ErrNotFound) {
		t.Errorf("Stat in a removed library = %v, want not found", err)
	}
	if got, _ := u.ReadDir(ctx, "/"); !slices.Equal(names(got), []string{"HR"}) {
		t.Errorf("root after removing Finance = %v", names(got))
	}

	for _, tc := range []struct {
		name    string
		members []union.Member
	}{
		{"same name", []union.Member{fin, {Name: "Finance", FS: hr.FS}}},
		{"same name but for case", []union.Member{fin, {Name: "FINANCE", FS: hr.FS}}},
		{"slash in a name", []union.Member{{Name: "a/b", FS: hr.FS}}},
		{"dot-dot", []union.Member{{Name: "..", FS: hr.FS}}},
		{"empty name", []union.Member{{Name: "", FS: hr.FS}}},
		{"no filesystem", []union.Member{{Name: "X"}}},
		{"over the limit", func() []union.Member {
			var ms []union.Member
			for i := range union.MaxMembers + 1 {
				ms = append(ms, union.Member{Name: fmt.Sprint("L", i), FS: hr.FS})
			}
			return ms
		}()},
	} {
		if err := u.Set(tc.members); err == nil {
			t.Errorf("Set with %s accepted", tc.name)
		}
	}
	if !slices.Equal(u.Members(), []string{"HR"}) {
		t.Errorf("a refused Set changed the members: %v", u.Members())
	}
	var hundred []union.Member
	for i := range union.MaxMembers {
		hundred = append(hundred, union.Member{Name: fmt.Sprint("L", i), FS: hr.FS})
	}
	if err := u.Set(hundred); err != nil {
		t.Errorf("Set with %d libraries: %v", union.MaxMembers, err)
	}
}

func TestStatfsSumsMembers(t *testing.T) {
	ctx := context.Background()
	fin, _ := library(t, "Finance", nil)
	hr, _ := library(t, "HR", nil)
	one, err := fin.FS.Statfs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	u, err := union.New(false, []union.Member{fin, hr})
	if err != nil {
		t.Fatal(err)
	}
	s, err := u.Statfs(ctx)
	if err != nil || s.Total != 2*one.Total || s.Free != 2*one.Free {
		t.Errorf("Statfs = %+v, %v; want twice %+v", s, err, one)
	}
}

func TestStatusAndPinsArePerLibrary(t *testing.T) {
	ctx := context.Background()
	fin, _ := library(t, "Finance", map[string]string{"/a.txt": "a"})
	hr, _ := library(t, "HR", map[string]string{"/Policies/leave.txt": "leave"})
	u, err := union.New(false, []union.Member{fin, hr})
	if err != nil {
		t.Fatal(err)
	}
	if err := u.Pin(ctx, "/Finance/a.txt", true); err != nil {
		t.Fatal(err)
	}
	if err := u.Pin(ctx, "/HR/Policies", true); err != nil {
		t.Fatal(err)
	}
	if got, want := u.Status().Pinned, []string{"/Finance/a.txt", "/HR/Policies"}; !slices.Equal(got, want) {
		t.Errorf("Status().Pinned = %v, want %v", got, want)
	}
	if err := u.Pin(ctx, "/Sales/x", true); !errors.Is(err, vfs.ErrNotFound) {
		t.Errorf("Pin in an absent library = %v, want not found", err)
	}
	u.SetUploadsPaused(true)
	for _, p := range []string{"/Finance/b.txt", "/HR/c.txt"} {
		h, err := u.Open(ctx, p, vfs.OpenFlags{Write: true, Create: true})
		if err != nil {
			t.Fatal(err)
		}
		h.WriteAt(ctx, []byte("x"), 0)
		h.Release(ctx)
	}
	if s := u.Status(); s.QueueLength != 2 || !s.Paused {
		t.Errorf("Status with one paused upload per library: queue %d, paused %v; want 2, true", s.QueueLength, s.Paused)
	}
}

// TestRemovedLibraryIsRetiredNotClosed: a library that leaves the set
// disappears from the root, but a file open in it keeps working and its
// upload finishes; it can come back without being opened again, and a new
// library under its name closes it.
func TestRemovedLibraryIsRetiredNotClosed(t *testing.T) {
	ctx := context.Background()
	fin, finMem := library(t, "Finance", nil)
	hr, _ := library(t, "HR", nil)
	u, err := union.New(false, []union.Member{fin, hr})
	if err != nil {
		t.Fatal(err)
	}
	h, err := u.Open(ctx, "/Finance/open.txt", vfs.OpenFlags{Write: true, Create: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := u.Set([]union.Member{hr}); err != nil {
		t.Fatal(err)
	}
	if _, err := u.Stat(ctx, "/Finance"); !errors.Is(err, vfs.ErrNotFound) {
		t.Errorf("Stat of a removed library = %v, want not found", err)
	}
	if !u.Holds(fin.FS) {
		t.Error("the removed library is no longer held")
	}
	if _, err := h.WriteAt(ctx, []byte("still open"), 0); err != nil {
		t.Fatalf("write to a file open in a removed library: %v", err)
	}
	if err := h.Release(ctx); err != nil {
		t.Fatalf("close a file open in a removed library: %v", err)
	}
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := u.Sync(sctx); err != nil {
		t.Fatal(err)
	}
	if got, ok := finMem.ReadFile("/open.txt"); !ok || string(got) != "still open" {
		t.Errorf("the removed library's upload: %q, %v", got, ok)
	}
	// Back, as the same vfs.FS.
	if err := u.Set([]union.Member{fin, hr}); err != nil {
		t.Fatal(err)
	}
	if _, err := u.Stat(ctx, "/Finance/open.txt"); err != nil {
		t.Errorf("the library back: %v", err)
	}
	// Retired again, then replaced by another library named Finance:
	// the old one is closed.
	if err := u.Set([]union.Member{hr}); err != nil {
		t.Fatal(err)
	}
	other, _ := library(t, "Finance2", nil)
	if err := u.Set([]union.Member{hr, {Name: "Finance", FS: other.FS}}); err != nil {
		t.Fatal(err)
	}
	if u.Holds(fin.FS) {
		t.Error("a retired library replaced under its name is still held")
	}
}

// TestTopRefusalsRecorded: a change refused at the top is kept for status
// (the five most recent, once per path); file managers' metadata is not.
func TestTopRefusalsRecorded(t *testing.T) {
	ctx := context.Background()
	fin, _ := library(t, "Finance", nil)
	u, err := union.New(false, []union.Member{fin})
	if err != nil {
		t.Fatal(err)
	}
	u.Mkdir(ctx, "/Sales")
	u.Open(ctx, "/.DS_Store", vfs.OpenFlags{Write: true, Create: true})
	u.Open(ctx, "/desktop.ini", vfs.OpenFlags{Write: true, Create: true})
	u.Rmdir(ctx, "/Finance")
	u.Mkdir(ctx, "/Sales")
	var got []string
	for _, r := range u.TopRefusals() {
		got = append(got, r.Path)
	}
	if want := []string{"/Finance", "/Sales"}; !slices.Equal(got, want) {
		t.Errorf("TopRefusals = %v, want %v", got, want)
	}
	for i := range 10 {
		u.Mkdir(ctx, fmt.Sprint("/N", i))
	}
	if n := len(u.TopRefusals()); n != 5 {
		t.Errorf("%d refusals kept, want 5", n)
	}
}
