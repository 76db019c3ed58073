//go:build unix

package ipc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	childEnv = "MAPDRIVE_IPC_TEST_CHILD"
	// squatEnv makes the re-executed test binary a fake agent: it
	// listens on the path (creating its directory 0700 if missing), prints
	// "ready", logs every request it receives, and exits when stdin closes.
	squatEnv = "MAPDRIVE_IPC_TEST_SQUAT"
)

// TestMain lets the test binary act as the "other user" client when
// re-executed with childEnv set: it connects, sends one HTTP request and
// prints what happened.
func TestMain(m *testing.M) {
	if path := os.Getenv(childEnv); path != "" {
		fmt.Print(childProbe(path))
		os.Exit(0)
	}
	if path := os.Getenv(squatEnv); path != "" {
		os.Exit(squat(path))
	}
	os.Exit(m.Run())
}

// childProbe reports "connect-refused: …", "no-answer" or "answered: …".
func childProbe(path string) string {
	c, err := net.DialTimeout("unix", path, 2*time.Second)
	if err != nil {
		return "connect-refused: " + err.Error()
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	fmt.Fprintf(c, "GET /secret HTTP/1.0\r\n\r\n")
	line, err := bufio.NewReader(c).ReadString('\n')
	if line == "" {
		return fmt.Sprintf("no-answer (%v)", err)
	}
	return "answered: " + line
}

// squat is the fake agent another user plants.
func squat(path string) int {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		fmt.Println("mkdir:", err)
		return 1
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		fmt.Println("listen:", err)
		return 1
	}
	os.Chmod(path, 0o666)
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println("request:", r.Method, r.URL.Path)
		io.WriteString(w, `{"prompt":"enter code EVIL-CODE"}`)
	}))
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
	return 0
}

// serve runs an HTTP server on ln that answers "secret" to everyone it lets in.
func serve(t *testing.T, ln net.Listener) {
	t.Helper()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "secret")
	})}
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close(); <-done })
}

func TestOwnerConnects(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run", "agent.sock")
	ln, err := Listen(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	serve(t, ln)
	for p, want := range map[string]os.FileMode{path: 0o600, filepath.Dir(path): 0o700} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("mode of %s = %v, want %v", p, got, want)
		}
	}
	if got := childProbe(path); !strings.HasPrefix(got, "answered: HTTP/1.0 200") {
		t.Errorf("owner probe = %q, want a 200 answer", got)
	}
}

func TestStaleSocketRemovedLiveOneKept(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.sock")
	// A socket file nobody listens on, as a killed agent leaves it.
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("stale socket not left behind: %v", err)
	}
	live, err := Listen(path, nil)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	serve(t, live)
	if _, err := Listen(path, nil); !errors.Is(err, ErrAgentRunning) {
		t.Errorf("second Listen = %v, want ErrAgentRunning", err)
	}
}

func TestRefusesNonSocketAndForeignDir(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "agent.sock")
	if err := os.WriteFile(plain, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Listen(plain, nil); err == nil {
		t.Errorf("Listen over a regular file succeeded, want an error")
	}
	requireRoot(t) // to give a directory to nobody
	foreign := filepath.Join(dir, "foreign")
	if err := os.Mkdir(foreign, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(foreign, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if _, err := Listen(filepath.Join(foreign, "agent.sock"), nil); err == nil || !strings.Contains(err.Error(), "belongs to uid 65534") {
		t.Errorf("Listen in a directory owned by nobody = %v, want a refusal", err)
	}
}

// TestOtherUserRefused runs a child process as nobody against the socket.
// With the default permissions it cannot even connect; with the directory
// and socket opened up on purpose, the peer-credential check still closes
// its connection without an answer.
func TestOtherUserRefused(t *testing.T) {
	requireRoot(t)
	exe := copyTestBinary(t)
	tests := []struct {
		name    string
		openUp  bool
		wantPfx string
	}{
		{"default permissions", false, "connect-refused"},
		{"permissions opened, peer check", true, "no-answer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := sharedTempDir(t)
			path := filepath.Join(base, "mapdrive", "agent.sock")
			ln, err := Listen(path, nil)
			if err != nil {
				t.Fatal(err)
			}
			serve(t, ln)
			if tt.openUp {
				os.Chmod(filepath.Dir(path), 0o777)
				os.Chmod(path, 0o666)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, exe, "-test.run=^$")
			cmd.Env = []string{childEnv + "=" + path}
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("child as nobody: %v (%s)", err, out)
			}
			if got := string(out); !strings.HasPrefix(got, tt.wantPfx) || strings.Contains(got, "secret") {
				t.Errorf("probe as nobody = %q, want prefix %q and no data", got, tt.wantPfx)
			}
			// The owner still gets through afterwards.
			if got := childProbe(path); !strings.HasPrefix(got, "answered: HTTP/1.0 200") {
				t.Errorf("owner probe after refusal = %q, want a 200", got)
			}
		})
	}
}

