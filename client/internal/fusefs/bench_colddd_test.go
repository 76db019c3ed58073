//go:build linux

package fusefs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
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
		stop := benchProfile(b, "colddd-mount")
		cpu0, busy0, start := processCPU(), machineBusy(), time.Now()
		s.sh("dd if=data/big.bin of=/dev/null bs=1M 2>/dev/null")
		mount, cpu, busy := time.Since(start), processCPU()-cpu0, machineBusy()-busy0
		stop()
		stop = benchProfile(b, "colddd-direct")
		busy0 = machineBusy()
		direct := directDownload(b, s, item.ID, size)
		busyDirect := machineBusy() - busy0
		stop()
		b.Logf("cold dd: mount %s, direct %s, ratio %.2f; agent and simulator CPU during the mount read %.1f s/GiB; whole machine busy %.1f cores (mount), %.1f cores (direct)",
			mbps(size, mount), mbps(size, direct), direct.Seconds()/mount.Seconds(), cpu.Seconds()*float64(1<<30)/float64(size),
			busy.Seconds()/mount.Seconds(), busyDirect.Seconds()/direct.Seconds())
	}
}

// machineBusy is the CPU time all processes and the kernel spent, from
// /proc/stat: the kernel's FUSE work and dd are not in processCPU.
func machineBusy() time.Duration {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(data), "\n")
	var busy int64
	for i, f := range strings.Fields(line)[1:] {
		v, _ := strconv.ParseInt(f, 10, 64)
		if i != 3 && i != 4 { // idle and iowait
			busy += v
		}
	}
	return time.Duration(busy) * time.Second / 100 // USER_HZ
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchProfile writes a CPU profile of one measured phase to
// $MAPDRIVE_BENCH_PROFILE/NAME-N.pprof, so a slow row can be explained
// without the set-up's CPU in the picture. It does nothing when the
// variable is unset.
func benchProfile(b testing.TB, name string) (stop func()) {
	dir := os.Getenv("MAPDRIVE_BENCH_PROFILE")
	if dir == "" {
		return func() {}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	var f *os.File
	for i := 1; ; i++ {
		var err error
		f, err = os.OpenFile(filepath.Join(dir, fmt.Sprintf("%s-%d.pprof", name, i)), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err == nil {
			break
		}
		if !os.IsExist(err) {
			b.Fatal(err)
		}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		b.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
