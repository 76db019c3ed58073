//go:build linux

package fusefs

import (
	"context"
	"testing"
	"time"

	"github.com/mapdrive/mapdrive/client/internal/vfs"
	"github.com/mapdrive/mapdrive/client/internal/vfs/vfstest"
)

// BenchmarkManySmallFiles is row 6 of BenchmarkIssue4 alone (issue 14's
// target 9): cp -r of N files of 4 KiB into the mount until all are
// uploaded, against direct PUTs with as many workers, three times. It
// reports figures and the ratio; it asserts nothing:
//
//	go test -run '^$' -bench ManySmallFiles -benchtime 1x ./client/internal/fusefs/
//
// MAPDRIVE_BENCH_FILES sets N (default 1000).
func BenchmarkManySmallFiles(b *testing.B) {
	runManySmallFiles(b, int(envInt("MAPDRIVE_BENCH_FILES", 1000)), 3)
}

// runManySmallFiles is BenchmarkManySmallFiles's body: passes copies of n
// small files, each beside direct PUTs.
func runManySmallFiles(b testing.TB, n, passes int) {
	s := newSimMount(b, func(o *vfs.Options, _ *vfstest.MemRemote) {
		o.PollInterval = -1
		o.UploadWorkers = 8
	})
	for pass := range passes {
		s.unmount()
		s.opt.StateDir, s.opt.CacheDir = b.TempDir(), b.TempDir()
		s.mount()
		dir := "pass" + string(rune('0'+pass))
		s.sh("mkdir " + dir)
		s.sync(time.Minute)
		it, err := s.other.Get(context.Background(), s.driveID, "/"+dir)
		if err != nil {
			b.Fatal(err)
		}
		copied, mount, direct := manySmallFiles(b, s, dir+"/many", it.ID, n)
		b.Logf("%d files of 4 KiB: mount %s (of which cp %s), direct %s, ratio %.2f (%d upload workers, as many direct PUT workers)",
			n, mount.Round(time.Millisecond), copied.Round(time.Millisecond), direct.Round(time.Millisecond), mount.Seconds()/direct.Seconds(), s.opt.UploadWorkers)
	}
}
