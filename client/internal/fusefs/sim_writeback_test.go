//go:build linux

package fusefs

// Deleting a file stops its upload at once (issue 14, vfs/writeback):
// through the real mount and the Graph client against m365sim.

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/mapdrive/mapdrive/client/internal/vfs"
	"github.com/mapdrive/mapdrive/shared/m365sim"
)

// TestSimMountRemoveDuringUploadStopsIt: `rm` of a large file, or `rm -rf`
// of its folder, while the file uploads over a slow link: the upload stops
// early (the server accepted few of its fragments), its session is
// cancelled on the server, and nothing of it appears there.
func TestSimMountRemoveDuringUploadStopsIt(t *testing.T) {
	for _, tc := range []struct{ name, rm string }{
		{"rm of the file", "rm dir/big.bin"},
		{"rm -rf of its folder", "rm -rf dir"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSimMount(t, noPoll)
			s.sh("mkdir dir")
			if err := s.sim.Admin().ResetCounters(context.Background()); err != nil {
				t.Fatal(err)
			}
			// About 2.5 s a fragment: the whole file would take 20 s.
			s.fault(m365sim.Fault{Kind: m365sim.FaultBandwidth, Routes: []m365sim.RouteClass{m365sim.RouteUpload},
				Methods: []string{"PUT"}, BytesPerSec: 4 << 20})
			const fragments = 8
			if err := os.WriteFile(s.p("dir/big.bin"), randBytes(fragments*vfs.FragmentSize), 0o644); err != nil {
				t.Fatal(err)
			}
			eventually(t, 2*time.Minute, "the upload's first fragment accepted", func() bool {
				return s.counters().Count(m365sim.RouteUpload, "PUT", 202, "") > 0
			})
			s.sh(tc.rm)
			s.sync(2 * time.Minute)
			c := s.counters()
			accepted := c.Count(m365sim.RouteUpload, "PUT", 202, "")
			cancels := c.Count(m365sim.RouteUpload, "DELETE", 0, "")
			t.Logf("fragments accepted %d of %d, session cancels %d", accepted, fragments, cancels)
			if accepted > fragments/2 {
				t.Errorf("the server accepted %d of %d fragments: the upload went on after %s", accepted, fragments, tc.rm)
			}
			if cancels != 1 {
				t.Errorf("DELETE of the upload session = %d, want 1 (cancelled on the server)", cancels)
			}
			if _, ok := s.download("/dir/big.bin"); ok {
				t.Errorf("dir/big.bin is on the server after %s", tc.rm)
			}
			if tc.rm == "rm -rf dir" && slices.Contains(s.names("/"), "dir") {
				t.Errorf("dir is on the server after %s", tc.rm)
			}
			if errs := s.fs.Status().Errors; len(errs) > 0 {
				t.Errorf("Status.Errors = %+v, want none (a cancelled upload is no failure)", errs)
			}
		})
	}
}
