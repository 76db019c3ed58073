//go:build linux

package fusefs

import (
	"bytes"
	"crypto/rand"
	"os"
	"testing"
	"time"

	"github.com/mapdrive/mapdrive/client/internal/vfs"
	"github.com/mapdrive/mapdrive/client/internal/vfs/content"
	"github.com/mapdrive/mapdrive/client/internal/vfs/vfstest"
)

// TestSimMountRestartNeverMixesVersions: a file partly cached by an
// earlier run of the mount changed on the server (same size, new bytes)
// before this run heard of it. Its remaining blocks must not be taken
// from the new version and stored beside the old ones
// (graph-contract.md, Download: "never store bytes of version B under
// version A"): a read gives the new version whole, or fails and a later
// read does. No delta poll runs, so only the download path can
// notice.
func TestSimMountRestartNeverMixesVersions(t *testing.T) {
	s := newSimMount(t, func(o *vfs.Options, _ *vfstest.MemRemote) {
		o.PollInterval = -1
		o.ReadAhead, o.ChunkSize = content.BlockSize, content.BlockSize
	})
	size := 6 * content.BlockSize
	a, b := make([]byte, size), make([]byte, size)
	rand.Read(a)
	rand.Read(b)
	s.upload("/big.bin", a)
	s.seen()
	f, err := os.Open(s.p("big.bin"))
	if err != nil {
		t.Fatal(err)
	}
	head := make([]byte, 64<<10)
	if _, err := f.ReadAt(head, 0); err != nil || !bytes.Equal(head, a[:len(head)]) {
		t.Fatalf("first read: %v", err)
	}
	f.Close()

	s.unmount()
	s.upload("/big.bin", b)
	s.mount()

	got, err := os.ReadFile(s.p("big.bin"))
	if err == nil && !bytes.Equal(got, b) {
		mixed := bytes.Equal(got[:len(head)], a[:len(head)])
		t.Fatalf("read after the restart gave %d bytes that are not the new version (old first block: %v)", len(got), mixed)
	}
	if err != nil {
		// Refused: the record now has the new version, and an open once
		// the refused downloads have ended drops the old blocks.
		t.Logf("first read after the restart refused: %v", err)
		eventually(t, 10*time.Second, "a read of the whole new version", func() bool {
			got, err := os.ReadFile(s.p("big.bin"))
			if err == nil && !bytes.Equal(got, b) {
				t.Fatalf("a later read gave bytes that are not the new version")
			}
			return err == nil
		})
	}
}
