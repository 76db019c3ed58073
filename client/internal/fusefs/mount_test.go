//go:build linux

package fusefs

// Real FUSE mount tests: the vfs over an in-memory remote, mounted with
// cgofuse and driven by shell commands. They need /dev/fuse and
// fusermount (make deps installs fuse3 and libfuse3-dev); without
// them they skip, except under CI, where they fail. The filesystem
// behaviours a program sees are the conformance suite (vfstest.Run,
// TestConformance); these are what only a mount shows: the kernel's
// caches, a big round trip, a SIGKILLed agent.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mapdrive/mapdrive/client/internal/vfs"
	"github.com/mapdrive/mapdrive/client/internal/vfs/vfstest"
)

func TestMain(m *testing.M) {
	if os.Getenv("MAPDRIVE_FUSE_CHILD") == "1" {
		os.Exit(childMain())
	}
	os.Exit(m.Run())
}

func requireFUSE(t testing.TB) {
	t.Helper()
	var missing []string
	if _, err := os.Stat("/dev/fuse"); err != nil {
		missing = append(missing, "/dev/fuse")
	}
	if _, err := exec.LookPath("fusermount"); err != nil {
		missing = append(missing, "fusermount")
	}
	if os.Getuid() != 0 {
		missing = append(missing, "root")
	}
	if len(missing) == 0 {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("FUSE unavailable under CI (missing %s); run make deps", strings.Join(missing, ", "))
	}
	t.Skipf("FUSE unavailable (missing %s)", strings.Join(missing, ", "))
}

type mountEnv struct {
	t      testing.TB
	remote *vfstest.MemRemote
	fs     *vfs.FS
	m      *Mounted
	dir    string
	opt    vfs.Options
}

func newMount(t testing.TB, mods ...func(*vfs.Options, *vfstest.MemRemote)) *mountEnv {
	t.Helper()
	requireFUSE(t)
	mem := vfstest.NewMemRemote()
	return mountRemote(t, mem, mem, mods...)
}

