package content

import (
	"bytes"
	"github.com/mapdrive/mapdrive/client/internal/vfs/meta"
	"os"
	"sync"
	"testing"
	"time"
)

// corruptSlot overwrites block idx's slot on disk, so a read that decrypts
// it fails: what a read returns afterwards came from memory.
func corruptSlot(t *testing.T, f *File, idx int64) {
	t.Helper()
	fd, err := os.OpenFile(f.path(), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fd.Close()
	if _, err := fd.WriteAt(bytes.Repeat([]byte{0xEE}, alignedSlot), idx*alignedSlot); err != nil {
		t.Fatal(err)
	}
}

func TestFreshBlockIsReadFromMemoryOnceThenFromDisk(t *testing.T) {
	dir := t.TempDir()
	st, c := newContent(t, dir, 1<<30)
	defer st.Close()
	remote := rnd(3 * BlockSize)
	f := c.Acquire("k", "v1", int64(len(remote)))
	f.Claim(0, 2)
	for idx := range int64(3) {
		if err := f.Fill(idx, remote[idx*BlockSize:(idx+1)*BlockSize]); err != nil {
			t.Fatal(err)
		}
	}
	if got := c.fresh.Load(); got != 3*BlockSize {
		t.Fatalf("fresh bytes = %d, want the 3 downloaded blocks", got)
	}
	// The first read of block 1 needs no disk: its slot is garbage now.
	corruptSlot(t, f, 1)
	buf := make([]byte, BlockSize)
	if _, err := f.ReadAt(buf, BlockSize); err != nil || !bytes.Equal(buf, remote[BlockSize:2*BlockSize]) {
		t.Fatalf("first read of a just downloaded block: %v (equal %v)", err, bytes.Equal(buf, remote[BlockSize:2*BlockSize]))
	}
	if got := c.fresh.Load(); got != 2*BlockSize {
		t.Fatalf("fresh bytes after the read = %d, want 2 blocks", got)
	}
	// Block 0 comes from memory too; block 1 is no longer kept, so a read
	// of it after another block goes to disk and meets the corruption.
	if _, err := f.ReadAt(buf, 0); err != nil || !bytes.Equal(buf, remote[:BlockSize]) {
		t.Fatalf("read of block 0: %v", err)
	}
	if _, err := f.ReadAt(buf, BlockSize); err == nil {
		t.Fatal("block 1 read again decrypted a corrupted slot: it was not read from disk")
	}
	// The last reference drops what is kept.
	f.Release()
	if got := c.fresh.Load(); got != 0 {
		t.Fatalf("fresh bytes after release = %d, want 0", got)
	}
	f = c.Acquire("k", "v1", int64(len(remote)))
	defer f.Release()
	if _, err := f.ReadAt(buf, 2*BlockSize); err != nil || !bytes.Equal(buf, remote[2*BlockSize:]) {
		t.Fatalf("block 2 from disk after release: %v", err)
	}
}

func TestFreshBlocksAreBounded(t *testing.T) {
	dir := t.TempDir()
	st, err := meta.OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c, err := OpenContent(ContentOptions{Dir: dir + "/blocks", Store: st, Key: bytes.Repeat([]byte{9}, 32), FreshBytes: 2 * BlockSize})
	if err != nil {
		t.Fatal(err)
	}
	remote := rnd(4 * BlockSize)
	f := c.Acquire("k", "v1", int64(len(remote)))
	defer f.Release()
	f.Claim(0, 3)
	for idx := range int64(4) {
		if err := f.Fill(idx, remote[idx*BlockSize:(idx+1)*BlockSize]); err != nil {
			t.Fatal(err)
		}
	}
	if got := c.fresh.Load(); got != 2*BlockSize || len(f.fresh) != 2 {
		t.Fatalf("fresh = %d bytes in %d blocks, want the bound of 2 blocks", got, len(f.fresh))
	}
	// Blocks past the bound were stored on disk and read from there.
	buf := make([]byte, 4*BlockSize)
	if n, err := f.ReadAt(buf, 0); err != nil || n != len(buf) || !bytes.Equal(buf, remote) {
		t.Fatalf("read all = %d, %v", n, err)
	}
}

// A whole block written by the user while its download is being stored
// wins, whatever the order in which the two reach the disk.
func TestLocalWriteWinsOverAConcurrentFill(t *testing.T) {
	for i := range 50 {
		dir := t.TempDir()
		st, c := newContent(t, dir, 1<<30)
		remote := rnd(2 * BlockSize)
		mine := bytes.Repeat([]byte{byte(i)}, BlockSize)
		f := c.Acquire("k", "v1", int64(len(remote)))
		f.Claim(0, 1)
		var wg sync.WaitGroup
		wg.Go(func() { f.Fill(0, remote[:BlockSize]) })
		wg.Go(func() { f.WriteAt(mine, 0) })
		wg.Go(func() { f.Fill(1, remote[BlockSize:]) })
		wg.Wait()
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
		f.Release()
		f = c.Acquire("k", "v1", int64(len(remote)))
		buf := make([]byte, 2*BlockSize)
		if _, err := f.ReadAt(buf, 0); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf[:BlockSize], mine) || !bytes.Equal(buf[BlockSize:], remote[BlockSize:]) {
			t.Fatalf("run %d: the downloaded block replaced the local write", i)
		}
		f.Release()
		st.Close()
	}
}

