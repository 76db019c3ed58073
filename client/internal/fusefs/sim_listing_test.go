//go:build linux

package fusefs

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mapdrive/mapdrive/client/internal/vfs"
	"github.com/mapdrive/mapdrive/client/internal/vfs/vfstest"
)

// TestSimMountListsLargeFolderPageByPage lists a folder of three Graph
// pages ($top=1000) through the mount, which stores each page while the
// next is fetched, then lists it again after the server lost and gained
// children: every child is there once, and the ones deleted on the server
// are gone.
func TestSimMountListsLargeFolderPageByPage(t *testing.T) {
	const n = 2100
	s := newSimMount(t, func(o *vfs.Options, _ *vfstest.MemRemote) { o.PollInterval = -1; o.FolderTTL = time.Second })
	ctx := context.Background()
	dir, err := s.other.Mkdir(ctx, s.driveID, "/", "big")
	if err != nil {
		t.Fatal(err)
	}
	putMany(t, s, dir.ID, n, "f%04d.txt")
	names := func() []string {
		entries, err := os.ReadDir(s.p("big"))
		if err != nil {
			t.Fatal(err)
		}
		out := make([]string, len(entries))
		for i, e := range entries {
			out[i] = e.Name()
		}
		return out
	}
	if got := names(); len(got) != n || got[0] != "f0000.txt" || got[n-1] != fmt.Sprintf("f%04d.txt", n-1) {
		t.Fatalf("the mount lists %d children of big (first %q), want %d", len(got), got[:min(len(got), 1)], n)
	}
	if out := strings.TrimSpace(s.sh("ls -l big | grep -c '^-'")); out != fmt.Sprint(n) {
		t.Fatalf("ls -l big shows %s files, want %d", out, n)
	}

	// On the server: one child from each page is deleted, one is added.
	for _, i := range []int{5, 1500, 2099} {
		if err := s.other.Delete(ctx, s.driveID, fmt.Sprintf("/big/f%04d.txt", i)); err != nil {
			t.Fatal(err)
		}
	}
	s.upload("/big/new.txt", []byte("new"))
	eventually(t, 30*time.Second, "the server's changes in the listing", func() bool {
		got := names()
		if len(got) != n-2 {
			return false
		}
		for _, name := range got {
			if name == "f0005.txt" || name == "f1500.txt" || name == "f2099.txt" {
				return false
			}
		}
		return got[len(got)-1] == "new.txt"
	})
}

// putMany creates n one-byte files named by format (with their index) in
// the folder parentID, directly through Graph with 16 requests at once.
func putMany(tb testing.TB, s *simMount, parentID string, n int, format string) {
	tb.Helper()
	ctx := context.Background()
	var wg sync.WaitGroup
	next := atomic.Int64{}
	for range 16 {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(n); i = next.Add(1) - 1 {
				if _, err := s.graph.PutSmall(ctx, parentID, fmt.Sprintf(format, i), []byte("x"), ""); err != nil {
					tb.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if tb.Failed() {
		tb.FailNow()
	}
}
