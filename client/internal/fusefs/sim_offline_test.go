//go:build linux

package fusefs

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mapdrive/mapdrive/client/internal/vfs"
	"github.com/mapdrive/mapdrive/client/internal/vfs/vfstest"
	"github.com/mapdrive/mapdrive/shared/m365sim"
)

// TestSimMountOfflineNeverListedFolder: with m365sim unreachable, `ls` of
// a folder the mount knows but never listed succeeds and is empty (not
// ENETUNREACH), and status names the folder; once the connection is back,
// `ls` shows its children and status forgets it. No delta poll runs, so
// the folder's children are known only from listing it.
func TestSimMountOfflineNeverListedFolder(t *testing.T) {
	s := newSimMount(t, func(o *vfs.Options, _ *vfstest.MemRemote) { o.PollInterval = -1 })
	s.upload("/trip/plan.txt", []byte("plan"))
	s.upload("/trip/days/day1.txt", []byte("day 1"))
	if out := s.sh("ls"); !strings.Contains(out, "trip") {
		t.Fatalf("ls of the root = %q", out)
	}
	id := s.fault(m365sim.Fault{Kind: m365sim.FaultOffline})
	if out := s.sh("ls -A trip"); out != "" {
		t.Fatalf("offline ls of a never-listed folder = %q, want empty", out)
	}
	if st := s.fs.Status(); st.Online || !slices.Equal(st.UnavailableOffline, []string{"/trip"}) {
		t.Fatalf("offline status: online %v, unavailable offline %q; want false, [/trip]", st.Online, st.UnavailableOffline)
	}
	start := time.Now()
	if out := s.sh("ls -A trip"); out != "" {
		t.Fatalf("second offline ls = %q", out)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("second offline ls took %s: it waited on the network again", d)
	}

	if err := s.sim.Admin().RemoveFault(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	// The first write that reaches the server tells the mount it is
	// online (as the delta poll would).
	s.sh("printf back > back.txt")
	s.sync(time.Minute)
	if out := s.sh("ls trip"); out != "days\nplan.txt\n" {
		t.Fatalf("online ls trip = %q, want days and plan.txt", out)
	}
	if got := s.sh("cat trip/days/day1.txt"); got != "day 1" {
		t.Fatalf("trip/days/day1.txt = %q", got)
	}
	if st := s.fs.Status(); !st.Online || len(st.UnavailableOffline) != 0 {
		t.Fatalf("online status: online %v, unavailable offline %q; want true, none", st.Online, st.UnavailableOffline)
	}
}
