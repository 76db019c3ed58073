//go:build linux

package fusefs

// A download URL names no content version (#13 item 5): a file changed on
// the server in the middle of a cold read must never reach the reader as
// a mix of both versions.

import (
	"io"
	"os"
	"testing"
	"time"

	"github.com/mapdrive/mapdrive/client/internal/vfs"
	"github.com/mapdrive/mapdrive/client/internal/vfs/vfstest"
	"github.com/mapdrive/mapdrive/shared/m365sim"
)

func TestSimMountColdReadDuringARemoteChangeIsNeverAMix(t *testing.T) {
	// Small ranges and read-ahead, so that most ranges are asked for after
	// the change.
	s := newSimMount(t, func(o *vfs.Options, _ *vfstest.MemRemote) { o.ReadAhead, o.ChunkSize = 1<<20, 1<<20 })
	const size = 16 << 20
	old, nu := randBytes(size), randBytes(size) // same size: only the ETag tells them apart
	s.upload("/changing.bin", old)
	eventually(t, 30*time.Second, "the file in the mount", func() bool {
		_, err := os.Stat(s.p("changing.bin"))
		return err == nil
	})
	// Slow downloads so that the change lands in the middle of the read.
	s.fault(m365sim.Fault{Kind: m365sim.FaultBandwidth, Routes: []m365sim.RouteClass{m365sim.RouteDownload}, BytesPerSec: 4 << 20})
	f, err := os.Open(s.p("changing.bin"))
	if err != nil {
		t.Fatal(err)
	}
	head := make([]byte, 1<<20)
	if _, err := io.ReadFull(f, head); err != nil {
		t.Fatalf("read the first MiB: %v", err)
	}
	s.upload("/changing.bin", nu)
	rest, rerr := io.ReadAll(f)
	f.Close()
	got := append(head, rest...)
	switch {
	case rerr != nil:
		t.Logf("the read failed after the change, as allowed: %v", rerr)
	case sum(got) == sum(old):
		t.Logf("the read returned the whole old version")
	default:
		t.Fatalf("the read returned %d bytes that are neither the old version nor an error (old %v, new %v)",
			len(got), sum(got) == sum(old), sum(got) == sum(nu))
	}
	// Re-opened once the change is known, the file is the whole new version.
	eventually(t, 30*time.Second, "the new version through the mount", func() bool {
		b, err := os.ReadFile(s.p("changing.bin"))
		return err == nil && sum(b) == sum(nu)
	})
}