// mountRemote mounts a vfs over remote; mem is the in-memory remote when
// that is what remote is, else nil.
func mountRemote(t testing.TB, remote vfs.Remote, mem *vfstest.MemRemote, mods ...func(*vfs.Options, *vfstest.MemRemote)) *mountEnv {
	t.Helper()
	e := &mountEnv{t: t, remote: mem, dir: filepath.Join(t.TempDir(), "mnt")}
	key := make([]byte, 32)
	rand.Read(key)
	e.opt = vfs.Options{Remote: remote, StateDir: t.TempDir(), CacheDir: t.TempDir(), CacheKey: key,
		CacheMaxBytes: 4 << 30, PollInterval: time.Second, FolderTTL: time.Minute, Host: "testhost"}
	if os.Getenv("MAPDRIVE_TEST_LOG") != "" {
		e.opt.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	for _, f := range mods {
		f(&e.opt, e.remote)
	}
	e.mount()
	t.Cleanup(e.unmount)
	return e
}

func (e *mountEnv) mount() {
	e.t.Helper()
	fsys, err := vfs.New(context.Background(), e.opt)
	if err != nil {
		e.t.Fatalf("vfs.New: %v", err)
	}
	m, err := Mount(context.Background(), fsys, e.dir, Options{Debug: os.Getenv("MAPDRIVE_TEST_FUSE_DEBUG") != ""})
	if err != nil {
		fsys.Close()
		e.t.Fatalf("Mount: %v", err)
	}
	e.fs, e.m = fsys, m
}

func (e *mountEnv) unmount() {
	if e.m != nil {
		if err := e.m.Unmount(); err != nil {
			e.t.Errorf("Unmount: %v", err)
		}
		e.m = nil
	}
	if e.fs != nil {
		e.fs.Close()
		e.fs = nil
	}
}

// seen waits for the mount to catch up with remote changes made by the
// test, as the next delta poll would.
func (e *mountEnv) seen() {
	e.t.Helper()
	if err := e.fs.Refresh(context.Background()); err != nil {
		e.t.Fatalf("Refresh: %v", err)
	}
}

func (e *mountEnv) p(rel string) string { return filepath.Join(e.dir, rel) }

// sh runs a bash script in the mount directory and returns its output.
func (e *mountEnv) sh(script string) string {
	e.t.Helper()
	out, err := e.shErr(script)
	if err != nil {
		e.t.Fatalf("script failed: %v\n%s\n--- script:\n%s", err, out, script)
	}
	return out
}

func (e *mountEnv) shErr(script string) (string, error) {
	// cd inside the script: a cmd.Dir on the mount makes the forked child
	// touch the mount before exec, which deadlocks under the race
	// detector (its fork lock is held while the FUSE server needs it).
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", `cd "$MAPDRIVE_MNT"`+"\n"+script)
	cmd.Env = append(os.Environ(), "MAPDRIVE_MNT="+e.dir)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (e *mountEnv) sync(timeout time.Duration) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := e.fs.Sync(ctx); err != nil {
		e.t.Fatalf("Sync: %v (status %+v)", err, e.fs.Status())
	}
}

func (e *mountEnv) remoteHas(p string, want []byte) {
	e.t.Helper()
	got, ok := e.remote.ReadFile(p)
	if !ok {
		e.t.Fatalf("remote has no %s (names %v)", p, e.remote.Names(filepath.Dir(p)))
	}
	if !bytes.Equal(got, want) {
		e.t.Fatalf("remote %s: %d bytes, want %d", p, len(got), len(want))
	}
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// eventually polls cond every 50 ms until it holds or d passes.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestMountRoundTripByHash(t *testing.T) {
	// The in-memory remote holds the file in the heap, which the race
	// detector multiplies: 1 GiB runs in make test's non-race pass
	// (scripts/test.sh, step "big"), beside the m365sim round trip.
	size := int64(1 << 30)
	if testing.Short() || raceEnabled {
		size = 128 << 20
	}
	e := newMount(t)
	src := filepath.Join(t.TempDir(), "big.bin")
	f, err := os.Create(src)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	rng := mrand.NewChaCha8([32]byte{1})
	if _, err := io.CopyN(io.MultiWriter(f, h), rng, size); err != nil {
		t.Fatal(err)
	}
	f.Close()
	want := hex.EncodeToString(h.Sum(nil))
	start := time.Now()
	e.sh(fmt.Sprintf("cp %q big.bin", src))
	e.sync(10 * time.Minute)
	t.Logf("wrote and uploaded %d MiB in %s", size>>20, time.Since(start))
	got, _ := e.remote.ReadFile("/big.bin")
	if sum(got) != want {
		t.Fatalf("remote hash %s, want %s", sum(got), want)
	}
	got = nil
	// A second mount with an empty cache reads it back from the remote.
	e.unmount()
	e.opt.StateDir, e.opt.CacheDir = t.TempDir(), t.TempDir()
	e.mount()
	start = time.Now()
	out := e.sh("sha256sum big.bin | cut -d' ' -f1")
	t.Logf("cold read of %d MiB in %s", size>>20, time.Since(start))
	if strings.TrimSpace(out) != want {
		t.Fatalf("read-back hash %s, want %s", out, want)
	}
}

func TestMountRemoteChangeAppears(t *testing.T) {
	e := newMount(t, func(o *vfs.Options, _ *vfstest.MemRemote) { o.PollInterval = 2 * time.Second })
	e.sh("ls")
	e.remote.WriteFile("/from-elsewhere.txt", []byte("hello"))
	start := time.Now()
	// One poll interval, plus the kernel's one-second attribute cache.
	eventually(t, 2*time.Second+1500*time.Millisecond, "remote file to appear", func() bool {
		b, err := os.ReadFile(e.p("from-elsewhere.txt"))
		return err == nil && string(b) == "hello"
	})
	t.Logf("remote change visible after %s", time.Since(start))
}

func TestMountCacheEvictionRespectsBoundAndPins(t *testing.T) {
	const mib = 1 << 20
	e := newMount(t, func(o *vfs.Options, _ *vfstest.MemRemote) { o.CacheMaxBytes = 6 * mib })
	files := map[string][]byte{}
	for i := range 8 {
		name := fmt.Sprintf("/f%d.bin", i)
		files[name] = randBytes(2 * mib)
		e.remote.WriteFile(name, files[name])
	}
	e.seen()
	if err := e.fs.Pin(context.Background(), "/f0.bin", true); err != nil {
		t.Fatal(err)
	}
	if err := e.fs.Prefetch(context.Background(), "/f0.bin"); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < 8; i++ {
		e.sh(fmt.Sprintf("cat f%d.bin > /dev/null", i))
		if used := e.fs.Status().CacheUsed; used > 6*mib+int64(mib) {
			// Files in use are never evicted; the bound holds once closed.
			t.Fatalf("cache uses %d bytes, bound %d", used, 6*mib)
		}
	}
	e.remote.SetOffline(true)
	// The kernel may still hold pages of every file read (keep_cache);
	// drop them so what answers below is the mount's own cache.
	for _, name := range []string{"f0.bin", "f1.bin", "f7.bin"} {
		dropPageCache(t, e.p(name))
	}
	if b, err := os.ReadFile(e.p("f0.bin")); err != nil || !bytes.Equal(b, files["/f0.bin"]) {
		t.Fatalf("pinned file unreadable offline: %v", err)
	}
	if b, err := os.ReadFile(e.p("f7.bin")); err != nil || !bytes.Equal(b, files["/f7.bin"]) {
		t.Fatalf("recent file unreadable offline: %v", err)
	}
	if _, err := os.ReadFile(e.p("f1.bin")); err == nil {
		t.Fatal("least recently used file was not evicted")
	}
	if used := e.fs.Status().CacheUsed; used > 6*mib {
		t.Fatalf("cache uses %d bytes after reads, bound %d", used, 6*mib)
	}
}

func TestMountReadOnlyLibrary(t *testing.T) {
	e := newMount(t, func(o *vfs.Options, m *vfstest.MemRemote) {
		o.ReadOnly = true
		m.WriteFile("/policy.pdf", []byte("read me"))
	})
	if got := e.sh("cat policy.pdf"); got != "read me" {
		t.Fatalf("cat = %q", got)
	}
	out, err := e.shErr("touch new.txt")
	if err == nil || !strings.Contains(out, "Read-only file system") {
		t.Fatalf("touch on a read-only library = %v %q", err, out)
	}
}

// childMain mounts the drive of a remote served by the parent test
// process, prints MOUNTED and serves until stdin closes. The parent may
// SIGKILL it instead.
func childMain() int {
	key, _ := hex.DecodeString(os.Getenv("MAPDRIVE_KEY"))
	remote, err := vfstest.DialRemote(os.Getenv("MAPDRIVE_SOCKET"))
	if err != nil {
		fmt.Println("ERROR", err)
		return 1
	}
	fsys, err := vfs.New(context.Background(), vfs.Options{Remote: remote, StateDir: os.Getenv("MAPDRIVE_STATE"),
		CacheDir: os.Getenv("MAPDRIVE_CACHE"), CacheKey: key, CacheMaxBytes: 1 << 30, PollInterval: time.Second, Host: "child"})
	if err != nil {
		fmt.Println("ERROR", err)
		return 1
	}
	m, err := Mount(context.Background(), fsys, os.Getenv("MAPDRIVE_MNT"), Options{})
	if err != nil {
		fmt.Println("ERROR", err)
		return 1
	}
	fmt.Println("MOUNTED")
	io.Copy(io.Discard, os.Stdin)
	m.Unmount()
	fsys.Close()
	return 0
}

type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
}

