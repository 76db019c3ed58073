package content

import (
	"bytes"
	"os"
	"testing"
)

// A data file written before the aligned layout keeps its layout, is read
// and extended with it, and takes the aligned layout once emptied.
func TestLegacyLayoutStillReadsAndWrites(t *testing.T) {
	dir := t.TempDir()
	st, c := newContent(t, dir, 1<<30)
	remote := rnd(3 * BlockSize)
	f := c.Acquire("k", "v1", int64(len(remote)))
	f.e.Layout = layoutLegacy // as an entry of an older version decodes
	f.Claim(0, 1)
	for idx := range int64(2) {
		if err := f.Fill(idx, remote[idx*BlockSize:(idx+1)*BlockSize]); err != nil {
			t.Fatal(err)
		}
	}
	f.Sync()
	path := f.path()
	f.Release()
	if fi, err := os.Stat(path); err != nil || fi.Size() != 2*legacySlot {
		t.Fatalf("legacy data file: %v, want %d bytes", err, 2*legacySlot)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c, err := OpenContent(ContentOptions{Dir: dir + "/blocks", Store: st, Key: bytes.Repeat([]byte{9}, 32), MaxBytes: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	if c.Used() != 2*legacySlot {
		t.Fatalf("Used = %d, want %d", c.Used(), 2*legacySlot)
	}
	f = c.Acquire("k", "v1", int64(len(remote)))
	f.Claim(2, 2)
	if err := f.Fill(2, remote[2*BlockSize:]); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len(remote))
	if n, err := f.ReadAt(buf, 0); err != nil || n != len(buf) || !bytes.Equal(buf, remote) {
		t.Fatalf("read of a legacy file = %d, %v", n, err)
	}
	f.Invalidate("v2", 10)
	if f.e.Layout != layoutAligned {
		t.Fatal("an emptied file keeps the legacy layout")
	}
	f.Release()
	st.Close()
}
