package vfstest

// The vfs-only behaviours, run against MemRemote without FUSE: those that
// need the vfs's internals (status, events, the journal, reopening) or a
// fake clock. Each test runs in a synctest bubble, so backoff, polling
// and expiry use the bubble's fake clock instead of sleeping. What a
// program sees through any filesystem is the conformance suite
// (conformance.go), run here by TestConformance.

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
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
	"github.com/mapdrive/mapdrive/client/internal/vfs/meta"
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
	return readAllAt(func(p []byte, off int64) (int, error) { return h.ReadAt(ctx, p, off) })
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

// TestConflictReported: a conflict copy is named in Status and on the
// event stream. (Both versions kept: the conformance case
// ConflictKeepsBothVersions.)
func TestConflictReported(t *testing.T) {
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
		e.remoteHas("/"+want, []byte("mine"))
		st := e.fs.Status()
		if len(st.Conflicts) != 1 || st.Conflicts[0].ConflictPath != "/"+want {
			t.Errorf("Status.Conflicts = %+v, want one naming /%s", st.Conflicts, want)
		}
		found := false
		for !found && len(events) > 0 {
			found = (<-events).Kind == vfs.EventConflict
		}
		if !found {
			t.Error("no conflict event")
		}
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
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
			// stays local (conformance case EditorFilesStayLocal), so Explorer can save
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
		time.Sleep(meta.MaxBackoff)
		e.sync()
		e.remoteHas("/x.txt", []byte("x"))
	})
}