func startChild(t *testing.T, env []string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), append(env, "MAPDRIVE_FUSE_CHILD=1")...)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if strings.TrimSpace(line) != "MOUNTED" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child did not mount: %q", line)
	}
	return &child{cmd: cmd, stdin: stdin}
}

func TestMountSIGKILLMidUploadResumes(t *testing.T) {
	requireFUSE(t)
	remote := vfstest.NewMemRemote()
	sock := filepath.Join(t.TempDir(), "remote.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go vfstest.ServeRemote(l, remote)
	key := make([]byte, 32)
	rand.Read(key)
	mnt := filepath.Join(t.TempDir(), "mnt")
	env := []string{"MAPDRIVE_KEY=" + hex.EncodeToString(key), "MAPDRIVE_SOCKET=" + sock, "MAPDRIVE_STATE=" + t.TempDir(),
		"MAPDRIVE_CACHE=" + t.TempDir(), "MAPDRIVE_MNT=" + mnt}
	t.Cleanup(func() { exec.Command("fusermount", "-u", "-z", mnt).Run() })

	// The second fragment hangs until the agent has been killed.
	var frags atomic.Int32
	hung := make(chan struct{})
	release := make(chan struct{})
	remote.Hook("UploadFragment", func() error {
		if frags.Add(1) == 2 {
			close(hung)
			<-release
			return errors.New("connection reset by peer")
		}
		return nil
	})
	c1 := startChild(t, env)
	data := randBytes(3*vfs.FragmentSize + 4321)
	src := filepath.Join(t.TempDir(), "src.bin")
	os.WriteFile(src, data, 0o644)
	if out, err := exec.Command("cp", src, filepath.Join(mnt, "big.bin")).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	select {
	case <-hung:
	case <-time.After(time.Minute):
		t.Fatal("upload never reached its second fragment")
	}
	c1.cmd.Process.Signal(syscall.SIGKILL)
	c1.cmd.Wait()
	close(release)
	remote.Hook("UploadFragment", nil)
	if _, err := os.Stat(mnt); !errors.Is(err, syscall.ENOTCONN) {
		t.Logf("after SIGKILL the mount point reports %v (expected a stale mount)", err)
	}

	// A new agent cleans the stale mount and resumes the upload.
	c2 := startChild(t, env)
	defer func() { c2.stdin.Close(); c2.cmd.Wait() }()
	eventually(t, time.Minute, "the resumed upload", func() bool {
		got, ok := remote.ReadFile("/big.bin")
		return ok && bytes.Equal(got, data)
	})
	offs := remote.Fragments()
	if len(offs) < 2 || offs[1] != vfs.FragmentSize {
		t.Fatalf("fragment offsets %v: want the upload to resume at %d", offs, vfs.FragmentSize)
	}
	if n := remote.Calls("CreateUploadSession"); n != 1 {
		t.Errorf("CreateUploadSession calls = %d, want 1 (resumed, not restarted)", n)
	}
	got, err := os.ReadFile(filepath.Join(mnt, "big.bin"))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read through the new mount: %v", err)
	}
}
