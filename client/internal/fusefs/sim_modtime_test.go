//go:build linux

package fusefs

import (
	"context"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/mapdrive/mapdrive/shared/m365sim"
)

// TestSimMountTimesReachTheServer: touch -d, which sets both times as cp
// -p and rsync -t do, through the mount
// set the item's fileSystemInfo.lastModifiedDateTime in Graph, which
// another client of the user reads, and which the mount still shows after
// the server's next report of the item.
func TestSimMountTimesReachTheServer(t *testing.T) {
	s := newSimMount(t)
	src := t.TempDir() + "/src.txt"
	if err := os.WriteFile(src, []byte("kept time"), 0o644); err != nil {
		t.Fatal(err)
	}
	srcTime := time.Date(2011, 3, 4, 5, 6, 7, 0, time.UTC)
	if err := os.Chtimes(src, srcTime, srcTime); err != nil {
		t.Fatal(err)
	}
	s.sh("printf plain > touched.txt && cp -p " + src + " copied.txt")
	s.sync(time.Minute)
	s.sh("touch -d 2009-08-07T06:05:04Z touched.txt")
	s.sync(time.Minute)

	for name, want := range map[string]time.Time{
		"touched.txt": time.Date(2009, 8, 7, 6, 5, 4, 0, time.UTC),
		"copied.txt":  srcTime,
	} {
		var it struct {
			FileSystemInfo struct {
				LastModifiedDateTime time.Time `json:"lastModifiedDateTime"`
			} `json:"fileSystemInfo"`
		}
		if err := s.other.JSON(context.Background(), http.MethodGet, m365sim.ItemPath(s.driveID, "/"+name), nil, &it); err != nil {
			t.Fatalf("get %s: %v", name, err)
		}
		if got := it.FileSystemInfo.LastModifiedDateTime; !got.Equal(want) {
			t.Errorf("%s: server fileSystemInfo.lastModifiedDateTime = %v, want %v", name, got, want)
		}
	}
	s.serverHas("/copied.txt", []byte("kept time"))
	// Another change reported by the server (a rename elsewhere) brings
	// the item back through delta: the time stays.
	s.refresh()
	st, err := os.Stat(s.p("touched.txt"))
	if err != nil || !st.ModTime().Equal(time.Date(2009, 8, 7, 6, 5, 4, 0, time.UTC)) {
		t.Errorf("stat touched.txt after refresh = %v, %v", st.ModTime(), err)
	}
}
