package vfstest

// The exported conformance suite: the filesystem behaviours a program can
// see, run through any Target. vfstest runs it on vfs.FS directly
// (conformance_test.go) and fusefs through a real FUSE mount, so a
// behaviour is written once and checked on both sides of the kernel.
// Behaviours that need vfs internals (status, events, the journal) or a
// fake clock stay in the vfs-only tests of this package.

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mapdrive/mapdrive/client/internal/vfs"
)

// Host is the vfs.Options.Host every Target must be opened with: it names
// the conflict copies the suite expects.
const Host = "testhost"

// Target is a filesystem under test as a program sees it, with the server
// behind it. Paths are slash-separated and rooted at "/". An error must
// match, with errors.Is, the vfs sentinel whose errno it carries (a mount
// reports vfs.ErrExist as EEXIST, so its EEXIST must match vfs.ErrExist).
//
// The file operations take no context: they stand for system calls,
// which a program cannot cancel either; a Target bounds them itself.
type Target interface {
	// OpenFile opens name with os.O_* flags.
	OpenFile(name string, flag int) (File, error)
	Mkdir(name string) error
	// Remove removes a file; Rmdir an empty folder.
	Remove(name string) error
	Rmdir(name string) error
	Rename(oldname, newname string) error
	// Truncate sets the size of the file at name.
	Truncate(name string, size int64) error
	// ReadDir returns the names in the folder at name, sorted.
	ReadDir(name string) ([]string, error)
	Stat(name string) (fs.FileInfo, error)

	// Remote is the server: the suite changes files "elsewhere" through
	// it and checks what reached it. The Target must run on it.
	Remote() *MemRemote
	// Refresh makes the Target see the server's changes, as the next poll
	// would, and notices whether the server is reachable. The suite calls
	// it after changing Remote, before looking through the Target.
	Refresh(ctx context.Context) error
	// Sync returns once every change made through the Target is uploaded
	// (vfs.FS.Sync).
	Sync(ctx context.Context) error
}

// File is an open file of a Target.
type File interface {
	io.ReaderAt
	io.WriterAt
	Truncate(size int64) error
	// Sync is fsync.
	Sync() error
	Close() error
}

// conformanceCase is one behaviour; run opens the Targets it needs.
type conformanceCase struct {
	name string
	run  func(t *testing.T, newFS func(t *testing.T) Target)
}

// Run runs every case of the suite as a subtest, each on a fresh Target
// from newFS, which must open it with Host and unlimited quota and
// release it in t.Cleanup.
func Run(t *testing.T, newFS func(t *testing.T) Target) {
	for _, c := range conformanceCases {
		t.Run(c.name, func(t *testing.T) { c.run(t, newFS) })
	}
}

var conformanceCases = []conformanceCase{
	{"FileOperations", fileOperations},
	{"NamespaceOperations", namespaceOperations},
	{"RandomWritesAppendTruncate", randomWritesAppendTruncate},
	{"UploadsSimpleAndSession", uploadsSimpleAndSession},
	{"ReadsFetchOnlyNeededRanges", readsFetchOnlyNeededRanges},
	{"HashVerifiedAndRetried", hashVerifiedAndRetried},
	{"ConflictKeepsBothVersions", conflictKeepsBothVersions},
	{"EditorFilesStayLocal", editorFilesStayLocal},
	{"SaveByRenameKeepsItemID", saveByRenameKeepsItemID},
	{"SharePointRewriteAcceptedWithoutLoop", sharePointRewriteAcceptedWithoutLoop},
	{"FolderMoveThatWouldPassPathLimitRefused", folderMoveThatWouldPassPathLimitRefused},
	{"TransientFailuresRetriedUntilConfirmed", transientFailuresRetriedUntilConfirmed},
	{"OfflineEditsUploadOnReconnect", offlineEditsUploadOnReconnect},
}

// suite is one case's Target with the helpers the cases share.
type suite struct {
	t      *testing.T
	fs     Target
	remote *MemRemote
}

func start(t *testing.T, newFS func(t *testing.T) Target) *suite {
	t.Helper()
	fsys := newFS(t)
	return &suite{t: t, fs: fsys, remote: fsys.Remote()}
}

func (s *suite) must(err error) {
	s.t.Helper()
	if err != nil {
		s.t.Fatal(err)
	}
}

