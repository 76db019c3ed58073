//go:build linux

package fusefs

// Mount tests for the places where OneDrive for Business is less tidy than
// a simulator could be (issue 13): delta without cTag, bare tombstones,
// download URLs that serve whatever the content is now. m365sim behaves as
// the real service does there; these tests prove the mount survives it.

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/mapdrive/mapdrive/shared/m365sim"
)

// downloads counts the content requests the mount made since the last
// counter reset: /content redirects and ranged GETs on download URLs.
func (s *simMount) downloads() int64 {
	s.t.Helper()
	cs, err := s.sim.Admin().Counters(context.Background())
	if err != nil {
		s.t.Fatalf("counters: %v", err)
	}
	return cs.Count(m365sim.RouteDownload, http.MethodGet, 0, "") + cs.Count(m365sim.RouteContent, http.MethodGet, 0, "")
}

func (s *simMount) refresh() {
	s.t.Helper()
	if err := s.fs.Refresh(context.Background()); err != nil {
		s.t.Fatalf("refresh: %v", err)
	}
}

// A pinned file keeps its content through an unrelated change, a rename
// and a metadata change made elsewhere, although delta on OneDrive for
// Business never sends a cTag: not one byte is downloaded again.
func TestSimMountPinnedFileSurvivesDeltaWithoutCTag(t *testing.T) {
	s := newSimMount(t)
	ctx := context.Background()
	data := randBytes(3 << 20)
	s.upload("/keep.bin", data)
	s.upload("/other.txt", []byte("one"))
	s.refresh()
	s.seen()
	if err := s.fs.Pin(ctx, "/keep.bin", true); err != nil {
		t.Fatal(err)
	}
	if err := s.fs.Prefetch(ctx, "/keep.bin"); err != nil {
		t.Fatal(err)
	}
	if err := s.sim.Admin().ResetCounters(ctx); err != nil {
		t.Fatal(err)
	}
	s.upload("/other.txt", []byte("two")) // unrelated
	s.refresh()
	if _, err := s.other.Move(ctx, s.driveID, "/keep.bin", "", "kept.bin"); err != nil {
		t.Fatalf("rename elsewhere: %v", err)
	}
	s.refresh()
	it, err := s.other.Get(ctx, s.driveID, "/kept.bin")
	if err != nil {
		t.Fatal(err)
	}
	patch := map[string]any{"fileSystemInfo": map[string]any{"lastModifiedDateTime": "2020-01-02T03:04:05Z"}}
	if err := s.other.JSON(ctx, http.MethodPatch, "/v1.0/drives/"+s.driveID+"/items/"+it.ID, patch, nil); err != nil {
		t.Fatalf("metadata change elsewhere: %v", err)
	}
	s.refresh()
	s.fs.PollNow()
	time.Sleep(500 * time.Millisecond) // let a pin sync run, if one would
	got, err := os.ReadFile(s.p("kept.bin"))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("kept.bin through the mount: %d bytes, %v", len(got), err)
	}
	if st, err := os.Stat(s.p("kept.bin")); err != nil || st.ModTime().Year() != 2020 {
		t.Errorf("kept.bin mtime = %v, %v; want the 2020 one set elsewhere", st.ModTime(), err)
	}
	if n := s.downloads(); n != 0 {
		t.Fatalf("%d content requests after an unrelated change, a rename and a metadata change; want 0", n)
	}
	if _, err := os.Stat(s.p("keep.bin")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("old name still there: %v", err)
	}
}

// Tombstones without a parent (a file) or naming the root as parent (a
// folder) remove the item from the mount.
func TestSimMountBareTombstonesRemoveItems(t *testing.T) {
	s := newSimMount(t)
	ctx := context.Background()
	if _, err := s.other.Mkdir(ctx, s.driveID, "/", "dir"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.other.Mkdir(ctx, s.driveID, "/dir", "sub"); err != nil {
		t.Fatal(err)
	}
	s.upload("/dir/f.txt", []byte("file"))
	s.upload("/dir/sub/g.txt", []byte("in a folder"))
	s.refresh()
	s.sh("ls -R dir >/dev/null")
	for _, p := range []string{"dir/f.txt", "dir/sub/g.txt"} {
		if _, err := os.Stat(s.p(p)); err != nil {
			t.Fatalf("%s before the deletes: %v", p, err)
		}
	}
	if err := s.other.Delete(ctx, s.driveID, "/dir/f.txt"); err != nil {
		t.Fatal(err)
	}
	if err := s.other.Delete(ctx, s.driveID, "/dir/sub"); err != nil {
		t.Fatal(err)
	}
	s.refresh()
	// The kernel may keep a name for its entry_timeout (1 s).
	for _, p := range []string{"dir/f.txt", "dir/sub/g.txt", "dir/sub"} {
		eventually(t, 3*time.Second, p+" gone after its deletion elsewhere", func() bool {
			_, err := os.Stat(s.p(p))
			return errors.Is(err, os.ErrNotExist)
		})
	}
	if out := s.sh("ls -A dir"); out != "" {
		t.Errorf("ls dir = %q, want empty", out)
	}
}

// A stale delta token answers 410 with one of two inner codes
// (graph-contract.md, Delta), while a local change waits to upload.
// Apply differences: what the server deleted goes from the mount, the
// local change stays and uploads. Upload differences: the files whose
// content is here, and their folder, come back and are uploaded again.
func TestSimMountResyncBothKinds(t *testing.T) {
	for _, tc := range []struct {
		inner string
		back  bool
	}{{"resyncChangesApplyDifferences", false}, {"resyncChangesUploadDifferences", true}} {
		t.Run(tc.inner, func(t *testing.T) {
			s := newSimMount(t)
			ctx := context.Background()
			s.upload("/keep.txt", []byte("server"))
			s.upload("/cached.txt", []byte("cached here"))
			s.upload("/dir/inner.txt", []byte("inner"))
			s.refresh()
			s.sh("cat cached.txt dir/inner.txt >/dev/null")
			s.fs.SetUploadsPaused(true)
			s.sh("printf 'new local' > new.txt")
			if err := s.other.Delete(ctx, s.driveID, "/cached.txt"); err != nil {
				t.Fatal(err)
			}
			if err := s.other.Delete(ctx, s.driveID, "/dir"); err != nil {
				t.Fatal(err)
			}
			if err := s.sim.Admin().ExpireDeltaWith(ctx, s.driveID, tc.inner); err != nil {
				t.Fatal(err)
			}
			s.refresh()
			for _, p := range []string{"cached.txt", "dir/inner.txt"} {
				eventually(t, 3*time.Second, p+" present as the resync kind says", func() bool {
					_, err := os.Stat(s.p(p))
					return (err == nil) == tc.back
				})
			}
			if got := s.sh("cat new.txt"); got != "new local" {
				t.Fatalf("new.txt after the resync = %q", got)
			}
			s.fs.SetUploadsPaused(false)
			s.sync(time.Minute)
			s.serverHas("/new.txt", []byte("new local"))
			s.serverHas("/keep.txt", []byte("server"))
			if tc.back {
				s.serverHas("/cached.txt", []byte("cached here"))
				s.serverHas("/dir/inner.txt", []byte("inner"))
			} else if _, ok := s.download("/cached.txt"); ok {
				t.Error("applying differences uploaded a file the server had deleted")
			}
		})
	}
}
