//go:build linux

package fusefs

// Upload sessions as OneDrive for Business keeps them: a failed commit
// (full quota, a name taken meanwhile) leaves the session and its bytes on
// the server, and the mount commits it later without sending a byte again
// (#13 item 3); a new file never replaces a server file it did not know
// (#13, data-loss gaps).

import (
	"bytes"
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mapdrive/mapdrive/client/internal/vfs"
	"github.com/mapdrive/mapdrive/client/internal/vfs/vfstest"
	"github.com/mapdrive/mapdrive/shared/m365sim"
	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
)

func (s *simMount) counters() *m365sim.Counters {
	s.t.Helper()
	c, err := s.sim.Admin().Counters(context.Background())
	if err != nil {
		s.t.Fatalf("counters: %v", err)
	}
	return c
}

// checkNoRestart fails unless exactly one session was created and its one
// first fragment was sent once: no restart from byte 0, no 416 loop.
func (s *simMount) checkNoRestart() {
	s.t.Helper()
	c := s.counters()
	sessions := c.Count(m365sim.RouteUpload, "POST", 200, "")
	first := c.Count(m365sim.RouteUpload, "PUT", 202, "")
	overlaps := c.Count(m365sim.RouteUpload, "PUT", 416, "")
	s.t.Logf("upload sessions created %d, accepted fragments %d, 416 answers %d", sessions, first, overlaps)
	if sessions != 1 || first != 1 || overlaps != 0 {
		s.t.Errorf("sessions %d, accepted fragments %d, 416s %d; want 1, 1, 0 (the kept session committed, nothing resent)", sessions, first, overlaps)
	}
}

func noPoll(o *vfs.Options, _ *vfstest.MemRemote) { o.PollInterval = time.Hour }

func TestSimMountUploadOverQuotaWaitsThenCommitsTheKeptSession(t *testing.T) {
	seed := directory.DemoSeed()
	seed.Tenants[0].Users[0].Drive.Quota = 20 << 20
	seed.Tenants[0].Users[0].Drive.Files = nil
	s := newSimMountOpts(t, []m365sim.Option{m365sim.WithSeed(seed)}, nil)
	s.upload("/filler.bin", make([]byte, 10<<20))
	if err := s.sim.Admin().ResetCounters(context.Background()); err != nil {
		t.Fatal(err)
	}
	data := randBytes(vfs.FragmentSize + 2<<20) // two fragments; 12 MiB do not fit beside the filler
	if err := os.WriteFile(s.p("big.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	// OneDrive for Business accepts the session and refuses the last
	// fragment.
	eventually(t, 30*time.Second, "507 on the last fragment", func() bool {
		return s.counters().Count(m365sim.RouteUpload, "PUT", 507, "") > 0
	})
	// The user notices: new writes fail with ENOSPC, the file stays whole.
	eventually(t, 5*time.Second, "ENOSPC for a new file", func() bool {
		err := os.WriteFile(s.p("more.bin"), []byte("x"), 0o644)
		return errors.Is(err, syscall.ENOSPC)
	})
	if got, err := os.ReadFile(s.p("big.bin")); err != nil || sum(got) != sum(data) {
		t.Fatalf("big.bin while waiting for space: %d bytes, %v", len(got), err)
	}
	s.upload("/filler.bin", []byte("x")) // space freed elsewhere
	s.sync(2 * time.Minute)
	s.serverHas("/big.bin", data)
	s.checkNoRestart()
}

func TestSimMountNameTakenDuringUploadCommitsTheKeptSessionBesideIt(t *testing.T) {
	s := newSimMount(t, noPoll)
	theirs := []byte("their file, created while ours uploaded")
	s.upload("/stage.bin", theirs)
	s.sh("ls")
	if err := s.sim.Admin().ResetCounters(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Hold our first fragment long enough for the other device to take
	// the name before our last fragment commits.
	s.fault(m365sim.Fault{Kind: m365sim.FaultLatency, Routes: []m365sim.RouteClass{m365sim.RouteUpload}, Methods: []string{"PUT"}, LatencyMS: 2000, Times: 1})
	data := randBytes(vfs.FragmentSize + 1<<20)
	if err := os.WriteFile(s.p("race.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "our upload session", func() bool {
		return s.counters().Count(m365sim.RouteUpload, "POST", 200, "") > 0
	})
	if _, err := s.other.Move(context.Background(), s.driveID, "/stage.bin", "", "race.bin"); err != nil {
		t.Fatalf("take the name elsewhere: %v", err)
	}
	s.sync(2 * time.Minute)
	if c := s.counters().Count(m365sim.RouteUpload, "PUT", 409, ""); c != 1 {
		t.Errorf("409 answers to the last fragment = %d, want 1", c)
	}
	conflict := vfs.ConflictName("race.bin", "testhost", time.Now(), 1)
	s.serverHas("/race.bin", theirs)
	s.serverHas("/"+conflict, data)
	s.checkNoRestart()
	if got, err := os.ReadFile(s.p(conflict)); err != nil || sum(got) != sum(data) {
		t.Errorf("%s in the mount: %d bytes, %v", conflict, len(got), err)
	}
}

func TestSimMountNewFileNeverReplacesAnUnknownServerFile(t *testing.T) {
	for _, tc := range []struct {
		name string
		size int
	}{{"small.txt", 100}, {"large.bin", vfs.SimpleUploadMax + 1<<20}} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSimMount(t, noPoll)
			s.sh("ls")
			theirs := randBytes(tc.size / 2)
			s.upload("/"+tc.name, theirs) // not yet known to the mount
			mine := randBytes(tc.size)
			if err := os.WriteFile(s.p(tc.name), mine, 0o644); err != nil {
				t.Fatal(err)
			}
			s.sync(2 * time.Minute)
			conflict := vfs.ConflictName(tc.name, "testhost", time.Now(), 1)
			s.serverHas("/"+tc.name, theirs)
			s.serverHas("/"+conflict, mine)
		})
	}
}

