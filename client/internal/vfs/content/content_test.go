package content

import (
	"bytes"
	"crypto/rand"
	"errors"
	"github.com/mapdrive/mapdrive/client/internal/vfs/meta"
	"os"
	"testing"
	"time"
)

func newContent(t testing.TB, dir string, max int64) (*meta.Store, *Content) {
	t.Helper()
	st, err := meta.OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	key := bytes.Repeat([]byte{9}, 32)
	c, err := OpenContent(ContentOptions{Dir: dir + "/blocks", Store: st, Key: key, MaxBytes: max})
	if err != nil {
		t.Fatal(err)
	}
	return st, c
}

func rnd(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func TestSparseContentSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	st, c := newContent(t, dir, 1<<30)
	remote := rnd(3*BlockSize + 100)
	f := c.Acquire("item1", "v1", int64(len(remote)))
	runs := f.Claim(1, 3)
	if len(runs) != 1 || runs[0] != [2]int64{1, 3} {
		t.Fatalf("Claim(1,3) = %v, want [[1 3]]", runs)
	}
	if again := f.Claim(0, 3); len(again) != 1 || again[0] != [2]int64{0, 0} {
		t.Fatalf("second Claim = %v, want only block 0", again)
	}
	f.Abort(0)
	for idx := int64(1); idx <= 3; idx++ {
		end := min((idx+1)*BlockSize, int64(len(remote)))
		if err := f.Fill(idx, remote[idx*BlockSize:end]); err != nil {
			t.Fatal(err)
		}
	}
	if !f.Missing(0, 0) || f.Missing(1, 3) {
		t.Fatal("presence wrong after filling blocks 1-3")
	}
	buf := make([]byte, 1000)
	if _, err := f.ReadAt(buf, 10); !errors.Is(err, ErrMissing) {
		t.Fatalf("ReadAt of an absent block = %v, want ErrMissing", err)
	}
	if n, err := f.ReadAt(buf, 2*BlockSize-10); err != nil || n != 1000 || !bytes.Equal(buf, remote[2*BlockSize-10:][:1000]) {
		t.Fatalf("ReadAt across blocks = %d, %v", n, err)
	}
	used := c.Used()
	if used != 3*alignedSlot {
		t.Fatalf("Used = %d, want %d", used, 3*alignedSlot)
	}
	f.Release()
	c.Close()
	st.Close()

	st, c = newContent(t, dir, 1<<30)
	defer st.Close()
	if c.Used() != used {
		t.Fatalf("Used after reopen = %d, want %d", c.Used(), used)
	}
	f = c.Acquire("item1", "v1", int64(len(remote)))
	if n, err := f.ReadAt(buf, 3*BlockSize); err != nil || n != 100 || !bytes.Equal(buf[:100], remote[3*BlockSize:]) {
		t.Fatalf("ReadAt of the tail after reopen = %d, %v", n, err)
	}
	f.Release()
	// A new remote version empties the clean entry.
	f = c.Acquire("item1", "v2", 5)
	if !f.Missing(0, 0) || c.Used() != 0 {
		t.Fatalf("stale version kept: used %d", c.Used())
	}
	f.Release()
}

func TestWriteTruncateSemantics(t *testing.T) {
	_, c := newContent(t, t.TempDir(), 1<<30)
	f := c.Acquire("k", "", 0)
	defer f.Release()
	model := []byte{}
	write := func(p []byte, off int64) {
		t.Helper()
		if _, err := f.WriteAt(p, off); err != nil {
			t.Fatal(err)
		}
		if end := off + int64(len(p)); end > int64(len(model)) {
			model = append(model, make([]byte, end-int64(len(model)))...)
		}
		copy(model[off:], p)
	}
	write(rnd(BlockSize+7), 3)
	write([]byte("abc"), 2*BlockSize+50) // leaves a hole
	if err := f.Truncate(BlockSize + 1); err != nil {
		t.Fatal(err)
	}
	model = model[:BlockSize+1]
	if err := f.Truncate(3 * BlockSize); err != nil {
		t.Fatal(err)
	}
	model = append(model, make([]byte, 3*BlockSize-len(model))...)
	got := make([]byte, len(model))
	if n, err := f.ReadAt(got, 0); err != nil || n != len(model) || !bytes.Equal(got, model) {
		t.Fatalf("content after writes and truncates differs (n=%d, err=%v)", n, err)
	}
	if e := f.Entry(); !e.Dirty || e.Size != int64(len(model)) {
		t.Fatalf("entry = %+v", e)
	}
	if size, ok := c.DirtySize("k"); !ok || size != int64(len(model)) {
		t.Fatalf("DirtySize = %d, %v", size, ok)
	}
}

