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

const childEnv = "MAPDRIVE_IPC_TEST_CHILD"

// TestMain lets the test binary act as the "other user" client when
// re-executed with childEnv set: it connects, sends one HTTP request and
// prints what happened.
func TestMain(m *testing.M) {
	if path := os.Getenv(childEnv); path != "" {
		fmt.Print(childProbe(path))
		os.Exit(0)
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
	if os.Getuid() != 0 {
		return
	}
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
	if os.Getuid() != 0 {
		t.Skip("needs root to start a child process as the user nobody")
	}
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
