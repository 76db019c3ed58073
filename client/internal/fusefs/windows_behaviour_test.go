//go:build linux

package fusefs

// How the drive behaves for Windows users, checked where it can be on
// Linux: through the real FUSE mount (quota as free space, case folding
// of the vfs; the case twins Linux refuses are the conformance case
// NamespaceOperations) and through the adapter filled as on Windows
// (owner-only modes, the read-only attribute).

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/mapdrive/mapdrive/client/internal/vfs"
	"github.com/mapdrive/mapdrive/client/internal/vfs/vfstest"
	"github.com/winfsp/cgofuse/fuse"
)

// The vfs's case folding (Windows') behind a real mount: the kernel asks
// for the name as typed and gets the item as created.
func TestMountCaseInsensitiveVFS(t *testing.T) {
	e := newMount(t, func(o *vfs.Options, m *vfstest.MemRemote) {
		o.CaseInsensitive = true
		m.WriteFile("/Report.docx", []byte("v1"))
	})
	if got := e.sh("cat report.DOCX"); got != "v1" {
		t.Fatalf("cat report.DOCX = %q, want v1", got)
	}
	e.sh("printf v2 > REPORT.docx")
	e.sync(time.Minute)
	e.remoteHas("/Report.docx", []byte("v2"))
	if names := e.remote.Names("/"); len(names) != 1 || names[0] != "Report.docx" {
		t.Errorf("remote names = %v, want [Report.docx]", names)
	}
}

// Free space is the drive's quota: what df shows here and Explorer shows
// on Windows (both ask the file system's statfs).
func TestMountFreeSpaceIsQuota(t *testing.T) {
	const quota = 5 << 30
	e := newMount(t, func(o *vfs.Options, m *vfstest.MemRemote) {
		m.QuotaBytes = quota
		m.WriteFile("/big.bin", make([]byte, 1<<20))
	})
	var st syscall.Statfs_t
	if err := syscall.Statfs(e.dir, &st); err != nil {
		t.Fatal(err)
	}
	total, free := int64(st.Blocks)*st.Bsize, int64(st.Bavail)*st.Bsize
	if total != quota || free != quota-1<<20 {
		t.Errorf("statfs total %d free %d, want %d and %d", total, free, int64(quota), int64(quota-1<<20))
	}
}

// The attributes Windows gets: owner-only modes, and the read-only
// attribute on a read-only library's files.
func TestAdapterFillsAsWindows(t *testing.T) {
	for _, ro := range []bool{false, true} {
		mem := vfstest.NewMemRemote()
		mem.WriteFile("/Docs/policy.pdf", []byte("read me"))
		fsys, err := vfs.New(context.Background(), vfs.Options{Remote: mem, StateDir: t.TempDir(), CacheDir: t.TempDir(),
			CacheKey: make([]byte, 32), PollInterval: -1, ReadOnly: ro, CaseInsensitive: true})
		if err != nil {
			t.Fatal(err)
		}
		a := &adapter{fs: fsys, ctx: context.Background(), goos: "windows"}
		var file, dir fuse.Stat_t
		if e := a.Getattr("/docs/POLICY.pdf", &file, noHandle); e != 0 {
			t.Fatalf("Getattr(file) = %d", e)
		}
		if e := a.Getattr("/Docs", &dir, noHandle); e != 0 {
			t.Fatalf("Getattr(dir) = %d", e)
		}
		fsys.Close()
		wantFile, wantDir, wantFlags := uint32(0o600), uint32(0o700), uint32(0)
		if ro {
			wantFile, wantDir, wantFlags = 0o400, 0o500, fuse.UF_READONLY
		}
		if file.Mode&0o777 != wantFile || dir.Mode&0o777 != wantDir || file.Flags != wantFlags {
			t.Errorf("read-only %v: file %o flags %#x, dir %o; want %o %#x, %o", ro, file.Mode&0o777, file.Flags, dir.Mode&0o777, wantFile, wantFlags, wantDir)
		}
	}
}