func TestBlocksAreBoundToTheirPosition(t *testing.T) {
	dir := t.TempDir()
	st, c := newContent(t, dir, 1<<30)
	defer st.Close()
	f := c.Acquire("k", "", 0)
	f.WriteAt(bytes.Repeat([]byte("A"), 2*BlockSize), 0)
	f.Sync()
	path := f.path()
	f.Release()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("AAAAAAAA")) {
		t.Fatal("plaintext on disk")
	}
	swapped := append(append([]byte(nil), raw[alignedSlot:2*alignedSlot]...), raw[:alignedSlot]...)
	os.WriteFile(path, swapped, 0o600)
	f = c.Acquire("k", "", 0)
	defer f.Release()
	if _, err := f.ReadAt(make([]byte, 10), 0); err == nil {
		t.Fatal("a block moved to another position decrypted")
	}
}

func TestEvictionIsLRUAndSkipsPinnedAndDirty(t *testing.T) {
	now := time.Unix(1000, 0)
	st, err := meta.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c, err := OpenContent(ContentOptions{Dir: t.TempDir(), Store: st, Key: make([]byte, 32), MaxBytes: 3 * alignedSlot,
		Pinned: func(k string) bool { return k == "pinned" }, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"pinned", "old", "dirty", "new"} {
		f := c.Acquire(k, "v", BlockSize)
		f.Claim(0, 0)
		f.Fill(0, rnd(BlockSize))
		if k == "dirty" {
			f.WriteAt([]byte("x"), 0)
		}
		f.Release()
		now = now.Add(time.Second)
	}
	if n := c.Evict(); n != 1 {
		t.Fatalf("Evict dropped %d files, want 1", n)
	}
	if c.Used() > 3*alignedSlot {
		t.Fatalf("Used %d over the bound", c.Used())
	}
	for k, want := range map[string]bool{"pinned": true, "old": false, "dirty": true, "new": true} {
		f := c.Acquire(k, "v", BlockSize)
		if got := !f.Missing(0, 0); got != want {
			t.Errorf("%s cached = %v, want %v", k, got, want)
		}
		f.Release()
	}
	if head, ok := c.Head("old", "v"); !ok || len(head) != HeadSize {
		t.Errorf("header of the evicted file not kept (%d bytes, %v)", len(head), ok)
	}
}

// BenchmarkBlockCrypto measures AES-256-GCM on one 128 KiB cache block
// against a plain copy: the cost of encryption at rest.
func BenchmarkBlockCrypto(b *testing.B) {
	_, c := newContent(b, b.TempDir(), 1<<30)
	plain := rnd(BlockSize)
	ad := []byte("0123456789abcdef01234567")
	sealed := c.seal(plain, ad)
	b.Run("copy", func(b *testing.B) {
		dst := make([]byte, BlockSize)
		b.SetBytes(BlockSize)
		for b.Loop() {
			copy(dst, plain)
		}
	})
	b.Run("seal", func(b *testing.B) {
		b.SetBytes(BlockSize)
		for b.Loop() {
			c.seal(plain, ad)
		}
	})
	b.Run("open", func(b *testing.B) {
		b.SetBytes(BlockSize)
		for b.Loop() {
			if _, err := c.open(sealed, ad); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkCacheWriteRead measures writing then reading 32 MiB through a
// cache file (encryption plus disk I/O).
func BenchmarkCacheWriteRead(b *testing.B) {
	st, c := newContent(b, b.TempDir(), 1<<40)
	defer st.Close()
	data := rnd(32 << 20)
	buf := make([]byte, BlockSize)
	b.SetBytes(int64(len(data)))
	i := 0
	for b.Loop() {
		i++
		f := c.Acquire(string(rune('a'+i%20))+"k", "", 0)
		for off := 0; off < len(data); off += BlockSize {
			f.WriteAt(data[off:off+BlockSize], int64(off))
		}
		for off := 0; off < len(data); off += BlockSize {
			f.ReadAt(buf, int64(off))
		}
		f.Release()
		c.Remove(f.Key())
	}
}
