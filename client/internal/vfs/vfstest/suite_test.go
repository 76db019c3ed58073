package vfstest

// The conformance suite of filesystem behaviours, run against MemRemote
// without FUSE. Each test runs in a synctest bubble, so backoff, polling
// and expiry use the bubble's fake clock instead of sleeping.

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
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mapdrive/mapdrive/client/internal/vfs"
	"github.com/mapdrive/mapdrive/client/internal/vfs/cache"
)

type env struct {
	t      *testing.T
	remote *MemRemote
	fs     *vfs.FS
	opt    vfs.Options
}

func newEnv(t *testing.T, mods ...func(*vfs.Options, *MemRemote)) *env {
	t.Helper()
	e := &env{t: t, remote: NewMemRemote()}
	key := make([]byte, 32)
	rand.Read(key)
	e.opt = vfs.Options{Remote: e.remote, StateDir: t.TempDir(), CacheDir: t.TempDir(), CacheKey: key,
		CacheMaxBytes: 1 << 30, PollInterval: -1, FolderTTL: time.Minute, Host: "testhost", UploadWorkers: 2}
	for _, m := range mods {
		m(&e.opt, e.remote)
	}
	e.open()
	t.Cleanup(func() {
		if e.fs != nil {
			e.fs.Close()
		}
	})
	return e
}

func (e *env) open() {
	e.t.Helper()
	fsys, err := vfs.New(context.Background(), e.opt)
	if err != nil {
		e.t.Fatalf("vfs.New: %v", err)
	}
	e.fs = fsys
}

// reopen closes the filesystem (as a crash would leave the journal) and
// opens it again over the same state and cache.
func (e *env) reopen() {
	e.t.Helper()
	if err := e.fs.Close(); err != nil {
		e.t.Fatalf("Close: %v", err)
	}
	e.open()
}

func (e *env) write(p string, data []byte) {
	e.t.Helper()
	ctx := context.Background()
	h, err := e.fs.Create(ctx, p)
	if err != nil {
		e.t.Fatalf("Create(%s): %v", p, err)
	}
	for off := 0; off < len(data); off += 100 << 10 {
		if _, err := h.WriteAt(ctx, data[off:min(off+100<<10, len(data))], int64(off)); err != nil {
			e.t.Fatalf("WriteAt(%s): %v", p, err)
		}
	}
	if err := h.Release(ctx); err != nil {
		e.t.Fatalf("Release(%s): %v", p, err)
	}
}

