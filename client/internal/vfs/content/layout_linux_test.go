package content

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func openFlags(t *testing.T, fd *os.File) int64 {
	t.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/self/fdinfo/%d", fd.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "flags:"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 8, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no flags in fdinfo")
	return 0
}

// Data files of the aligned layout bypass the page cache where the file
// system allows it, and work through it where it does not.
func TestDataFilesUseDirectIOWhereTheFileSystemAllows(t *testing.T) {
	dirs := map[string]string{"disk": t.TempDir()}
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		shm, err := os.MkdirTemp("/dev/shm", "cache-test")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(shm) })
		dirs["tmpfs"] = shm
	}
	for name, dir := range dirs {
		t.Run(name, func(t *testing.T) {
			st, c := newContent(t, dir, 1<<30)
			defer st.Close()
			remote := rnd(2*BlockSize + 5)
			f := c.Acquire("k", "v1", int64(len(remote)))
			defer f.Release()
			f.Claim(0, 2)
			for idx := range int64(3) {
				if err := f.Fill(idx, remote[idx*BlockSize:min((idx+1)*BlockSize, int64(len(remote)))]); err != nil {
					t.Fatal(err)
				}
			}
			f.mu.Lock()
			f.dropFreshLocked() // read back from the file
			direct := openFlags(t, f.fd)&syscall.O_DIRECT != 0
			f.mu.Unlock()
			// tmpfs takes O_DIRECT since Linux 6.6, older ones refuse it
			// and the cache falls back to the page cache there.
			if name == "disk" && !direct {
				t.Fatal("a data file on disk is not opened for direct I/O")
			}
			buf := make([]byte, len(remote))
			if n, err := f.ReadAt(buf, 0); err != nil || n != len(buf) || !bytes.Equal(buf, remote) {
				t.Fatalf("read back = %d, %v", n, err)
			}
		})
	}
}