// TestDialRefusesSquatter plants a fake agent as the user nobody, the way
// another user of a shared host would, and checks that Dial (as root, the
// "victim") refuses it with a clear error before sending a byte: a squatted
// directory (another user's /tmp/mapdrive-<uid>), a squatted socket in the
// victim's own directory, and a socket chowned to the victim but served by
// nobody, which only the client-side peer-credential check catches.
func TestDialRefusesSquatter(t *testing.T) {
	requireRoot(t)
	exe := copyTestBinary(t)
	tests := []struct {
		name string
		// plant returns the socket path after starting the squatter.
		plant   func(t *testing.T, start func(path string)) string
		wantMsg string
	}{
		{"squatted directory", func(t *testing.T, start func(string)) string {
			base := sharedTempDir(t)
			os.Chmod(base, 0o1777) // like /tmp
			path := filepath.Join(base, fmt.Sprintf("mapdrive-%d", os.Getuid()), "agent.sock")
			start(path)
			return path
		}, "belongs to uid 65534"},
		{"squatted socket in my directory", func(t *testing.T, start func(string)) string {
			dir := filepath.Join(sharedTempDir(t), "run")
			os.Mkdir(dir, 0o777)
			os.Chmod(dir, 0o777)
			path := filepath.Join(dir, "agent.sock")
			start(path)
			os.Chmod(dir, 0o700)
			return path
		}, "socket " + "%s belongs to uid 65534"},
		{"socket chowned to me, served by nobody", func(t *testing.T, start func(string)) string {
			dir := filepath.Join(sharedTempDir(t), "run")
			os.Mkdir(dir, 0o777)
			os.Chmod(dir, 0o777)
			path := filepath.Join(dir, "agent.sock")
			start(path)
			os.Chmod(dir, 0o700)
			if err := os.Lchown(path, os.Getuid(), os.Getgid()); err != nil {
				t.Fatal(err)
			}
			return path
		}, "served by a process of uid 65534"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			var stdin io.WriteCloser
			var cmd *exec.Cmd
			copied := make(chan struct{})
			start := func(path string) {
				cmd = exec.Command(exe, "-test.run=^$")
				cmd.Env = []string{squatEnv + "=" + path}
				cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
				var err error
				if stdin, err = cmd.StdinPipe(); err != nil {
					t.Fatal(err)
				}
				stdout, err := cmd.StdoutPipe()
				if err != nil {
					t.Fatal(err)
				}
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				br := bufio.NewReader(stdout)
				first, _ := br.ReadString('\n')
				if first != "ready\n" {
					stdin.Close()
					cmd.Wait()
					t.Fatalf("squatter as nobody did not start: %q", first)
				}
				go func() { defer close(copied); io.Copy(&out, br) }()
			}
			path := tt.plant(t, start)
			// The squatter works: a plain dial reaches it and it answers.
			if got := childProbe(path); !strings.HasPrefix(got, "answered: HTTP/1.0 200") {
				t.Fatalf("plain probe of the squatter = %q, want an answer (the setup is wrong)", got)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, err := Dial(ctx, path)
			if err == nil {
				// What a client without the checks would do next.
				c.SetDeadline(time.Now().Add(3 * time.Second))
				fmt.Fprintf(c, "GET /login HTTP/1.0\r\n\r\n")
				bufio.NewReader(c).ReadString('\n')
				c.Close()
			}
			stdin.Close()
			<-copied
			cmd.Wait()
			want := tt.wantMsg
			if strings.Contains(want, "%s") {
				want = fmt.Sprintf(want, path)
			}
			if !errors.Is(err, ErrUntrustedAgent) || !strings.Contains(err.Error(), want) {
				t.Errorf("Dial to a squatter = %v, want ErrUntrustedAgent saying %q", err, want)
			}
			// One request (the plain probe) and no more: Dial sent nothing.
			if n := strings.Count(out.String(), "request:"); n != 1 {
				t.Errorf("squatter received %d requests, want only the setup probe's:\n%s", n, out.String())
			}
		})
	}
}

// TestDialRefusesLooseDirectory needs no second user: the socket is the
// owner's, but its directory is a symlink or open to others, so another
// user could have replaced the socket.
func TestDialRefusesLooseDirectory(t *testing.T) {
	base := t.TempDir()
	path := filepath.Join(base, "run", "agent.sock")
	ln, err := Listen(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	serve(t, ln)
	ctx := context.Background()
	c, err := Dial(ctx, path)
	if err != nil {
		t.Fatalf("Dial to my own agent: %v", err)
	}
	c.Close()

	link := filepath.Join(base, "link")
	if err := os.Symlink(filepath.Join(base, "run"), link); err != nil {
		t.Fatal(err)
	}
	if _, err := Dial(ctx, filepath.Join(link, "agent.sock")); !errors.Is(err, ErrUntrustedAgent) || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("Dial through a symlinked directory = %v, want a refusal naming the symlink", err)
	}
	if err := os.Chmod(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Dial(ctx, path); !errors.Is(err, ErrUntrustedAgent) || !strings.Contains(err.Error(), "want 0700") {
		t.Errorf("Dial with a 0755 directory = %v, want a refusal naming the mode", err)
	}
	// A missing agent is "not running", not an impersonation.
	if _, err := Dial(ctx, filepath.Join(base, "none", "agent.sock")); errors.Is(err, ErrUntrustedAgent) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Dial with no agent = %v, want a not-exist error", err)
	}
}

// requireRoot skips (fails under CI=true) a test that needs root to run a
// process as, or give a file to, the user nobody.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Getuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("needs root to act as the user nobody; CI runs the tests as root")
	}
	t.Skip("needs root to act as the user nobody")
}

// sharedTempDir is a directory every user can traverse (t.TempDir is 0700).
func sharedTempDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "mapdrive-ipc-test-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(d, 0o755)
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// copyTestBinary copies the test binary where nobody may execute it; go
// test keeps it in a 0700 directory.
func copyTestBinary(t *testing.T) string {
	t.Helper()
	src, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(sharedTempDir(t), "ipc.test")
	if err := os.WriteFile(dst, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return dst
}