func (e *env) read(p string) ([]byte, error) {
	ctx := context.Background()
	h, err := e.fs.Open(ctx, p, vfs.OpenFlags{})
	if err != nil {
		return nil, err
	}
	defer h.Release(ctx)
	var out []byte
	buf := make([]byte, 128<<10)
	for off := int64(0); ; {
		n, err := h.ReadAt(ctx, buf, off)
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

func (e *env) mustRead(p string) []byte {
	e.t.Helper()
	b, err := e.read(p)
	if err != nil {
		e.t.Fatalf("read %s: %v", p, err)
	}
	return b
}

func (e *env) sync() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	if err := e.fs.Sync(ctx); err != nil {
		e.t.Fatalf("Sync: %v", err)
	}
}

func (e *env) names(p string) []string {
	e.t.Helper()
	attrs, err := e.fs.ReadDir(context.Background(), p)
	if err != nil {
		e.t.Fatalf("ReadDir(%s): %v", p, err)
	}
	var out []string
	for _, a := range attrs {
		out = append(out, a.Name)
	}
	return out
}

func (e *env) remoteHas(p string, want []byte) {
	e.t.Helper()
	got, ok := e.remote.ReadFile(p)
	if !ok {
		e.t.Fatalf("remote has no %s", p)
	}
	if !bytes.Equal(got, want) {
		e.t.Fatalf("remote %s: %d bytes, want %d (equal prefix %d)", p, len(got), len(want), commonPrefix(got, want))
	}
}

func commonPrefix(a, b []byte) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func bubble(t *testing.T, f func(t *testing.T)) {
	synctest.Test(t, f)
}

func TestMetadataPersistsAndFreshFolderAnsweredLocally(t *testing.T) {
	bubble(t, func(t *testing.T) {
		e := newEnv(t)
		e.remote.WriteFile("/docs/a.txt", []byte("a"))
		e.remote.WriteFile("/docs/b.txt", []byte("bb"))
		if got := e.names("/docs"); !slices.Equal(got, []string{"a.txt", "b.txt"}) {
			t.Fatalf("ReadDir(/docs) = %v", got)
		}
		lists := e.remote.Calls("List")
		e.names("/docs")
		e.names("/")
		if got := e.remote.Calls("List"); got != lists {
			t.Errorf("fresh folders listed again: List calls %d -> %d", lists, got)
		}
		// After a restart, with the server unreachable, the store answers.
		e.reopen()
		e.remote.SetOffline(true)
		if got := e.names("/docs"); !slices.Equal(got, []string{"a.txt", "b.txt"}) {
			t.Fatalf("after restart offline, ReadDir(/docs) = %v", got)
		}
		a, err := e.fs.Stat(context.Background(), "/docs/b.txt")
		if err != nil || a.Size != 2 {
			t.Fatalf("Stat = %+v, %v; want size 2", a, err)
		}
	})
}

func TestRemoteChangeAppearsWithinPollInterval(t *testing.T) {
	bubble(t, func(t *testing.T) {
		e := newEnv(t, func(o *vfs.Options, _ *MemRemote) { o.PollInterval = 30 * time.Second; o.FolderTTL = 0 })
		e.remote.WriteFile("/a.txt", []byte("one"))
		// The poller's first run may have listed the root before a.txt
		// was written; start from a known state.
		synctest.Wait()
		if err := e.fs.Refresh(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := e.names("/"); !slices.Equal(got, []string{"a.txt"}) {
			t.Fatalf("initial ReadDir = %v", got)
		}
		e.remote.WriteFile("/b.txt", []byte("two"))
		e.remote.WriteFile("/a.txt", []byte("changed"))
		e.remote.RemoveFile("/a.txt")
		e.remote.WriteFile("/a.txt", []byte("again"))
		time.Sleep(30*time.Second + time.Millisecond)
		synctest.Wait()
		if got := e.names("/"); !slices.Equal(got, []string{"a.txt", "b.txt"}) {
			t.Fatalf("after one poll interval ReadDir = %v", got)
		}
		if got := e.mustRead("/a.txt"); string(got) != "again" {
			t.Fatalf("a.txt = %q", got)
		}
	})
}

func TestStaleFolderRefreshedWhenOpened(t *testing.T) {
	bubble(t, func(t *testing.T) {
		e := newEnv(t)
		e.remote.WriteFile("/d/x", []byte("x"))
		e.names("/d")
		e.remote.WriteFile("/d/y", []byte("y"))
		if got := e.names("/d"); !slices.Equal(got, []string{"x"}) {
			t.Fatalf("fresh folder re-listed: %v", got)
		}
		time.Sleep(61 * time.Second)
		if got := e.names("/d"); !slices.Equal(got, []string{"x", "y"}) {
			t.Fatalf("stale folder not refreshed: %v", got)
		}
	})
}

func TestResyncKeepsLocalChanges(t *testing.T) {
	bubble(t, func(t *testing.T) {
		e := newEnv(t)
		e.remote.WriteFile("/keep.txt", []byte("old"))
		e.remote.WriteFile("/gone.txt", []byte("bye"))
		if err := e.fs.Refresh(context.Background()); err != nil {
			t.Fatal(err)
		}
		// Uploads fail for now, so the local edit stays pending.
		e.remote.Hook("PutSmall", func() error { return vfs.ErrOffline })
		e.write("/keep.txt", []byte("local edit"))
		e.write("/new.txt", []byte("new local"))
		e.remote.RemoveFile("/gone.txt")
		e.remote.WriteFile("/other.txt", []byte("remote"))
		e.remote.ExpireDeltaTokens()
		if err := e.fs.Refresh(context.Background()); err != nil {
			t.Fatalf("Refresh after 410: %v", err)
		}
		if got := e.names("/"); !slices.Equal(got, []string{"keep.txt", "new.txt", "other.txt"}) {
			t.Fatalf("after resync ReadDir = %v", got)
		}
		if got := e.mustRead("/keep.txt"); string(got) != "local edit" {
			t.Fatalf("local edit lost: %q", got)
		}
		e.remote.Hook("PutSmall", nil)
		e.fs.Refresh(context.Background()) // back online: the queue drains
		e.sync()
		e.remoteHas("/keep.txt", []byte("local edit"))
		e.remoteHas("/new.txt", []byte("new local"))
	})
}

// TestResyncBothKinds: a stale delta token answers 410 with one of two
// inner codes (graph-contract.md, Delta). Apply differences: the server's
// state wins, except local changes not yet uploaded. Upload differences:
// besides those, every item the server did not return whose content is
// here is uploaded again, with its folder; only what was never cached
// (nothing to upload) goes.
func TestResyncBothKinds(t *testing.T) {
	for _, tc := range []struct {
		name   string
		expire func(*MemRemote)
		want   []string // root names after the resync
		back   bool     // cached.txt and dir/inner.txt come back on the server
	}{
		{"apply differences", (*MemRemote).ExpireDeltaTokens, []string{"keep.txt", "new.txt"}, false},
		{"upload differences", (*MemRemote).ExpireDeltaTokensUploadDifferences,
			[]string{"cached.txt", "dir", "keep.txt", "new.txt"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bubble(t, func(t *testing.T) {
				e := newEnv(t)
				e.remote.WriteFile("/keep.txt", []byte("server"))
				e.remote.WriteFile("/cached.txt", []byte("cached here"))
				e.remote.WriteFile("/dir/inner.txt", []byte("inner"))
				e.remote.WriteFile("/listed-only.txt", []byte("never read"))
				if err := e.fs.Refresh(context.Background()); err != nil {
					t.Fatal(err)
				}
				e.mustRead("/cached.txt")
				e.mustRead("/dir/inner.txt")
				// Uploads fail for now, so the new file stays pending.
				e.remote.Hook("PutSmall", func() error { return vfs.ErrOffline })
				e.write("/new.txt", []byte("new local"))
				e.remote.RemoveFile("/cached.txt")
				e.remote.RemoveFile("/dir")
				e.remote.RemoveFile("/listed-only.txt")
				tc.expire(e.remote)
				if err := e.fs.Refresh(context.Background()); err != nil {
					t.Fatalf("Refresh after 410: %v", err)
				}
				if got := e.names("/"); !slices.Equal(got, tc.want) {
					t.Fatalf("after resync ReadDir = %v, want %v", got, tc.want)
				}
				e.remote.Hook("PutSmall", nil)
				e.fs.Refresh(context.Background())
				e.sync()
				e.remoteHas("/new.txt", []byte("new local"))
				e.remoteHas("/keep.txt", []byte("server"))
				if tc.back {
					e.remoteHas("/cached.txt", []byte("cached here"))
					e.remoteHas("/dir/inner.txt", []byte("inner"))
				} else if _, ok := e.remote.Lookup("/cached.txt"); ok {
					t.Error("apply differences uploaded a file the server had deleted")
				}
				if _, ok := e.remote.Lookup("/listed-only.txt"); ok {
					t.Error("a file never cached came back on the server")
				}
			})
		})
	}
}

// TestResyncUploadDifferencesKeepsBothWhenNameTaken: the server deleted a
// file whose content is cached here and another file took its name. An
// upload-differences resync must keep both copies (graph-contract.md,
// Delta: "keep both copies when unsure"): the server's under the name, the
// cached one beside it under a conflict name, uploaded.
func TestResyncUploadDifferencesKeepsBothWhenNameTaken(t *testing.T) {
	bubble(t, func(t *testing.T) {
		e := newEnv(t)
		e.remote.WriteFile("/report.txt", []byte("cached here"))
		if err := e.fs.Refresh(context.Background()); err != nil {
			t.Fatal(err)
		}
		e.mustRead("/report.txt")
		e.remote.RemoveFile("/report.txt")
		e.remote.WriteFile("/report.txt", []byte("another writer's file"))
		e.remote.ExpireDeltaTokensUploadDifferences()
		if err := e.fs.Refresh(context.Background()); err != nil {
			t.Fatalf("Refresh after 410: %v", err)
		}
		conflict := vfs.ConflictName("report.txt", "testhost", time.Now(), 1)
		if got, want := e.names("/"), []string{conflict, "report.txt"}; !slices.Equal(got, want) {
			t.Fatalf("after resync ReadDir = %v, want %v", got, want)
		}
		e.sync()
		e.remoteHas("/report.txt", []byte("another writer's file"))
		e.remoteHas("/"+conflict, []byte("cached here"))
	})
}

func TestReadsFetchOnlyNeededRanges(t *testing.T) {
	bubble(t, func(t *testing.T) {
		e := newEnv(t)
		data := randBytes(20 << 20)
		e.remote.WriteFile("/big.bin", data)
		ctx := context.Background()
		h, err := e.fs.Open(ctx, "/big.bin", vfs.OpenFlags{})
		if err != nil {
			t.Fatal(err)
		}
		defer h.Release(ctx)
		buf := make([]byte, 64<<10)
		n, err := h.ReadAt(ctx, buf, 7<<20+12345)
		if err != nil || n != len(buf) || !bytes.Equal(buf, data[7<<20+12345:][:len(buf)]) {
			t.Fatalf("ReadAt = %d, %v (content equal %v)", n, err, bytes.Equal(buf, data[7<<20+12345:][:len(buf)]))
		}
		if got := e.remote.BytesRead(); got > 1<<20 {
			t.Fatalf("a 64 KiB read downloaded %d bytes", got)
		}
	})
}

func TestSequentialReadUsesParallelRanges(t *testing.T) {
	bubble(t, func(t *testing.T) {
		e := newEnv(t, func(o *vfs.Options, _ *MemRemote) { o.ChunkSize = 1 << 20; o.ReadAhead = 16 << 20 })
		data := randBytes(48 << 20)
		e.remote.WriteFile("/seq.bin", data)
		var inflight, peak atomic.Int64
		e.remote.Hook("ReadRange", func() error {
			n := inflight.Add(1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			time.Sleep(10 * time.Millisecond) // a round trip, in bubble time
			inflight.Add(-1)
			return nil
		})
		if got := e.mustRead("/seq.bin"); !bytes.Equal(got, data) {
			t.Fatalf("sequential read differs (equal prefix %d)", commonPrefix(got, data))
		}
		if peak.Load() < 2 {
			t.Fatalf("peak parallel range requests = %d, want >= 2", peak.Load())
		}
		if got := e.remote.BytesRead(); got != int64(len(data)) {
			t.Errorf("downloaded %d bytes for a %d byte file", got, len(data))
		}
	})
}

func TestExpiredDownloadURLRefreshed(t *testing.T) {
	bubble(t, func(t *testing.T) {
		e := newEnv(t, func(_ *vfs.Options, m *MemRemote) { m.URLLifetime = time.Minute })
		data := randBytes(3 << 20)
		e.remote.WriteFile("/f.bin", data)
		ctx := context.Background()
		h, err := e.fs.Open(ctx, "/f.bin", vfs.OpenFlags{})
		if err != nil {
			t.Fatal(err)
		}
		defer h.Release(ctx)
		buf := make([]byte, 1000)
		if _, err := h.ReadAt(ctx, buf, 0); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Minute)
		if _, err := h.ReadAt(ctx, buf, 2<<20); err != nil {
			t.Fatalf("read after URL expiry: %v", err)
		}
		if !bytes.Equal(buf, data[2<<20:][:1000]) {
			t.Fatal("content differs after URL refresh")
		}
		if got := e.remote.Calls("DownloadURL"); got != 2 {
			t.Errorf("DownloadURL calls = %d, want 2", got)
		}
	})
}

func TestCacheEncryptedAtRest(t *testing.T) {
	bubble(t, func(t *testing.T) {
		e := newEnv(t)
		secret := bytes.Repeat([]byte("TOP-SECRET-PAYROLL "), 20000)
		e.write("/payroll.txt", secret)
		e.sync()
		e.mustRead("/payroll.txt")
		// A second file waits in the upload journal.
		e.remote.Hook("PutSmall", func() error { return vfs.ErrOffline })
		e.write("/pending.txt", bytes.Repeat([]byte("TOP-SECRET-PENDING "), 1000))
		if q := e.fs.Status().QueueLength; q == 0 {
			t.Fatal("pending.txt is not in the upload journal")
		}
		// The scan below means something only if the cache holds the
		// content: it answers offline, from the cache alone.
		if used := e.fs.Status().CacheUsed; used < int64(len(secret)) {
			t.Fatalf("cache holds %d bytes, less than the %d of payroll.txt", used, len(secret))
		}
		e.remote.SetOffline(true)
		if got, err := e.read("/payroll.txt"); err != nil || !bytes.Equal(got, secret) {
			t.Fatalf("payroll.txt offline, from the cache: %d bytes, %v", len(got), err)
		}
		e.remote.SetOffline(false)
		for _, dir := range []string{e.opt.CacheDir, e.opt.StateDir} {
			err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				b, err := os.ReadFile(p)
				if bytes.Contains(b, []byte("TOP-SECRET")) {
					t.Errorf("plaintext found in %s", p)
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		// Another key cannot read the cache: offline, the read fails
		// instead of returning garbage.
		e.fs.Close()
		e.opt.CacheKey = bytes.Repeat([]byte{7}, 32)
		e.open()
		e.remote.SetOffline(true)
		if got, err := e.read("/payroll.txt"); err == nil {
			t.Fatalf("read with the wrong key succeeded (%d bytes)", len(got))
		}
	})
}

func TestCacheEvictionRespectsBoundAndPins(t *testing.T) {
	bubble(t, func(t *testing.T) {
		const mib = 1 << 20
		e := newEnv(t, func(o *vfs.Options, _ *MemRemote) { o.CacheMaxBytes = 3*mib + mib/2 })
		files := map[string][]byte{}
		for i := range 6 {
			p := fmt.Sprintf("/f%d.bin", i)
			files[p] = randBytes(mib)
			e.remote.WriteFile(p, files[p])
		}
		ctx := context.Background()
		if err := e.fs.Pin(ctx, "/f0.bin", true); err != nil {
			t.Fatal(err)
		}
		synctest.Wait() // the pin downloads in the background
		for i := 1; i < 6; i++ {
			e.mustRead(fmt.Sprintf("/f%d.bin", i))
			time.Sleep(time.Second) // distinct access times
			if used := e.fs.Status().CacheUsed; used > e.opt.CacheMaxBytes {
				t.Fatalf("cache uses %d bytes, bound %d", used, e.opt.CacheMaxBytes)
			}
		}
		e.remote.SetOffline(true)
		if got, err := e.read("/f0.bin"); err != nil || !bytes.Equal(got, files["/f0.bin"]) {
			t.Fatalf("pinned file not kept offline: %v", err)
		}
		if got, err := e.read("/f5.bin"); err != nil || !bytes.Equal(got, files["/f5.bin"]) {
			t.Fatalf("most recent file evicted: %v", err)
		}
		if _, err := e.read("/f1.bin"); !errors.Is(err, vfs.ErrOffline) {
			t.Fatalf("least recently used file still cached (err %v)", err)
		}
		// The header cache still answers the start of an evicted file.
		h, err := e.fs.Open(ctx, "/f1.bin", vfs.OpenFlags{})
		if err != nil {
			t.Fatal(err)
		}
		defer h.Release(ctx)
		buf := make([]byte, 4096)
		if n, err := h.ReadAt(ctx, buf, 0); err != nil || n != 4096 || !bytes.Equal(buf, files["/f1.bin"][:4096]) {
			t.Fatalf("header read of evicted file offline = %d, %v", n, err)
		}
		if st := e.fs.Status(); !slices.Equal(st.Pinned, []string{"/f0.bin"}) {
			t.Errorf("Status.Pinned = %v", st.Pinned)
		}
	})
}

func TestUploadsSimpleAndSession(t *testing.T) {
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
			bubble(t, func(t *testing.T) {
				e := newEnv(t)
				data := randBytes(tc.size)
				e.write("/up.bin", data)
				e.sync()
				e.remoteHas("/up.bin", data)
				if got := e.remote.Calls("PutSmall"); got != tc.puts {
					t.Errorf("PutSmall calls = %d, want %d", got, tc.puts)
				}
				if got := len(e.remote.Fragments()); got != tc.fragments {
					t.Errorf("fragments = %d, want %d", got, tc.fragments)
				}
				if a, _ := e.fs.Stat(context.Background(), "/up.bin"); a.Dirty || a.Size != int64(tc.size) {
					t.Errorf("after upload Stat = %+v", a)
				}
			})
		})
	}
}

func TestRandomWritesAppendTruncate(t *testing.T) {
	bubble(t, func(t *testing.T) {
		e := newEnv(t)
		model := randBytes(1<<20 + 777)
		e.remote.WriteFile("/r.bin", model)
		ctx := context.Background()
		h, err := e.fs.Open(ctx, "/r.bin", vfs.OpenFlags{Write: true})
		if err != nil {
			t.Fatal(err)
		}
		writeAt := func(off int, p []byte) {
			if _, err := h.WriteAt(ctx, p, int64(off)); err != nil {
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
		if err := h.Truncate(ctx, 200001); err != nil {
			t.Fatal(err)
		}
		model = model[:200001]
		if err := h.Truncate(ctx, 400000); err != nil {
			t.Fatal(err)
		}
		model = append(model, make([]byte, 400000-len(model))...)
		writeAt(131071, []byte{1, 2, 3})
		if err := h.Release(ctx); err != nil {
			t.Fatal(err)
		}
		if got := e.mustRead("/r.bin"); !bytes.Equal(got, model) {
			t.Fatalf("local content differs (equal prefix %d of %d)", commonPrefix(got, model), len(model))
		}
		e.sync()
		e.remoteHas("/r.bin", model)
	})
}

func TestUploadResumesAfterCrash(t *testing.T) {
	for _, tc := range []struct {
		name    string
		expire  bool
		wantOff int64
	}{
		{"resume from nextExpectedRanges", false, 2 * vfs.FragmentSize},
		{"restart when the session expired", true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bubble(t, func(t *testing.T) {
				e := newEnv(t, func(_ *vfs.Options, m *MemRemote) { m.SessionLifetime = 10 * time.Minute })
				data := randBytes(5*vfs.FragmentSize + 1234)
				var n atomic.Int32
				crashed := make(chan struct{})
				e.remote.Hook("UploadFragment", func() error {
					if n.Add(1) == 3 {
						close(crashed)
						return errors.New("connection reset")
					}
					return nil
				})
				e.write("/big.bin", data)
				<-crashed
				e.reopenWithoutDraining(tc.expire)
				e.sync()
				e.remoteHas("/big.bin", data)
				frags := e.remote.Fragments()
				if got := frags[2]; got != tc.wantOff {
					t.Fatalf("after restart first fragment at %d, want %d (fragments %v)", got, tc.wantOff, frags)
				}
				wantSessions := 1
				if tc.expire {
					wantSessions = 2
				}
				if got := e.remote.Calls("CreateUploadSession"); got != wantSessions {
					t.Errorf("CreateUploadSession calls = %d, want %d", got, wantSessions)
				}
			})
		})
	}
}

// reopenWithoutDraining stops the filesystem while an upload waits for
// its retry, as a kill would, then opens it again.
func (e *env) reopenWithoutDraining(expire bool) {
	e.t.Helper()
	e.remote.Hook("UploadFragment", nil)
	synctest.Wait()
	if err := e.fs.Close(); err != nil {
		e.t.Fatal(err)
	}
	if expire {
		time.Sleep(11 * time.Minute)
	}
	e.open()
}

func TestHashVerifiedAndRetried(t *testing.T) {
	bubble(t, func(t *testing.T) {
		e := newEnv(t)
		e.remote.CorruptUploads(1)
		data := randBytes(10000)
		e.write("/v.bin", data)
		e.sync()
		e.remoteHas("/v.bin", data)
		if got := e.remote.Calls("PutSmall"); got != 2 {
			t.Errorf("PutSmall calls = %d, want 2 (one corrupted, one verified)", got)
		}
		// The corrupted copy was replaced, not kept beside a new one.
		if got := e.names("/"); !slices.Equal(got, []string{"v.bin"}) {
			t.Errorf("names after a corrupted upload = %v, want only v.bin", got)
		}
	})
}

func TestConflictKeepsBothVersions(t *testing.T) {
	bubble(t, func(t *testing.T) {
		e := newEnv(t)
		e.remote.WriteFile("/report.txt", []byte("base"))
		ctx := context.Background()
		events := e.fs.Subscribe(ctx)
		h, err := e.fs.Open(ctx, "/report.txt", vfs.OpenFlags{Write: true, Truncate: true})
		if err != nil {
			t.Fatal(err)
		}
		h.WriteAt(ctx, []byte("mine"), 0)
		e.remote.WriteFile("/report.txt", []byte("theirs"))
		h.Release(ctx)
		e.sync()
		want := vfs.ConflictName("report.txt", "testhost", time.Now(), 1)
		if got := e.remote.Names("/"); !slices.Equal(got, []string{want, "report.txt"}) {
			t.Fatalf("remote names = %v, want [%s report.txt]", got, want)
		}
		e.remoteHas("/report.txt", []byte("theirs"))
		e.remoteHas("/"+want, []byte("mine"))
		if got := e.mustRead("/report.txt"); string(got) != "theirs" {
			t.Errorf("local report.txt = %q, want the server's", got)
		}
		if got := e.mustRead("/" + want); string(got) != "mine" {
			t.Errorf("local conflict copy = %q", got)
		}
		st := e.fs.Status()
		if len(st.Conflicts) != 1 || st.Conflicts[0].ConflictPath != "/"+want {
			t.Errorf("Status.Conflicts = %+v", st.Conflicts)
		}
		for ev := range events {
			if ev.Kind == vfs.EventConflict {
				break
			}
		}
		if !strings.HasPrefix(want, "report (conflict from testhost ") {
			t.Errorf("conflict name %q", want)
		}
	})
}

func TestEditorFilesStayLocal(t *testing.T) {
	bubble(t, func(t *testing.T) {
		e := newEnv(t)
		// The last ones are Windows': Explorer's folder settings and
		// thumbnail caches, and Excel's and PowerPoint's hex-named temps.
		names := []string{"~$report.docx", ".~lock.sheet.ods#", "~WRD0001.tmp", ".notes.txt.swp",
			"desktop.ini", "Thumbs.db", "ehthumbs.db", "1C2D3E4F.tmp", "pptA1B2.tmp"}
		for _, n := range names {
			e.write("/"+n, []byte("lock"))
		}
		e.sync()
		if got := e.remote.Calls("PutSmall"); got != 0 {
			t.Fatalf("editor files uploaded: %d PutSmall calls", got)
		}
		if got := e.names("/"); len(got) != len(names) {
			t.Fatalf("local names = %v", got)
		}
	})
}

func TestSaveByRenameKeepsItemID(t *testing.T) {
	for _, tc := range []struct {
		name  string
		steps func(e *env)
	}{
		{"temp renamed over original", func(e *env) {
			e.write("/.goutputstream-ABC", []byte("v2"))
			must(e.t, e.fs.Rename(context.Background(), "/.goutputstream-ABC", "/doc.docx"))
		}},
		{"uploaded temp renamed over original", func(e *env) {
			e.write("/doc.docx.tmp123", []byte("v2"))
			e.sync()
			must(e.t, e.fs.Rename(context.Background(), "/doc.docx.tmp123", "/doc.docx"))
		}},
		{"Word: original to ~WRL, temp to original, delete ~WRL", func(e *env) {
			ctx := context.Background()
			e.write("/~WRD0000.tmp", []byte("v2"))
			must(e.t, e.fs.Rename(ctx, "/doc.docx", "/~WRL0001.tmp"))
			must(e.t, e.fs.Rename(ctx, "/~WRD0000.tmp", "/doc.docx"))
			must(e.t, e.fs.Remove(ctx, "/~WRL0001.tmp"))
		}},
		// Excel on Windows: the new content in an extensionless hex-named
		// temp, the original renamed to a hex-named .tmp, the temp renamed
		// to the original's name, the old one deleted.
		{"Excel: temp, original to hex .tmp, temp to original, delete", func(e *env) {
			ctx := context.Background()
			e.write("/8C3A4D00", []byte("v2"))
			must(e.t, e.fs.Rename(ctx, "/doc.docx", "/1F2B3C4D.tmp"))
			must(e.t, e.fs.Rename(ctx, "/8C3A4D00", "/doc.docx"))
			must(e.t, e.fs.Remove(ctx, "/1F2B3C4D.tmp"))
		}},
		// PowerPoint on Windows: the new content in pptNNNN.tmp, then the
		// same swap as Word.
		{"PowerPoint: pptNNNN.tmp, original to .tmp, temp to original, delete", func(e *env) {
			ctx := context.Background()
			e.write("/ppt5A3F.tmp", []byte("v2"))
			must(e.t, e.fs.Rename(ctx, "/doc.docx", "/ppt5A40.tmp"))
			must(e.t, e.fs.Rename(ctx, "/ppt5A3F.tmp", "/doc.docx"))
			must(e.t, e.fs.Remove(ctx, "/ppt5A40.tmp"))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bubble(t, func(t *testing.T) {
				e := newEnv(t)
				orig := e.remote.WriteFile("/doc.docx", []byte("v1"))
				e.names("/")
				tc.steps(e)
				e.sync()
				it, ok := e.remote.Lookup("/doc.docx")
				if !ok || it.ID != orig.ID {
					t.Fatalf("doc.docx id = %q (found %v), want %q", it.ID, ok, orig.ID)
				}
				e.remoteHas("/doc.docx", []byte("v2"))
				if got := e.remote.Names("/"); !slices.Equal(got, []string{"doc.docx"}) {
					t.Errorf("remote names = %v", got)
				}
				if got := e.names("/"); !slices.Equal(got, []string{"doc.docx"}) {
					t.Errorf("local names = %v", got)
				}
			})
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestSharePointRewriteAcceptedWithoutLoop(t *testing.T) {
	bubble(t, func(t *testing.T) {
		e := newEnv(t, func(_ *vfs.Options, m *MemRemote) { m.RewriteOffice = true })
		e.write("/deck.pptx", []byte("slides"))
		e.sync()
		e.fs.Refresh(context.Background())
		e.sync()
		server, _ := e.remote.ReadFile("/deck.pptx")
		if got := e.mustRead("/deck.pptx"); !bytes.Equal(got, server) {
			t.Errorf("local = %q, server = %q", got, server)
		}
		if got := e.remote.Calls("PutSmall"); got != 1 {
			t.Errorf("PutSmall calls = %d, want 1 (no upload loop)", got)
		}
	})
}

func TestInvalidNamesRefused(t *testing.T) {
	bubble(t, func(t *testing.T) {
		const lib = "/sites/Finance/Shared Documents" // 31 characters
		e := newEnv(t, func(o *vfs.Options, _ *MemRemote) { o.LibraryPath = lib })
		ctx := context.Background()
		events := e.fs.Subscribe(ctx)
		e.write("/ok.txt", nil)
		// 31 + "/" + 200 + "/" + 168 = 401 characters: one too many, because
		// the library's own path counts.
		long := "/" + strings.Repeat("d", 200) + "/" + strings.Repeat("f", 168)
		for _, tc := range []struct {
			p    string
			want error
		}{
			{`/a"b`, vfs.ErrInvalidName}, {"/a*b", vfs.ErrInvalidName}, {"/a:b", vfs.ErrInvalidName}, {"/a<b", vfs.ErrInvalidName},
			{"/a>b", vfs.ErrInvalidName}, {"/a?b", vfs.ErrInvalidName}, {`/a\b`, vfs.ErrInvalidName}, {"/a|b", vfs.ErrInvalidName},
			{"/ lead", vfs.ErrInvalidName}, {"/trail ", vfs.ErrInvalidName}, {"/CON", vfs.ErrInvalidName}, {"/prn", vfs.ErrInvalidName},
			{"/aux", vfs.ErrInvalidName}, {"/NUL", vfs.ErrInvalidName}, {"/COM0", vfs.ErrInvalidName}, {"/lpt9", vfs.ErrInvalidName},
			{"/.lock", vfs.ErrInvalidName}, {"/x_vti_y", vfs.ErrInvalidName},
			{"/" + strings.Repeat("n", 256), vfs.ErrNameTooLong}, {"/" + strings.Repeat("é", 128), vfs.ErrNameTooLong},
			{long, vfs.ErrNameTooLong},
		} {
			// desktop.ini, which SharePoint refuses too, is not here: it
			// stays local (TestEditorFilesStayLocal), so Explorer can save
			// folder settings on the drive.
			if strings.HasPrefix(tc.p, "/ddd") {
				if err := e.fs.Mkdir(ctx, path.Dir(tc.p)); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := e.fs.Create(ctx, tc.p); !errors.Is(err, tc.want) {
				t.Errorf("Create(%q) = %v, want %v", tc.p, err, tc.want)
			}
			if err := e.fs.Mkdir(ctx, tc.p); !errors.Is(err, tc.want) {
				t.Errorf("Mkdir(%q) = %v, want %v", tc.p, err, tc.want)
			}
			if err := e.fs.Rename(ctx, "/ok.txt", tc.p); !errors.Is(err, tc.want) {
				t.Errorf("Rename to %q = %v, want %v", tc.p, err, tc.want)
			}
		}
		// The reserved names are whole names: SharePoint takes these, and
		// a path of exactly 400 characters.
		for _, p := range []string{"/CON.txt", "/aux.c", "/lpt10", "/my.lock", "/" + strings.Repeat("n", 255), long[:len(long)-1]} {
			e.write(p, []byte("x"))
		}
		e.sync()
		e.remoteHas(long[:len(long)-1], []byte("x"))
		e.remoteHas("/CON.txt", []byte("x"))
		// Every refusal names the file on the event stream and in Status.
		var refused int
		for len(events) > 0 {
			if ev := <-events; ev.Kind == vfs.EventRefused {
				if ev.Path == "" || ev.Err == "" {
					t.Errorf("refusal event without path or reason: %+v", ev)
				}
				refused++
			}
		}
		if refused != 21*3 {
			t.Errorf("%d refusal events, want %d", refused, 21*3)
		}
		st := e.fs.Status()
		if len(st.Errors) == 0 || !st.Errors[len(st.Errors)-1].Refused || st.Errors[len(st.Errors)-1].Path != long {
			t.Errorf("Status.Errors does not end with the refused %q: %+v", long, st.Errors)
		}
		if st.QueueLength != 0 {
			t.Errorf("QueueLength = %d after refusals, want 0 (nothing queued)", st.QueueLength)
		}
	})
}

// A folder moved where an item below it would pass SharePoint's 400
// characters is refused before anything is sent: the server would refuse
// the move, and offline it could only fail later.
func TestFolderMoveThatWouldPassPathLimitRefused(t *testing.T) {
	bubble(t, func(t *testing.T) {
		e := newEnv(t)
		ctx := context.Background()
		deep := "/a/" + strings.Repeat("d", 200) + "/" + strings.Repeat("f", 196) // 400 characters
		must(t, e.fs.Mkdir(ctx, "/a"))
		must(t, e.fs.Mkdir(ctx, path.Dir(deep)))
		e.write(deep, []byte("x"))
		e.sync()
		if err := e.fs.Rename(ctx, "/a", "/ab"); !errors.Is(err, vfs.ErrNameTooLong) {
			t.Errorf("Rename(/a, /ab) = %v, want ErrNameTooLong", err)
		}
		must(t, e.fs.Rename(ctx, "/a", "/b"))
		e.sync()
		e.remoteHas("/b"+deep[2:], []byte("x"))
		if err := e.fs.Rename(ctx, "/b", "/b/"+strings.Repeat("d", 200)+"/in"); !errors.Is(err, vfs.ErrIntoItself) {
			t.Errorf("Rename into its own child = %v, want ErrIntoItself", err)
		}
	})
}

func TestQuotaFullKeepsData(t *testing.T) {
	bubble(t, func(t *testing.T) {
		e := newEnv(t, func(_ *vfs.Options, m *MemRemote) { m.QuotaBytes = 1000 })
		ctx := context.Background()
		data := randBytes(5000)
		e.write("/big.bin", data)
		time.Sleep(time.Second)
		synctest.Wait()
		if !e.fs.Status().QuotaFull {
			t.Fatal("Status.QuotaFull not set after a 507")
		}
		h, err := e.fs.Create(ctx, "/more.bin")
		if !errors.Is(err, vfs.ErrQuotaExceeded) {
			t.Fatalf("Create while full = %v, want ErrQuotaExceeded", err)
		}
		if h != nil {
			h.Release(ctx)
		}
		if got := e.mustRead("/big.bin"); !bytes.Equal(got, data) {
			t.Fatal("data lost while quota full")
		}
		e.remote.mu.Lock()
		e.remote.QuotaBytes = 0
		e.remote.mu.Unlock()
		e.sync()
		e.remoteHas("/big.bin", data)
		if e.fs.Status().QuotaFull {
			t.Error("QuotaFull still set after a successful upload")
		}
	})
}

func TestReadOnlyDrive(t *testing.T) {
	bubble(t, func(t *testing.T) {
		e := newEnv(t, func(o *vfs.Options, m *MemRemote) { o.ReadOnly = true; m.WriteFile("/r.txt", []byte("r")) })
		ctx := context.Background()
		if got := e.mustRead("/r.txt"); string(got) != "r" {
			t.Fatalf("read = %q", got)
		}
		for name, err := range map[string]error{
			"create": func() error { _, err := e.fs.Create(ctx, "/n"); return err }(),
			"write":  func() error { _, err := e.fs.Open(ctx, "/r.txt", vfs.OpenFlags{Write: true}); return err }(),
			"mkdir":  e.fs.Mkdir(ctx, "/d"),
			"remove": e.fs.Remove(ctx, "/r.txt"),
			"rename": e.fs.Rename(ctx, "/r.txt", "/s.txt"),
		} {
			if !errors.Is(err, vfs.ErrReadOnly) {
				t.Errorf("%s = %v, want ErrReadOnly", name, err)
			}
		}
	})
}

func TestOfflineEditsDrainOnReconnect(t *testing.T) {
	bubble(t, func(t *testing.T) {
		e := newEnv(t)
		ctx := context.Background()
		e.remote.WriteFile("/cached.txt", []byte("cached v1"))
		e.remote.WriteFile("/contested.txt", []byte("base"))
		e.remote.WriteFile("/old.txt", []byte("old"))
		e.remote.WriteFile("/deleteme.txt", []byte("x"))
		e.fs.Refresh(ctx)
		e.mustRead("/cached.txt")
		e.mustRead("/contested.txt")
		// Let the reads' background work (read-ahead) finish first: one
		// that succeeded after the network went would mark it back online.
		synctest.Wait()

		e.remote.SetOffline(true)
		e.fs.Refresh(ctx) // notices the network is gone
		if e.fs.Status().Online {
			t.Fatal("Status.Online while unreachable")
		}
		if got := e.mustRead("/cached.txt"); string(got) != "cached v1" {
			t.Fatalf("offline read = %q", got)
		}
		e.write("/cached.txt", []byte("edited offline"))
		e.write("/contested.txt", []byte("mine offline"))
		must(t, e.fs.Mkdir(ctx, "/newdir"))
		e.write("/newdir/inside.txt", []byte("inside"))
		must(t, e.fs.Rename(ctx, "/old.txt", "/renamed.txt"))
		must(t, e.fs.Remove(ctx, "/deleteme.txt"))
		time.Sleep(10 * time.Minute) // retries back off while offline
		if e.fs.Status().QueueLength == 0 {
			t.Fatal("no queued work while offline")
		}

		e.remote.SetOffline(false)
		e.remote.WriteFile("/contested.txt", []byte("theirs meanwhile"))
		must(t, e.fs.Refresh(ctx))
		e.sync()
		e.remoteHas("/cached.txt", []byte("edited offline"))
		e.remoteHas("/newdir/inside.txt", []byte("inside"))
		e.remoteHas("/renamed.txt", []byte("old"))
		e.remoteHas("/contested.txt", []byte("theirs meanwhile"))
		e.remoteHas("/"+vfs.ConflictName("contested.txt", "testhost", time.Now(), 1), []byte("mine offline"))
		if _, ok := e.remote.Lookup("/deleteme.txt"); ok {
			t.Error("offline delete not applied")
		}
		if _, ok := e.remote.Lookup("/old.txt"); ok {
			t.Error("offline rename left the old name")
		}
	})
}

func TestTransientFailuresRetriedUntilConfirmed(t *testing.T) {
	bubble(t, func(t *testing.T) {
		e := newEnv(t, func(o *vfs.Options, _ *MemRemote) { o.UploadWorkers = 4 })
		e.remote.SetFaultRate(0.1, 42)
		files := map[string][]byte{}
		must(t, e.fs.Mkdir(context.Background(), "/many"))
		for i := range 200 {
			p := fmt.Sprintf("/many/f%03d.bin", i)
			files[p] = randBytes(1000 + i*37)
			e.write(p, files[p])
		}
		big := randBytes(3*vfs.FragmentSize + 99)
		e.write("/many/big.bin", big)
		e.sync()
		for p, want := range files {
			e.remoteHas(p, want)
		}
		e.remoteHas("/many/big.bin", big)
		if len(e.fs.Status().Errors) == 0 {
			t.Error("no errors reported despite injected faults")
		}
		e.remote.SetFaultRate(0, 0)
		for p, want := range files {
			if got := e.mustRead(p); !bytes.Equal(got, want) {
				t.Fatalf("local %s differs", p)
			}
		}
	})
}

func TestNamespaceOperations(t *testing.T) {
	bubble(t, func(t *testing.T) {
		e := newEnv(t)
		ctx := context.Background()
		must(t, e.fs.Mkdir(ctx, "/a"))
		must(t, e.fs.Mkdir(ctx, "/a/b"))
		e.write("/a/b/f.txt", []byte("f"))
		e.sync()
		must(t, e.fs.Rename(ctx, "/a/b", "/a/c"))
		must(t, e.fs.Rename(ctx, "/a/c/f.txt", "/g.txt"))
		if err := e.fs.Rmdir(ctx, "/a"); !errors.Is(err, vfs.ErrNotEmpty) {
			t.Errorf("Rmdir(non-empty) = %v", err)
		}
		must(t, e.fs.Rmdir(ctx, "/a/c"))
		if err := e.fs.Mkdir(ctx, "/a"); !errors.Is(err, vfs.ErrExist) {
			t.Errorf("Mkdir(existing) = %v", err)
		}
		if _, err := e.fs.Open(ctx, "/g.txt", vfs.OpenFlags{Create: true, Excl: true, Write: true}); !errors.Is(err, vfs.ErrExist) {
			t.Errorf("exclusive create of existing = %v", err)
		}
		// SharePoint names are case-insensitive: a case twin would be the
		// same item on the server.
		if _, err := e.fs.Create(ctx, "/G.TXT"); !errors.Is(err, vfs.ErrExist) {
			t.Errorf("Create of a case twin = %v, want ErrExist", err)
		}
		if err := e.fs.Mkdir(ctx, "/A"); !errors.Is(err, vfs.ErrExist) {
			t.Errorf("Mkdir of a case twin = %v, want ErrExist", err)
		}
		if _, err := e.fs.Stat(ctx, "/nope"); !errors.Is(err, vfs.ErrNotFound) {
			t.Errorf("Stat(missing) = %v", err)
		}
		e.sync()
		if got := e.remote.Names("/"); !slices.Equal(got, []string{"a", "g.txt"}) {
			t.Errorf("remote root = %v", got)
		}
		if got := e.remote.Names("/a"); len(got) != 0 {
			t.Errorf("remote /a = %v", got)
		}
		e.remoteHas("/g.txt", []byte("f"))
	})
}

func TestUploadsPause(t *testing.T) {
	bubble(t, func(t *testing.T) {
		e := newEnv(t)
		e.fs.SetUploadsPaused(true)
		e.write("/p.txt", []byte("p"))
		time.Sleep(time.Minute)
		synctest.Wait()
		if _, ok := e.remote.Lookup("/p.txt"); ok || !e.fs.Status().Paused || e.fs.QueueLen() != 1 {
			t.Fatalf("uploaded while paused (status %+v)", e.fs.Status())
		}
		e.fs.SetUploadsPaused(false)
		e.sync()
		e.remoteHas("/p.txt", []byte("p"))
	})
}

func TestQueueBackoffIsCapped(t *testing.T) {
	bubble(t, func(t *testing.T) {
		e := newEnv(t)
		e.remote.Hook("PutSmall", func() error { return ErrTransient })
		e.write("/x.txt", []byte("x"))
		time.Sleep(2 * time.Hour)
		synctest.Wait()
		calls := e.remote.Calls("PutSmall")
		// 1+2+4+...+256 s then every 5 min: about 9 + (7200-511)/300 ≈ 31.
		if calls < 25 || calls > 40 {
			t.Errorf("PutSmall attempts in 2h = %d, want about 31 (capped backoff)", calls)
		}
		e.remote.Hook("PutSmall", nil)
		time.Sleep(cache.MaxBackoff)
		e.sync()
		e.remoteHas("/x.txt", []byte("x"))
	})
}
