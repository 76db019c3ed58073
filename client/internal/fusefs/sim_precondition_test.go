//go:build linux

package fusefs

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mapdrive/mapdrive/client/internal/vfs"
	"github.com/mapdrive/mapdrive/client/internal/vfs/vfstest"
)

// TestSimMountRemoteEditRacingRmAndMv: through the real mount and Graph
// against m365sim, with no delta poll to learn of the remote edits first.
// A file edited on another device after the mount last saw it: `rm` of it
// is refused (the delete carried the old eTag), and the other writer's
// version stays on the server and shows in the mount; `mv` of another
// such file ends with the edited content under the new name.
func TestSimMountRemoteEditRacingRmAndMv(t *testing.T) {
	s := newSimMount(t, func(o *vfs.Options, _ *vfstest.MemRemote) { o.PollInterval = -1 })
	s.upload("/notes.txt", []byte("v1"))
	s.upload("/plan.txt", []byte("v1"))
	s.seen()
	if got := s.sh("cat notes.txt plan.txt"); got != "v1v1" {
		t.Fatalf("cat = %q", got)
	}
	s.upload("/notes.txt", []byte("their edit of notes"))
	s.upload("/plan.txt", []byte("their edit of plan"))

	out, err := s.shErr("rm notes.txt")
	if err == nil || !strings.Contains(out, "busy") {
		t.Fatalf("rm of a file edited elsewhere: err %v, output %q; want it refused (EBUSY)", err, out)
	}
	s.serverHas("/notes.txt", []byte("their edit of notes"))
	// The kernel may answer from attributes it cached for up to
	// attr_timeout (1 s): the new size shows after that.
	s.eventuallyReads("notes.txt", "their edit of notes")
	st := s.fs.Status()
	if !slices.ContainsFunc(st.NotDeleted, func(e vfs.ItemError) bool { return e.Path == "/notes.txt" }) {
		t.Fatalf("Status.NotDeleted = %+v, want /notes.txt", st.NotDeleted)
	}

	s.sh("mv plan.txt plan-final.txt")
	s.serverHas("/plan-final.txt", []byte("their edit of plan"))
	if got := s.names("/"); slices.Contains(got, "plan.txt") || !slices.Contains(got, "plan-final.txt") {
		t.Fatalf("server root after mv = %v", got)
	}
	s.eventuallyReads("plan-final.txt", "their edit of plan")
}

// eventuallyReads waits until the file at rel in the mount reads want.
func (s *simMount) eventuallyReads(rel, want string) {
	s.t.Helper()
	var got []byte
	eventually(s.t, 5*time.Second, rel+" reading "+want, func() bool {
		got, _ = os.ReadFile(s.p(rel))
		return string(got) == want
	})
}