// write creates (or truncates) p and writes data in 100 KiB pieces.
func (s *suite) write(p string, data []byte) {
	s.t.Helper()
	f, err := s.fs.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		s.t.Fatalf("create %s: %v", p, err)
	}
	for off := 0; off < len(data); off += 100 << 10 {
		if _, err := f.WriteAt(data[off:min(off+100<<10, len(data))], int64(off)); err != nil {
			f.Close()
			s.t.Fatalf("write %s: %v", p, err)
		}
	}
	if err := f.Close(); err != nil {
		s.t.Fatalf("close %s: %v", p, err)
	}
}

// writeAt writes data at off into the existing file p.
func (s *suite) writeAt(p string, data []byte, off int64) {
	s.t.Helper()
	f, err := s.fs.OpenFile(p, os.O_WRONLY)
	if err != nil {
		s.t.Fatalf("open %s: %v", p, err)
	}
	if _, err := f.WriteAt(data, off); err != nil {
		f.Close()
		s.t.Fatalf("write %s at %d: %v", p, off, err)
	}
	if err := f.Close(); err != nil {
		s.t.Fatalf("close %s: %v", p, err)
	}
}

func (s *suite) read(p string) ([]byte, error) {
	f, err := s.fs.OpenFile(p, os.O_RDONLY)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readAllAt(f.ReadAt)
}

