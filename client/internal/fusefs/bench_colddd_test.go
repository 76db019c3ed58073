//go:build linux

package fusefs

import (
	"context"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/mapdrive/mapdrive/client/internal/vfs"
	"github.com/mapdrive/mapdrive/client/internal/vfs/vfstest"
)

// BenchmarkColdReadDD reads a file cold through the mount as issue 14
// measures it (dd bs=1M, fresh mount and cache each pass), three times,
// each against one direct download stream of the same Graph client in the
// same run. It reports figures and the ratio; it asserts nothing:
//
//	go test -run '^$' -bench ColdReadDD -benchtime 1x ./client/internal/fusefs/
//
// MAPDRIVE_BENCH_SIZE sizes the file (default 512 MiB).
func BenchmarkColdReadDD(b *testing.B) {
	runColdReadDD(b, envInt("MAPDRIVE_BENCH_SIZE", 512<<20), 3)
}

// runColdReadDD is BenchmarkColdReadDD's body: passes cold reads of a
// file of size bytes, each beside a direct download.
func runColdReadDD(b testing.TB, size int64, passes int) {
	ctx := context.Background()
	s := newSimMount(b, func(o *vfs.Options, _ *vfstest.MemRemote) { o.PollInterval = -1; o.UploadWorkers = 8 })
	src := filepath.Join(b.TempDir(), "big.bin")
	writeRandomFile(b, src, size)
	s.sh(fmt.Sprintf("mkdir -p data && cp %q data/big.bin", src))
	s.sync(30 * time.Minute)
	item, err := s.other.Get(ctx, s.driveID, "/data/big.bin")
	if err != nil {
		b.Fatal(err)
	}
	for range passes {
		s.unmount()
		s.opt.StateDir, s.opt.CacheDir = b.TempDir(), b.TempDir()
		s.mount()
		cpu0, start := processCPU(), time.Now()
		s.sh("dd if=data/big.bin of=/dev/null bs=1M 2>/dev/null")
		mount, cpu := time.Since(start), processCPU()-cpu0
		direct := directDownload(b, s, item.ID, size)
		b.Logf("cold dd: mount %s, direct %s, ratio %.2f; agent and simulator CPU during the mount read %.1f s/GiB",
			mbps(size, mount), mbps(size, direct), direct.Seconds()/mount.Seconds(), cpu.Seconds()*float64(1<<30)/float64(size))
	}
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