// A library that rewrites Office documents after upload (SharePoint
// embedding its properties, graph-contract.md, Uploads) shows a size and
// hash that differ from what was sent, in the upload's answer or only in
// a later change. Either way the mount keeps the server's version, makes
// no conflict copy and does not upload again; the next edit uploads once,
// over the rewritten version.
func TestSimMountOfficeRewriteKeepsTheServerVersion(t *testing.T) {
	for _, mode := range []string{directory.RewriteOfficeInResponse, directory.RewriteOfficeInDelta} {
		t.Run(mode, func(t *testing.T) {
			seed := directory.DemoSeed()
			seed.Tenants[0].Users[0].Drive.RewriteOffice = mode
			s := newSimMountOpts(t, []m365sim.Option{m365sim.WithSeed(seed)}, nil)
			if err := s.sim.Admin().ResetCounters(context.Background()); err != nil {
				t.Fatal(err)
			}
			puts := func() int64 {
				return s.counters().Count(m365sim.RouteUpload, "PUT", 0, "")
			}
			doc := []byte("PK\x03\x04 the quarterly report")
			if err := os.WriteFile(s.p("Report.docx"), doc, 0o644); err != nil {
				t.Fatal(err)
			}
			s.sync(time.Minute)
			for range 3 {
				s.refresh()
			}
			s.sync(time.Minute)
			server, ok := s.download("/Report.docx")
			if !ok || len(server) <= len(doc) {
				t.Fatalf("server copy = %q (present %v), want the rewritten document", server, ok)
			}
			eventually(t, 5*time.Second, "the mount serving the server's version", func() bool {
				got, err := os.ReadFile(s.p("Report.docx"))
				return err == nil && bytes.Equal(got, server)
			})
			if got := s.names("/"); slices.ContainsFunc(got, func(n string) bool { return strings.Contains(n, "conflict") }) {
				t.Fatalf("names after the rewrite = %v, want no conflict copy", got)
			}
			if n := puts(); n != 1 {
				t.Fatalf("%d uploads of one save, want 1 (no upload loop)", n)
			}
			// The next save goes over the rewritten version, once.
			if err := os.WriteFile(s.p("Report.docx"), append(doc, " v2"...), 0o644); err != nil {
				t.Fatal(err)
			}
			s.sync(time.Minute)
			s.refresh()
			s.sync(time.Minute)
			if got := s.names("/"); slices.ContainsFunc(got, func(n string) bool { return strings.Contains(n, "conflict") }) {
				t.Errorf("names after the second save = %v, want no conflict copy", got)
			}
			if n := puts(); n != 2 {
				t.Errorf("%d uploads after two saves, want 2", n)
			}
			if server, ok := s.download("/Report.docx"); !ok || !bytes.HasPrefix(server, append(doc, " v2"...)) {
				t.Errorf("server copy after the second save = %q", server)
			}
		})
	}
}
