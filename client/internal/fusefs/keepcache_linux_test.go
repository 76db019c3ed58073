//go:build linux

package fusefs

import (
	"os"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// dropPageCache asks the kernel to drop the clean pages it holds for path
// (fadvise DONTNEED), so the next read is served by the mount, not by
// pages a keep_cache open kept.
func dropPageCache(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		t.Fatalf("fadvise %s: %v", path, err)
	}
}

// resident reports how many of the file's pages are in the page cache,
// out of how many, without reading it (mmap + mincore).
func resident(t *testing.T, path string) (in, total int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	size := int(fi.Size())
	data, err := syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		t.Fatalf("mmap %s: %v", path, err)
	}
	defer syscall.Munmap(data)
	page := os.Getpagesize()
	vec := make([]byte, (size+page-1)/page)
	if _, _, errno := syscall.Syscall(syscall.SYS_MINCORE, uintptr(unsafe.Pointer(&data[0])), uintptr(size), uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
		t.Fatalf("mincore %s: %v", path, errno)
	}
	for _, v := range vec {
		in += int(v & 1)
	}
	return in, len(vec)
}

// TestMountKeepsPageCacheWhileVersionUnchanged reads a file, then checks
// with mincore that the next open keeps its pages in the kernel (so a warm
// read never reaches the agent), and that a remote change drops them.
func TestMountKeepsPageCacheWhileVersionUnchanged(t *testing.T) {
	e := newMount(t)
	e.remote.WriteFile("/warm.bin", randBytes(4<<20))
	e.seen()
	p := e.p("warm.bin")
	if _, err := os.ReadFile(p); err != nil {
		t.Fatal(err)
	}
	// resident opens the file itself: the open that must keep the pages.
	// An open without keep_cache drops every page of the file; under the
	// load of a full test run the kernel may also reclaim a few clean pages
	// on its own (1007 of 1024 once in CI), which says nothing about the
	// open, so only losing most of them fails.
	if in, total := resident(t, p); in < total*3/4 {
		t.Fatalf("after a read and a reopen, %d of %d pages are cached: the open dropped the page cache", in, total)
	} else if in != total {
		t.Logf("after a read and a reopen, %d of %d pages are cached: a few were reclaimed", in, total)
	}

	want := randBytes(4 << 20)
	e.remote.WriteFile("/warm.bin", want)
	e.seen()
	if in, total := resident(t, p); in != 0 {
		t.Fatalf("after a remote change, %d of %d pages of the old version are still cached", in, total)
	}
	got, err := os.ReadFile(p)
	if err != nil || sum(got) != sum(want) {
		t.Fatalf("read after the remote change: %d bytes, %v; want the new content", len(got), err)
	}

	// A write through the mount makes the content dirty: the next open
	// must not vouch for the cache.
	e.sh("printf x | dd of=warm.bin bs=1 seek=5 conv=notrunc status=none")
	if _, err := os.ReadFile(p); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(e.sh("head -c 6 warm.bin | tail -c 1"), "x") {
		t.Fatal("the local write is not read back")
	}
}
