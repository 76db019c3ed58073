//go:build linux

package fusefs

import (
	"context"
	"crypto/rand"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mapdrive/mapdrive/client/internal/vfs"
	"github.com/mapdrive/mapdrive/client/internal/vfs/vfstest"
)

// countingFS counts what the kernel asks of a mounted drive's metadata.
type countingFS struct {
	FileSystem
	stats, lists atomic.Int64
}

func (c *countingFS) Stat(ctx context.Context, p string) (vfs.Attr, error) {
	c.stats.Add(1)
	return c.FileSystem.Stat(ctx, p)
}

func (c *countingFS) ReadDir(ctx context.Context, p string) ([]vfs.Attr, error) {
	c.lists.Add(1)
	return c.FileSystem.ReadDir(ctx, p)
}

// TestMountListingAsksOncePerFolder runs `ls -l` of a folder of n files
// twice in a row and counts the calls that reach the drive. With libfuse
// 3 the paged listing answers readdirplus, so neither pass looks files up
// one by one; with libfuse 2 the first pass does, and the second is
// served by the kernel's attribute cache (attr_timeout, entry_timeout).
// Either way the folder is listed once per pass, not once per page.
func TestMountListingAsksOncePerFolder(t *testing.T) {
	requireFUSE(t)
	const n = 1000
	mem := vfstest.NewMemRemote()
	for i := range n {
		mem.WriteFile(fmt.Sprintf("/big/f%04d.txt", i), []byte("x"))
	}
	key := make([]byte, 32)
	rand.Read(key)
	fsys, err := vfs.New(context.Background(), vfs.Options{Remote: mem, StateDir: t.TempDir(), CacheDir: t.TempDir(), CacheKey: key,
		CacheMaxBytes: 1 << 30, PollInterval: -1, FolderTTL: time.Minute, Host: "testhost"})
	if err != nil {
		t.Fatal(err)
	}
	defer fsys.Close()
	c := &countingFS{FileSystem: fsys}
	dir := filepath.Join(t.TempDir(), "mnt")
	m, err := Mount(context.Background(), c, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Unmount()
	e := &mountEnv{t: t, dir: dir}

	// The pair runs in one shell, well inside the 1 s attribute timeout
	// unless the machine stalls; the bounds leave room for that.
	out := e.sh("ls -l big | wc -l; ls -l big | wc -l")
	if got := strings.Fields(out); len(got) != 2 || got[0] != fmt.Sprint(n+1) || got[1] != fmt.Sprint(n+1) {
		t.Fatalf("ls -l | wc -l twice = %q, want %d lines each", out, n+1)
	}
	stats, lists := c.stats.Load(), c.lists.Load()
	t.Logf("libfuse 3: %v; two ls -l of %d files: %d stats, %d listings", libfuse3, n, stats, lists)
	if lists > 4 {
		t.Errorf("two ls -l listed the folder %d times, want once each (at most 4 with a rewind)", lists)
	}
	maxStats := int64(3 * n / 2) // libfuse 2: a lookup per file, once
	if libfuse3 {
		maxStats = n / 10 // readdirplus: attributes come with the listing
	}
	if stats > maxStats {
		t.Errorf("two ls -l of %d files made %d stat calls, want at most %d", n, stats, maxStats)
	}
	// cp sizes its writes by st_blksize: 1 MiB where libfuse 3 passes
	// writes that large.
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(dir, "big", "f0000.txt"), &st); err != nil {
		t.Fatal(err)
	}
	if want := int64(128 << 10); libfuse3 && st.Blksize != 1<<20 || !libfuse3 && st.Blksize != want {
		t.Errorf("st_blksize = %d, want %d under libfuse 3, %d under libfuse 2", st.Blksize, 1<<20, want)
	}
}