// readAllAt reads from offset 0 through readAt until io.EOF.
func readAllAt(readAt func(p []byte, off int64) (int, error)) ([]byte, error) {
	var out []byte
	buf := make([]byte, 128<<10)
	for off := int64(0); ; {
		n, err := readAt(buf, off)
		out = append(out, buf[:n]...)
		off += int64(n)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

func (s *suite) mustRead(p string) []byte {
	s.t.Helper()
	b, err := s.read(p)
	if err != nil {
		s.t.Fatalf("read %s: %v", p, err)
	}
	return b
}

func (s *suite) names(p string) []string {
	s.t.Helper()
	names, err := s.fs.ReadDir(p)
	if err != nil {
		s.t.Fatalf("ReadDir(%s): %v", p, err)
	}
	return names
}

// sync waits for the uploads; generous, for a loaded 2-core machine.
func (s *suite) sync() {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(s.t.Context(), 5*time.Minute)
	defer cancel()
	if err := s.fs.Sync(ctx); err != nil {
		s.t.Fatalf("Sync: %v", err)
	}
}

func (s *suite) refresh() {
	s.t.Helper()
	if err := s.fs.Refresh(s.t.Context()); err != nil {
		s.t.Fatalf("Refresh: %v", err)
	}
}

func (s *suite) remoteHas(p string, want []byte) {
	s.t.Helper()
	got, ok := s.remote.ReadFile(p)
	if !ok {
		s.t.Fatalf("remote has no %s (names in its folder %v)", p, s.remote.Names(path.Dir(p)))
	}
	if !bytes.Equal(got, want) {
		s.t.Fatalf("remote %s: %d bytes, want %d (equal prefix %d)", p, len(got), len(want), commonPrefix(got, want))
	}
}

// eventually polls check until it returns nil. A mount's kernel caches
// attributes and names for a second, so what the server changed shows
// there a little later than in the vfs.
func (s *suite) eventually(what string, check func() error) {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s: still %v after 30 s", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// reads reports whether p reads as want.
func (s *suite) reads(p string, want []byte) error {
	got, err := s.read(p)
	if err != nil {
		return err
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("%s reads %q, want %q", p, trim(got), trim(want))
	}
	return nil
}

func trim(b []byte) []byte { return b[:min(len(b), 40)] }

func commonPrefix(a, b []byte) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// fileOperations: what a shell session does (mkdir -p, cp, >>, truncate,
// mv, rm, rmdir, dd conv=notrunc) lands locally and on the server.
func fileOperations(t *testing.T, newFS func(t *testing.T) Target) {
	s := start(t, newFS)
	for _, d := range []string{"/a", "/a/b", "/a/b/c"} {
		s.must(s.fs.Mkdir(d))
	}
	data := randBytes(3<<20 + 17)
	s.write("/a/b/copy.bin", data)
	if got := s.mustRead("/a/b/copy.bin"); !bytes.Equal(got, data) {
		t.Fatalf("copy.bin reads back different (equal prefix %d)", commonPrefix(got, data))
	}
	s.write("/notes.txt", []byte("first\n"))
	fi, err := s.fs.Stat("/notes.txt")
	s.must(err)
	s.writeAt("/notes.txt", []byte("second\n"), fi.Size())
	s.write("/t.bin", []byte("xyz"))
	s.must(s.fs.Truncate("/t.bin", 100000))
	if fi, err := s.fs.Stat("/t.bin"); err != nil || fi.Size() != 100000 {
		t.Fatalf("Stat(t.bin) after growing = %v, %v; want size 100000", fi, err)
	}
	s.must(s.fs.Truncate("/t.bin", 5))
	s.must(s.fs.Rename("/a/b/copy.bin", "/a/moved.bin"))
	s.must(s.fs.Rename("/notes.txt", "/a/b/c/notes.txt"))
	s.write("/gone.txt", []byte("gone"))
	s.must(s.fs.Remove("/gone.txt"))
	if _, err := s.fs.Stat("/gone.txt"); !errors.Is(err, vfs.ErrNotFound) {
		t.Errorf("Stat(removed file) = %v, want ErrNotFound", err)
	}
	s.must(s.fs.Mkdir("/empty"))
	s.must(s.fs.Rmdir("/empty"))
	rbin := make([]byte, 600<<10)
	s.write("/r.bin", rbin)
	for _, w := range []struct {
		off int
		n   int
	}{{200001, 33}, {50 << 12, 3 << 12}} {
		b := randBytes(w.n)
		s.writeAt("/r.bin", b, int64(w.off))
		copy(rbin[w.off:], b)
	}
	if got := s.names("/"); !slices.Equal(got, []string{"a", "r.bin", "t.bin"}) {
		t.Fatalf("ReadDir(/) = %v, want [a r.bin t.bin]", got)
	}
	if err := s.reads("/a/b/c/notes.txt", []byte("first\nsecond\n")); err != nil {
		t.Fatal(err)
	}
	if err := s.reads("/t.bin", []byte("xyz\x00\x00")); err != nil {
		t.Fatal(err)
	}
	if got := s.mustRead("/r.bin"); !bytes.Equal(got, rbin) {
		t.Fatalf("r.bin reads different (equal prefix %d)", commonPrefix(got, rbin))
	}
	s.sync()
	s.remoteHas("/a/moved.bin", data)
	s.remoteHas("/a/b/c/notes.txt", []byte("first\nsecond\n"))
	s.remoteHas("/t.bin", []byte("xyz\x00\x00"))
	s.remoteHas("/r.bin", rbin)
	if got := s.remote.Names("/"); !slices.Equal(got, []string{"a", "r.bin", "t.bin"}) {
		t.Fatalf("remote root = %v, want [a r.bin t.bin]", got)
	}
}

// namespaceOperations: renames, the refusals of rmdir, mkdir and
// exclusive create, and case twins refused while lookups stay exact
// (elsewhere than Windows, which folds case: case_test.go).
func namespaceOperations(t *testing.T, newFS func(t *testing.T) Target) {
	s := start(t, newFS)
	s.must(s.fs.Mkdir("/a"))
	s.must(s.fs.Mkdir("/a/b"))
	s.write("/a/b/f.txt", []byte("f"))
	s.sync()
	s.must(s.fs.Rename("/a/b", "/a/c"))
	s.must(s.fs.Rename("/a/c/f.txt", "/g.txt"))
	if err := s.fs.Rmdir("/a"); !errors.Is(err, vfs.ErrNotEmpty) {
		t.Errorf("Rmdir(non-empty) = %v, want ErrNotEmpty", err)
	}
	s.must(s.fs.Rmdir("/a/c"))
	if err := s.fs.Mkdir("/a"); !errors.Is(err, vfs.ErrExist) {
		t.Errorf("Mkdir(existing) = %v, want ErrExist", err)
	}
	if f, err := s.fs.OpenFile("/g.txt", os.O_RDWR|os.O_CREATE|os.O_EXCL); !errors.Is(err, vfs.ErrExist) {
		t.Errorf("exclusive create of existing = %v, want ErrExist", err)
		if err == nil {
			f.Close()
		}
	}
	// SharePoint names are case-insensitive: a case twin would be the
	// same item on the server.
	if f, err := s.fs.OpenFile("/G.TXT", os.O_RDWR|os.O_CREATE|os.O_TRUNC); !errors.Is(err, vfs.ErrExist) {
		t.Errorf("create of a case twin = %v, want ErrExist", err)
		if err == nil {
			f.Close()
		}
	}
	if err := s.fs.Mkdir("/A"); !errors.Is(err, vfs.ErrExist) {
		t.Errorf("Mkdir of a case twin = %v, want ErrExist", err)
	}
	s.write("/b.txt", []byte("b"))
	if err := s.fs.Rename("/b.txt", "/G.TXT"); !errors.Is(err, vfs.ErrExist) {
		t.Errorf("Rename onto a case twin = %v, want ErrExist", err)
	}
	// Lookups stay exact: the twin's name finds nothing.
	if _, err := s.fs.Stat("/G.TXT"); !errors.Is(err, vfs.ErrNotFound) {
		t.Errorf("Stat of a case twin = %v, want ErrNotFound", err)
	}
	if _, err := s.fs.Stat("/nope"); !errors.Is(err, vfs.ErrNotFound) {
		t.Errorf("Stat(missing) = %v, want ErrNotFound", err)
	}
	s.sync()
	if got := s.remote.Names("/"); !slices.Equal(got, []string{"a", "b.txt", "g.txt"}) {
		t.Errorf("remote root = %v, want [a b.txt g.txt]", got)
	}
	if got := s.remote.Names("/a"); len(got) != 0 {
		t.Errorf("remote /a = %v, want empty", got)
	}
	s.remoteHas("/g.txt", []byte("f"))
}

func randomWritesAppendTruncate(t *testing.T, newFS func(t *testing.T) Target) {
	s := start(t, newFS)
	model := randBytes(1<<20 + 777)
	s.remote.WriteFile("/r.bin", model)
	s.refresh()
	f, err := s.fs.OpenFile("/r.bin", os.O_RDWR)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	writeAt := func(off int, p []byte) {
		t.Helper()
		if _, err := f.WriteAt(p, int64(off)); err != nil {
			t.Fatalf("WriteAt(%d): %v", off, err)
		}
		if end := off + len(p); end > len(model) {
			model = append(model, make([]byte, end-len(model))...)
		}
		copy(model[off:], p)
	}
	writeAt(5, []byte("hello"))
	writeAt(300000, randBytes(70000))
	writeAt(len(model), []byte("appended"))
	writeAt(len(model)+5000, []byte("past a hole"))
	s.must(f.Truncate(200001))
	model = model[:200001]
	s.must(f.Truncate(400000))
	model = append(model, make([]byte, 400000-len(model))...)
	writeAt(131071, []byte{1, 2, 3})
	s.must(f.Close())
	if got := s.mustRead("/r.bin"); !bytes.Equal(got, model) {
		t.Fatalf("local content differs (equal prefix %d of %d)", commonPrefix(got, model), len(model))
	}
	s.sync()
	s.remoteHas("/r.bin", model)
}

func uploadsSimpleAndSession(t *testing.T, newFS func(t *testing.T) Target) {
	for _, tc := range []struct {
		name      string
		size      int
		puts      int
		fragments int
	}{
		{"empty", 0, 1, 0},
		{"small", 1000, 1, 0},
		{"4MiB exactly", 4 << 20, 1, 0},
		{"4MiB+1", 4<<20 + 1, 0, 1},
		{"25MiB", 25 << 20, 0, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := start(t, newFS)
			data := randBytes(tc.size)
			s.write("/up.bin", data)
			s.sync()
			s.remoteHas("/up.bin", data)
			if got := s.remote.Calls("PutSmall"); got != tc.puts {
				t.Errorf("PutSmall calls = %d, want %d", got, tc.puts)
			}
			if got := len(s.remote.Fragments()); got != tc.fragments {
				t.Errorf("fragments = %d, want %d", got, tc.fragments)
			}
			if fi, err := s.fs.Stat("/up.bin"); err != nil || fi.Size() != int64(tc.size) {
				t.Errorf("after upload Stat = %v, %v; want size %d", fi, err, tc.size)
			}
		})
	}
}

func readsFetchOnlyNeededRanges(t *testing.T, newFS func(t *testing.T) Target) {
	s := start(t, newFS)
	data := randBytes(20 << 20)
	s.remote.WriteFile("/big.bin", data)
	s.refresh()
	f, err := s.fs.OpenFile("/big.bin", os.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const off = 7<<20 + 12345
	buf := make([]byte, 64<<10)
	n, err := f.ReadAt(buf, off)
	if err != nil || n != len(buf) || !bytes.Equal(buf, data[off:][:len(buf)]) {
		t.Fatalf("ReadAt = %d, %v (content equal %v)", n, err, bytes.Equal(buf, data[off:][:len(buf)]))
	}
	if got := s.remote.BytesRead(); got > 1<<20 {
		t.Fatalf("a 64 KiB read downloaded %d bytes", got)
	}
}

func hashVerifiedAndRetried(t *testing.T, newFS func(t *testing.T) Target) {
	s := start(t, newFS)
	s.remote.CorruptUploads(1)
	data := randBytes(10000)
	s.write("/v.bin", data)
	s.sync()
	s.remoteHas("/v.bin", data)
	if got := s.remote.Calls("PutSmall"); got != 2 {
		t.Errorf("PutSmall calls = %d, want 2 (one corrupted, one verified)", got)
	}
	// The corrupted copy was replaced, not kept beside a new one.
	if got := s.names("/"); !slices.Equal(got, []string{"v.bin"}) {
		t.Errorf("names after a corrupted upload = %v, want only v.bin", got)
	}
}

// conflictKeepsBothVersions: a file saved here while another writer
// changed it on the server keeps both, the server's under the name and
// this one beside it. (Status and events: TestConflictReported.)
func conflictKeepsBothVersions(t *testing.T, newFS func(t *testing.T) Target) {
	s := start(t, newFS)
	s.remote.WriteFile("/report.txt", []byte("base"))
	s.refresh()
	f, err := s.fs.OpenFile("/report.txt", os.O_WRONLY|os.O_TRUNC)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("mine"), 0); err != nil {
		t.Fatal(err)
	}
	s.remote.WriteFile("/report.txt", []byte("theirs"))
	s.must(f.Close())
	s.sync()
	want := vfs.ConflictName("report.txt", Host, time.Now(), 1)
	if !strings.HasPrefix(want, "report (conflict from "+Host+" ") {
		t.Errorf("conflict name %q", want)
	}
	if got := s.remote.Names("/"); !slices.Equal(got, []string{want, "report.txt"}) {
		t.Fatalf("remote names = %v, want [%s report.txt]", got, want)
	}
	s.remoteHas("/report.txt", []byte("theirs"))
	s.remoteHas("/"+want, []byte("mine"))
	s.eventually("both versions in the filesystem", func() error {
		if err := s.reads("/report.txt", []byte("theirs")); err != nil {
			return err
		}
		return s.reads("/"+want, []byte("mine"))
	})
}

func editorFilesStayLocal(t *testing.T, newFS func(t *testing.T) Target) {
	s := start(t, newFS)
	// The last ones are Windows': Explorer's folder settings and
	// thumbnail caches, and Excel's and PowerPoint's hex-named temps.
	names := []string{"~$report.docx", ".~lock.sheet.ods#", "~WRD0001.tmp", ".notes.txt.swp",
		"desktop.ini", "Thumbs.db", "ehthumbs.db", "1C2D3E4F.tmp", "pptA1B2.tmp"}
	for _, n := range names {
		s.write("/"+n, []byte("lock"))
	}
	s.sync()
	if got := s.remote.Calls("PutSmall"); got != 0 {
		t.Fatalf("editor files uploaded: %d PutSmall calls", got)
	}
	if got := s.names("/"); len(got) != len(names) {
		t.Fatalf("local names = %v, want the %d written", got, len(names))
	}
}

// saveByRenameKeepsItemID: the ways editors save (a temp renamed over the
// original; Word's, Excel's and PowerPoint's swaps) update the original
// item, so its id and version history stay.
func saveByRenameKeepsItemID(t *testing.T, newFS func(t *testing.T) Target) {
	for _, tc := range []struct {
		name  string
		steps func(s *suite)
	}{
		{"temp renamed over original", func(s *suite) {
			s.write("/.goutputstream-ABC", []byte("v2"))
			s.must(s.fs.Rename("/.goutputstream-ABC", "/doc.docx"))
		}},
		{"uploaded temp renamed over original", func(s *suite) {
			s.write("/doc.docx.tmp123", []byte("v2"))
			s.sync()
			s.must(s.fs.Rename("/doc.docx.tmp123", "/doc.docx"))
		}},
		// Word keeps its owner file ~$ open meanwhile.
		{"Word: original to ~WRL, temp to original, delete ~WRL", func(s *suite) {
			s.write("/~$doc.docx", []byte("lock"))
			s.write("/~WRD0000.tmp", []byte("v2"))
			s.must(s.fs.Rename("/doc.docx", "/~WRL0001.tmp"))
			s.must(s.fs.Rename("/~WRD0000.tmp", "/doc.docx"))
			s.must(s.fs.Remove("/~WRL0001.tmp"))
			s.must(s.fs.Remove("/~$doc.docx"))
		}},
		// Excel on Windows: the new content in an extensionless hex-named
		// temp, the original renamed to a hex-named .tmp, the temp renamed
		// to the original's name, the old one deleted.
		{"Excel: temp, original to hex .tmp, temp to original, delete", func(s *suite) {
			s.write("/8C3A4D00", []byte("v2"))
			s.must(s.fs.Rename("/doc.docx", "/1F2B3C4D.tmp"))
			s.must(s.fs.Rename("/8C3A4D00", "/doc.docx"))
			s.must(s.fs.Remove("/1F2B3C4D.tmp"))
		}},
		// PowerPoint on Windows: the new content in pptNNNN.tmp, then the
		// same swap as Word.
		{"PowerPoint: pptNNNN.tmp, original to .tmp, temp to original, delete", func(s *suite) {
			s.write("/ppt5A3F.tmp", []byte("v2"))
			s.must(s.fs.Rename("/doc.docx", "/ppt5A40.tmp"))
			s.must(s.fs.Rename("/ppt5A3F.tmp", "/doc.docx"))
			s.must(s.fs.Remove("/ppt5A40.tmp"))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := start(t, newFS)
			orig := s.remote.WriteFile("/doc.docx", []byte("v1"))
			s.refresh()
			tc.steps(s)
			s.sync()
			it, ok := s.remote.Lookup("/doc.docx")
			if !ok || it.ID != orig.ID {
				t.Fatalf("doc.docx id = %q (found %v), want %q", it.ID, ok, orig.ID)
			}
			s.remoteHas("/doc.docx", []byte("v2"))
			if got := s.remote.Names("/"); !slices.Equal(got, []string{"doc.docx"}) {
				t.Errorf("remote names = %v, want [doc.docx]", got)
			}
			if got := s.names("/"); !slices.Equal(got, []string{"doc.docx"}) {
				t.Errorf("local names = %v, want [doc.docx]", got)
			}
		})
	}
}

// sharePointRewriteAcceptedWithoutLoop: SharePoint rewrites an uploaded
// Office document; the filesystem takes the server's bytes and does not
// upload them back.
func sharePointRewriteAcceptedWithoutLoop(t *testing.T, newFS func(t *testing.T) Target) {
	s := start(t, newFS)
	s.remote.mu.Lock()
	s.remote.RewriteOffice = true
	s.remote.mu.Unlock()
	s.write("/deck.pptx", []byte("slides"))
	s.sync()
	s.refresh()
	s.sync()
	server, _ := s.remote.ReadFile("/deck.pptx")
	if bytes.Equal(server, []byte("slides")) {
		t.Fatal("the server did not rewrite deck.pptx; the case tests nothing")
	}
	s.eventually("the server's rewrite read locally", func() error { return s.reads("/deck.pptx", server) })
	if got := s.remote.Calls("PutSmall"); got != 1 {
		t.Errorf("PutSmall calls = %d, want 1 (no upload loop)", got)
	}
}

// folderMoveThatWouldPassPathLimitRefused: a folder moved where an item
// below it would pass SharePoint's 400 characters is refused before
// anything is sent: the server would refuse the move, and offline it
// could only fail later.
func folderMoveThatWouldPassPathLimitRefused(t *testing.T, newFS func(t *testing.T) Target) {
	s := start(t, newFS)
	deep := "/a/" + strings.Repeat("d", 200) + "/" + strings.Repeat("f", 196) // 400 characters
	s.must(s.fs.Mkdir("/a"))
	s.must(s.fs.Mkdir(path.Dir(deep)))
	s.write(deep, []byte("x"))
	s.sync()
	if err := s.fs.Rename("/a", "/ab"); !errors.Is(err, vfs.ErrNameTooLong) {
		t.Errorf("Rename(/a, /ab) = %v, want ErrNameTooLong", err)
	}
	s.must(s.fs.Rename("/a", "/b"))
	s.sync()
	s.remoteHas("/b"+deep[2:], []byte("x"))
	if err := s.fs.Rename("/b", "/b/"+strings.Repeat("d", 200)+"/in"); !errors.Is(err, vfs.ErrIntoItself) {
		t.Errorf("Rename into its own child = %v, want ErrIntoItself", err)
	}
}

func transientFailuresRetriedUntilConfirmed(t *testing.T, newFS func(t *testing.T) Target) {
	s := start(t, newFS)
	s.remote.SetFaultRate(0.1, 42)
	files := map[string][]byte{}
	s.must(s.fs.Mkdir("/many"))
	for i := range 200 {
		p := fmt.Sprintf("/many/f%03d.bin", i)
		files[p] = randBytes(1000 + i*37)
		s.write(p, files[p])
	}
	big := randBytes(3*vfs.FragmentSize + 99)
	s.write("/many/big.bin", big)
	s.sync()
	for p, want := range files {
		s.remoteHas(p, want)
	}
	s.remoteHas("/many/big.bin", big)
	// Without retries the case would test nothing.
	if got := s.remote.Calls("PutSmall"); got <= len(files) {
		t.Errorf("PutSmall calls = %d for %d files: no fault was retried", got, len(files))
	}
	s.remote.SetFaultRate(0, 0)
	for p, want := range files {
		if got := s.mustRead(p); !bytes.Equal(got, want) {
			t.Fatalf("local %s differs", p)
		}
	}
}

// offlineEditsUploadOnReconnect: offline, cached files read, and edits,
// new folders, moves and deletes are kept; once the server is back they
// reach it, and a file changed there meanwhile keeps both versions.
// (The backoff while offline, in fake time: TestOfflineEditsDrainOnReconnect.)
func offlineEditsUploadOnReconnect(t *testing.T, newFS func(t *testing.T) Target) {
	s := start(t, newFS)
	s.remote.WriteFile("/cached.txt", []byte("cached v1"))
	s.remote.WriteFile("/contested.txt", []byte("base"))
	s.remote.WriteFile("/old.txt", []byte("old"))
	s.remote.WriteFile("/deleteme.txt", []byte("x"))
	s.refresh()
	s.mustRead("/cached.txt")
	s.mustRead("/contested.txt")

	s.remote.SetOffline(true)
	if err := s.fs.Refresh(t.Context()); !errors.Is(err, vfs.ErrOffline) {
		t.Fatalf("Refresh with the server unreachable = %v, want ErrOffline", err)
	}
	if err := s.reads("/cached.txt", []byte("cached v1")); err != nil {
		t.Fatalf("offline: %v", err)
	}
	s.write("/cached.txt", []byte("edited offline"))
	s.write("/contested.txt", []byte("mine offline"))
	s.must(s.fs.Mkdir("/newdir"))
	s.write("/newdir/inside.txt", []byte("inside"))
	s.must(s.fs.Rename("/old.txt", "/renamed.txt"))
	s.must(s.fs.Remove("/deleteme.txt"))
	if got := s.names("/"); !slices.Equal(got, []string{"cached.txt", "contested.txt", "newdir", "renamed.txt"}) {
		t.Errorf("offline ReadDir(/) = %v", got)
	}

	s.remote.SetOffline(false)
	s.remote.WriteFile("/contested.txt", []byte("theirs meanwhile"))
	s.refresh()
	s.sync()
	s.remoteHas("/cached.txt", []byte("edited offline"))
	s.remoteHas("/newdir/inside.txt", []byte("inside"))
	s.remoteHas("/renamed.txt", []byte("old"))
	s.remoteHas("/contested.txt", []byte("theirs meanwhile"))
	s.remoteHas("/"+vfs.ConflictName("contested.txt", Host, time.Now(), 1), []byte("mine offline"))
	if _, ok := s.remote.Lookup("/deleteme.txt"); ok {
		t.Error("offline delete not applied")
	}
	if _, ok := s.remote.Lookup("/old.txt"); ok {
		t.Error("offline rename left the old name")
	}
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}