// The user's write of a block whose downloaded copy is on its way to disk
// waits for that write, so it lands last.
func TestLocalWriteWaitsForTheBlocksDiskWrite(t *testing.T) {
	dir := t.TempDir()
	st, c := newContent(t, dir, 1<<30)
	defer st.Close()
	entered, release := make(chan struct{}), make(chan struct{})
	c.beforeStore = func(int64) { close(entered); <-release }
	remote := rnd(BlockSize)
	mine := bytes.Repeat([]byte{7}, BlockSize)
	f := c.Acquire("k", "v1", BlockSize)
	f.Claim(0, 0)
	var wg sync.WaitGroup
	wg.Go(func() { f.Fill(0, remote) })
	<-entered
	// Readers need not wait for the disk: the block is served from memory.
	buf := make([]byte, 10)
	if _, err := f.ReadAt(buf, 0); err != nil || !bytes.Equal(buf, remote[:10]) {
		t.Fatalf("read while the block is stored: %v", err)
	}
	wrote := make(chan struct{})
	wg.Go(func() { f.WriteAt(mine, 0); close(wrote) })
	select {
	case <-wrote:
	case <-time.After(100 * time.Millisecond): // the write waits, as it should
	}
	close(release)
	wg.Wait()
	f.Sync()
	f.Release()
	f = c.Acquire("k", "v1", BlockSize)
	defer f.Release()
	buf = make([]byte, BlockSize)
	if _, err := f.ReadAt(buf, 0); err != nil || !bytes.Equal(buf, mine) {
		t.Fatalf("after both writes the block holds the download, not the user's write (err %v)", err)
	}
}

// A file truncated and dropped while its blocks are being stored keeps
// no block that was not written.
func TestTruncateAndDropDuringFill(t *testing.T) {
	for range 30 {
		dir := t.TempDir()
		st, c := newContent(t, dir, 1<<30)
		remote := rnd(8 * BlockSize)
		f := c.Acquire("k", "v1", int64(len(remote)))
		f.Claim(0, 7)
		var wg sync.WaitGroup
		for idx := range int64(8) {
			wg.Go(func() { f.Fill(idx, remote[idx*BlockSize:(idx+1)*BlockSize]) })
		}
		wg.Go(func() { f.Truncate(3 * BlockSize) })
		wg.Wait()
		buf := make([]byte, 3*BlockSize)
		if n, err := f.ReadAt(buf, 0); err == nil && (n != len(buf) || !bytes.Equal(buf, remote[:3*BlockSize])) {
			t.Fatalf("read after truncate = %d bytes, wrong content", n)
		}
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
		f.Release()
		f = c.Acquire("k", "v1", int64(len(remote)))
		f.Invalidate("v2", 10)
		f.Release()
		if got := c.fresh.Load(); got != 0 {
			t.Fatalf("fresh bytes = %d after release", got)
		}
		st.Close()
	}
}
