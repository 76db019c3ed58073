//go:build linux

package fusefs

// The table of docs/posix.md, row by row, through the real FUSE mount:
// each row is one system call and the exact errno it must give (0 for
// success), plus what must hold afterwards.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mapdrive/mapdrive/client/internal/vfs"
	"github.com/mapdrive/mapdrive/client/internal/vfs/vfstest"
	"github.com/winfsp/cgofuse/fuse"
)

// posixLibrary is the library path the mount is told about: SharePoint's
// 400 characters count it (31 characters here).
const posixLibrary = "/sites/Finance/Shared Documents"

func TestMountPOSIXTable(t *testing.T) {
	e := newMount(t, func(o *vfs.Options, _ *vfstest.MemRemote) { o.LibraryPath = posixLibrary })
	p := e.p
	write := func(rel, data string) {
		t.Helper()
		if err := os.WriteFile(p(rel), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mkdir := func(rel string) {
		t.Helper()
		if err := os.Mkdir(p(rel), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	read := func(rel string) string {
		t.Helper()
		b, err := os.ReadFile(p(rel))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	absent := func(rel string) {
		t.Helper()
		if _, err := os.Lstat(p(rel)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: Lstat = %v, want not exist", rel, err)
		}
	}
	size := func(rel string) int64 {
		t.Helper()
		var st unix.Stat_t
		if err := unix.Stat(p(rel), &st); err != nil {
			t.Fatal(err)
		}
		return st.Size
	}
	write("f.txt", "hello")
	mkdir("d")
	mkdir("full")
	write("full/in.txt", "x")
	mkdir("empty")

	// room is what is left of SharePoint's 400 characters below the
	// library for one name at the drive's root: the library path and the
	// leading slash count.
	room := vfs.MaxPathChars - len(posixLibrary) - 1
	deep := strings.Repeat("p", 200)
	mkdir(deep)
	inDeep := func(n int) string { return deep + "/" + strings.Repeat("q", n) }
	below := room - len(deep) - 1 // characters left for a name in deep
	name255, name256 := strings.Repeat("n", 255), strings.Repeat("n", 256)

	rows := []struct {
		name  string
		op    func() error
		want  unix.Errno
		check func()
	}{
		// open
		{"open existing", func() error {
			fd, err := unix.Open(p("f.txt"), unix.O_RDONLY, 0)
			if err == nil {
				unix.Close(fd)
			}
			return err
		}, 0, nil},
		{"open missing", func() error { _, err := unix.Open(p("nope"), unix.O_RDONLY, 0); return err }, unix.ENOENT, nil},
		{"open folder for writing", func() error { _, err := unix.Open(p("d"), unix.O_WRONLY, 0); return err }, unix.EISDIR, nil},
		{"open below a file", func() error { _, err := unix.Open(p("f.txt/x"), unix.O_RDONLY, 0); return err }, unix.ENOTDIR, nil},
		{"open O_TRUNC", func() error {
			write("t.txt", "12345")
			fd, err := unix.Open(p("t.txt"), unix.O_WRONLY|unix.O_TRUNC, 0)
			if err == nil {
				unix.Close(fd)
			}
			return err
		}, 0, func() {
			if n := size("t.txt"); n != 0 {
				t.Errorf("size after O_TRUNC = %d", n)
			}
		}},
		// create
		{"create", func() error {
			fd, err := unix.Open(p("new.txt"), unix.O_CREAT|unix.O_WRONLY, 0o644)
			if err == nil {
				unix.Close(fd)
			}
			return err
		}, 0, nil},
		{"create O_EXCL existing", func() error {
			_, err := unix.Open(p("f.txt"), unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY, 0o644)
			return err
		}, unix.EEXIST, nil},
		{"create 255-byte name", func() error { return createFile(p(name255)) }, 0, nil},
		{"create 256-byte name", func() error { return createFile(p(name256 + "x")) }, unix.ENAMETOOLONG, func() { absent(name256 + "x") }},
		{"create path of 400 characters", func() error { return createFile(p(inDeep(below))) }, 0, nil},
		{"create path of 401 characters", func() error { return createFile(p(inDeep(below + 1))) }, unix.ENAMETOOLONG, func() { absent(inDeep(below + 1)) }},
		{"create reserved name", func() error { return createFile(p("CON")) }, unix.EINVAL, func() { absent("CON") }},
		{"create _vti_", func() error { return createFile(p("a_vti_b.txt")) }, unix.EINVAL, nil},
		{"create trailing space", func() error { return createFile(p("trail ")) }, unix.EINVAL, nil},
		{"create invalid character", func() error { return createFile(p("a:b")) }, unix.EINVAL, nil},
		{"create CON.txt (whole names only)", func() error { return createFile(p("CON.txt")) }, 0, nil},
		{"create desktop.ini (kept local)", func() error { return createFile(p("desktop.ini")) }, 0, nil},
		{"create Thumbs.db (kept local)", func() error { return createFile(p("Thumbs.db")) }, 0, nil},
		// truncate
		{"truncate", func() error { return unix.Truncate(p("f.txt"), 3) }, 0, func() {
			if got := read("f.txt"); got != "hel" {
				t.Errorf("after truncate: %q", got)
			}
		}},
		{"truncate extends with zeros", func() error { return unix.Truncate(p("f.txt"), 6) }, 0, func() {
			if got := read("f.txt"); got != "hel\x00\x00\x00" {
				t.Errorf("after truncate: %q", got)
			}
		}},
		{"truncate folder", func() error { return unix.Truncate(p("d"), 0) }, unix.EISDIR, nil},
		{"truncate missing", func() error { return unix.Truncate(p("nope"), 0) }, unix.ENOENT, nil},
		// ftruncate
		{"ftruncate", func() error {
			fd, err := unix.Open(p("f.txt"), unix.O_RDWR, 0)
			if err != nil {
				return err
			}
			defer unix.Close(fd)
			return unix.Ftruncate(fd, 2)
		}, 0, func() {
			if got := read("f.txt"); got != "he" {
				t.Errorf("after ftruncate: %q", got)
			}
		}},
		{"ftruncate read-only descriptor", func() error {
			fd, err := unix.Open(p("f.txt"), unix.O_RDONLY, 0)
			if err != nil {
				return err
			}
			defer unix.Close(fd)
			return unix.Ftruncate(fd, 0)
		}, unix.EINVAL, nil},
		// mkdir
		{"mkdir", func() error { return unix.Mkdir(p("m"), 0o755) }, 0, nil},
		{"mkdir existing", func() error { return unix.Mkdir(p("d"), 0o755) }, unix.EEXIST, nil},
		{"mkdir over a file", func() error { return unix.Mkdir(p("f.txt"), 0o755) }, unix.EEXIST, nil},
		{"mkdir below a file", func() error { return unix.Mkdir(p("f.txt/x"), 0o755) }, unix.ENOTDIR, nil},
		{"mkdir 255-byte name", func() error { return unix.Mkdir(p("d/"+name255), 0o755) }, 0, nil},
		{"mkdir 256-byte name", func() error { return unix.Mkdir(p("d/"+name256), 0o755) }, unix.ENAMETOOLONG, func() { absent("d/" + name256) }},
		{"mkdir path of 400 characters", func() error { return unix.Mkdir(p(deep+"/"+strings.Repeat("r", below)), 0o755) }, 0, nil},
		{"mkdir path crossing 400 characters", func() error { return unix.Mkdir(p(deep+"/"+strings.Repeat("r", below+1)), 0o755) },
			unix.ENAMETOOLONG, func() { absent(deep + "/" + strings.Repeat("r", below+1)) }},
		{"mkdir reserved name", func() error { return unix.Mkdir(p("LPT1"), 0o755) }, unix.EINVAL, func() { absent("LPT1") }},
		{"mkdir .lock", func() error { return unix.Mkdir(p(".lock"), 0o755) }, unix.EINVAL, nil},
		{"mkdir forms at the library root", func() error { return unix.Mkdir(p("Forms"), 0o755) }, unix.EINVAL, func() { absent("Forms") }},
		{"mkdir forms below the root", func() error { return unix.Mkdir(p("d/forms"), 0o755) }, 0, nil},
		{"create a file named forms at the root", func() error { return createFile(p("forms")) }, 0, func() { _ = unix.Unlink(p("forms")) }},
		// rmdir
		{"rmdir not empty", func() error { return unix.Rmdir(p("full")) }, unix.ENOTEMPTY, nil},
		{"rmdir a file", func() error { return unix.Rmdir(p("f.txt")) }, unix.ENOTDIR, nil},
		{"rmdir missing", func() error { return unix.Rmdir(p("nope")) }, unix.ENOENT, nil},
		{"rmdir", func() error { return unix.Rmdir(p("m")) }, 0, func() { absent("m") }},
		// unlink
		{"unlink a folder", func() error { return unix.Unlink(p("d")) }, unix.EISDIR, nil},
		{"unlink missing", func() error { return unix.Unlink(p("nope")) }, unix.ENOENT, nil},
		{"unlink", func() error { return unix.Unlink(p("new.txt")) }, 0, func() { absent("new.txt") }},
		// rename
		{"rename over an existing file replaces it", func() error {
			write("r1.txt", "one")
			write("r2.txt", "two")
			return unix.Rename(p("r1.txt"), p("r2.txt"))
		}, 0, func() {
			absent("r1.txt")
			if got := read("r2.txt"); got != "one" {
				t.Errorf("r2.txt = %q, want one", got)
			}
		}},
		{"rename folder over an empty folder", func() error {
			mkdir("rd")
			write("rd/x", "x")
			return unix.Rename(p("rd"), p("empty"))
		}, 0, func() {
			absent("rd")
			if got := read("empty/x"); got != "x" {
				t.Errorf("empty/x = %q", got)
			}
		}},
		{"rename folder over a folder that is not empty", func() error { return unix.Rename(p("d"), p("full")) }, unix.ENOTEMPTY, nil},
		{"rename file over a folder", func() error { return unix.Rename(p("f.txt"), p("d")) }, unix.EISDIR, nil},
		{"rename folder over a file", func() error { return unix.Rename(p("d"), p("f.txt")) }, unix.ENOTDIR, nil},
		{"rename folder into its own child", func() error {
			mkdir("d/child")
			return unix.Rename(p("d"), p("d/child/d"))
		}, unix.EINVAL, nil},
		{"rename missing", func() error { return unix.Rename(p("nope"), p("nope2")) }, unix.ENOENT, nil},
		{"rename to a reserved name", func() error { return unix.Rename(p("f.txt"), p("AUX")) }, unix.EINVAL, func() { absent("AUX") }},
		{"rename folder to forms at the library root", func() error { return unix.Rename(p("d/forms"), p("FORMS")) }, unix.EINVAL, func() { absent("FORMS") }},
		{"rename to a 256-byte name", func() error { return unix.Rename(p("f.txt"), p(name256)) }, unix.ENAMETOOLONG, nil},
		{"rename past 400 characters", func() error { return unix.Rename(p("f.txt"), p(inDeep(below+1))) }, unix.ENAMETOOLONG, nil},
		{"rename folder so an item below passes 400 characters", func() error {
			return unix.Rename(p(deep), p(deep+"x"))
		}, unix.ENAMETOOLONG, nil},
		// utimensat: the modification time is kept; a drive has no
		// access time, so stat reports the modification time for it.
		{"utimensat atime and mtime apart", func() error {
			// With no upload pending and the delta that reports it seen:
			// the time is kept here only, and the next answer from the
			// server about the item brings the server's time back
			// (docs/posix.md).
			e.sync(30 * time.Second)
			e.seen()
			ts := []unix.Timespec{unix.NsecToTimespec(time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano()),
				unix.NsecToTimespec(time.Date(2021, 6, 7, 8, 9, 10, 0, time.UTC).UnixNano())}
			return unix.UtimesNanoAt(unix.AT_FDCWD, p("r2.txt"), ts, 0)
		}, 0, func() {
			var st unix.Stat_t
			if err := unix.Stat(p("r2.txt"), &st); err != nil {
				t.Fatal(err)
			}
			want := time.Date(2021, 6, 7, 8, 9, 10, 0, time.UTC)
			if mt := time.Unix(st.Mtim.Unix()); !mt.Equal(want) {
				t.Errorf("mtime = %v, want %v", mt.UTC(), want)
			}
			if at := time.Unix(st.Atim.Unix()); !at.Equal(want) {
				t.Errorf("atime = %v, want the mtime %v (no access time is kept)", at.UTC(), want)
			}
		}},
		{"utimensat atime only keeps mtime", func() error {
			ts := []unix.Timespec{unix.NsecToTimespec(time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()),
				{Sec: 0, Nsec: unix.UTIME_OMIT}}
			return unix.UtimesNanoAt(unix.AT_FDCWD, p("r2.txt"), ts, 0)
		}, 0, func() {
			var st unix.Stat_t
			if err := unix.Stat(p("r2.txt"), &st); err != nil {
				t.Fatal(err)
			}
			if mt := time.Unix(st.Mtim.Unix()); !mt.Equal(time.Date(2021, 6, 7, 8, 9, 10, 0, time.UTC)) {
				t.Errorf("mtime after setting atime only = %v", mt.UTC())
			}
		}},
		{"utimensat mtime only (touch -m)", func() error {
			ts := []unix.Timespec{{Sec: 0, Nsec: unix.UTIME_OMIT},
				unix.NsecToTimespec(time.Date(2020, 2, 3, 4, 5, 6, 0, time.UTC).UnixNano())}
			return unix.UtimesNanoAt(unix.AT_FDCWD, p("r2.txt"), ts, 0)
		}, 0, func() {
			var st unix.Stat_t
			if err := unix.Stat(p("r2.txt"), &st); err != nil {
				t.Fatal(err)
			}
			// libfuse 2's high-level API drops a change that leaves
			// one time alone (docs/posix.md); libfuse 3 passes it on.
			want := time.Date(2020, 2, 3, 4, 5, 6, 0, time.UTC)
			if !libfuse3 {
				want = time.Date(2021, 6, 7, 8, 9, 10, 0, time.UTC)
			}
			if mt := time.Unix(st.Mtim.Unix()); !mt.Equal(want) {
				t.Errorf("mtime after setting mtime only = %v, want %v (libfuse 3: %v)", mt.UTC(), want, libfuse3)
			}
		}},
		{"utimensat missing", func() error { return unix.UtimesNanoAt(unix.AT_FDCWD, p("nope"), nil, 0) }, unix.ENOENT, nil},
		// What a drive does not have.
		{"symlink", func() error { return unix.Symlink("r2.txt", p("sl")) }, unix.EPERM, func() { absent("sl") }},
		{"link", func() error { return unix.Link(p("r2.txt"), p("hl")) }, unix.EPERM, func() { absent("hl") }},
		{"mkfifo", func() error { return unix.Mkfifo(p("fifo"), 0o644) }, unix.EPERM, func() { absent("fifo") }},
		{"mknod socket", func() error { return unix.Mknod(p("sock"), unix.S_IFSOCK|0o644, 0) }, unix.EPERM, nil},
		{"mknod regular file", func() error { return unix.Mknod(p("mk.txt"), unix.S_IFREG|0o644, 0) }, 0, func() {
			if n := size("mk.txt"); n != 0 {
				t.Errorf("mknod file size %d", n)
			}
		}},
		{"chmod succeeds without effect", func() error { return unix.Chmod(p("r2.txt"), 0o600) }, 0, nil},
		{"chown succeeds without effect", func() error { return unix.Chown(p("r2.txt"), os.Getuid(), os.Getgid()) }, 0, nil},
		{"chmod missing", func() error { return unix.Chmod(p("nope"), 0o600) }, unix.ENOENT, nil},
	}
	for _, r := range rows {
		err := r.op()
		var got unix.Errno
		if err != nil && !errors.As(err, &got) {
			t.Errorf("%s: %v, not an errno", r.name, err)
			continue
		}
		if got != r.want {
			t.Errorf("%s: errno %d (%v), want %d (%v)", r.name, int(got), err, int(r.want), r.want)
			continue
		}
		if r.check != nil {
			r.check()
		}
	}

	// Nothing refused was queued, and every refusal named its file.
	e.sync(30 * time.Second)
	if got := e.fs.Status().QueueLength; got != 0 {
		t.Errorf("QueueLength = %d after the table", got)
	}
	e.remoteHas("/r2.txt", []byte("one"))
	e.remoteHas("/CON.txt", nil)
	for _, local := range []string{"desktop.ini", "Thumbs.db"} {
		if _, ok := e.remote.ReadFile("/" + local); ok {
			t.Errorf("%s was uploaded; it must stay local", local)
		}
	}
	var names []string
	for _, ie := range e.fs.Status().Errors {
		if ie.Refused {
			names = append(names, ie.Path)
		}
	}
	for _, want := range []string{"/CON", "/LPT1", "/AUX"} {
		found := false
		for _, n := range names {
			found = found || n == want
		}
		if !found {
			t.Errorf("no refusal naming %s in Status.Errors (%d refusals)", want, len(names))
		}
	}
}

// createFile creates an empty file with open(O_CREAT|O_EXCL).
func createFile(path string) error {
	fd, err := unix.Open(path, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	return unix.Close(fd)
}

// TestMountStatfsAdvertisesNameMax checks that the mount advertises the
// NAME_MAX it enforces (TestMountPOSIXTable).
func TestMountStatfsAdvertisesNameMax(t *testing.T) {
	e := newMount(t)
	var st unix.Statfs_t
	if err := unix.Statfs(e.dir, &st); err != nil {
		t.Fatal(err)
	}
	if st.Namelen != vfs.MaxNameBytes {
		t.Errorf("statfs f_namelen = %d, want %d", st.Namelen, vfs.MaxNameBytes)
	}
}

// The errno of each refusal, for the errors the Linux kernel answers
// itself before the call reaches the mount (a folder moved into itself)
// but WinFsp and macFUSE pass on.
func TestErrnoOfRefusals(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{fmt.Errorf("mkdir /x: %w", vfs.ErrNameTooLong), -fuse.ENAMETOOLONG},
		{fmt.Errorf("mkdir /CON: %w", vfs.ErrInvalidName), -fuse.EINVAL},
		{fmt.Errorf("rename /d: %w", vfs.ErrIntoItself), -fuse.EINVAL},
	} {
		if got := errno(tc.err); got != tc.want {
			t.Errorf("errno(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

// Utimens as WinFsp and macFUSE call it, with UTIME_OMIT for a time left
// alone and UTIME_NOW for the current time (libfuse 2 on Linux resolves
// both itself, so TestMountPOSIXTable cannot reach these cases).
func TestAdapterUtimensOmitAndNow(t *testing.T) {
	mem := vfstest.NewMemRemote()
	mem.WriteFile("/f.txt", []byte("x"))
	fsys, err := vfs.New(context.Background(), vfs.Options{Remote: mem, StateDir: t.TempDir(), CacheDir: t.TempDir(),
		CacheKey: make([]byte, 32), PollInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer fsys.Close()
	a := &adapter{fs: fsys, ctx: context.Background(), log: slog.New(slog.DiscardHandler)}
	mtime := func() time.Time {
		t.Helper()
		at, err := fsys.Stat(context.Background(), "/f.txt")
		if err != nil {
			t.Fatal(err)
		}
		return at.ModTime
	}
	set := time.Date(2021, 6, 7, 8, 9, 10, 0, time.UTC)
	if e := a.Utimens("/f.txt", []fuse.Timespec{fuse.NewTimespec(time.Unix(0, 0)), fuse.NewTimespec(set)}); e != 0 {
		t.Fatalf("Utimens = %d", e)
	}
	if got := mtime(); !got.Equal(set) {
		t.Fatalf("mtime = %v, want %v", got, set)
	}
	if e := a.Utimens("/f.txt", []fuse.Timespec{fuse.NewTimespec(time.Unix(0, 0)), {Nsec: fuse.UTIME_OMIT}}); e != 0 {
		t.Fatalf("Utimens(atime, UTIME_OMIT) = %d", e)
	}
	if got := mtime(); !got.Equal(set) {
		t.Errorf("mtime after UTIME_OMIT = %v, want %v kept", got, set)
	}
	if e := a.Utimens("/f.txt", []fuse.Timespec{{Nsec: fuse.UTIME_OMIT}, {Nsec: fuse.UTIME_NOW}}); e != 0 {
		t.Fatalf("Utimens(UTIME_NOW) = %d", e)
	}
	if got := mtime(); time.Since(got) > time.Minute {
		t.Errorf("mtime after UTIME_NOW = %v, want about now", got)
	}
	if e := a.Utimens("/nope", []fuse.Timespec{{Nsec: fuse.UTIME_OMIT}, {Nsec: fuse.UTIME_OMIT}}); e != -fuse.ENOENT {
		t.Errorf("Utimens(missing, omit) = %d, want ENOENT", e)
	}
}
