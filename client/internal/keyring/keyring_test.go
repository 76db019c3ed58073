package keyring

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestStoreRoundTrip(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 1000) // 16,000 bytes
	tests := []struct {
		name      string
		value     []byte
		wantParts int // entries in the backend after Set (header + chunks)
	}{
		{"empty", []byte{}, 1},
		{"small", []byte(`{"AccessToken":{}}`), 1},
		{"exactly one chunk", bytes.Repeat([]byte("x"), 2000), 1},
		{"one byte over", bytes.Repeat([]byte("x"), 2001), 3},
		{"msal-sized", big, 1 + 8},
		{"looks like a header", []byte(headerPrefix + "1:abc"), 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem := NewMemory()
			s := New(WithBackend(mem), WithChunkSize(2000))
			if err := s.Set("cache", tt.value); err != nil {
				t.Fatalf("Set: %v", err)
			}
			if mem.Len() != tt.wantParts {
				t.Errorf("entries after Set = %d, want %d", mem.Len(), tt.wantParts)
			}
			got, err := s.Get("cache")
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if !bytes.Equal(got, tt.value) {
				t.Errorf("Get = %d bytes, want %d bytes equal to what was set", len(got), len(tt.value))
			}
			if err := s.Delete("cache"); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			if mem.Len() != 0 {
				t.Errorf("entries after Delete = %d, want 0", mem.Len())
			}
			if _, err := s.Get("cache"); !errors.Is(err, ErrNotFound) {
				t.Errorf("Get after Delete: err = %v, want ErrNotFound", err)
			}
		})
	}
}

func TestStoreShrinkRemovesStaleParts(t *testing.T) {
	mem := NewMemory()
	s := New(WithBackend(mem), WithChunkSize(100))
	if err := s.Set("k", bytes.Repeat([]byte("a"), 1000)); err != nil {
		t.Fatal(err)
	}
	if err := s.Set("k", bytes.Repeat([]byte("b"), 250)); err != nil {
		t.Fatal(err)
	}
	if mem.Len() != 4 {
		t.Errorf("entries after shrinking to 3 parts = %d, want 4", mem.Len())
	}
	if err := s.Set("k", []byte("tiny")); err != nil {
		t.Fatal(err)
	}
	if mem.Len() != 1 {
		t.Errorf("entries after shrinking to one entry = %d, want 1", mem.Len())
	}
	if got, _ := s.Get("k"); string(got) != "tiny" {
		t.Errorf("Get = %q, want tiny", got)
	}
}

func TestStoreTornWriteIsNotFound(t *testing.T) {
	mem := NewMemory()
	s := New(WithBackend(mem), WithChunkSize(100))
	if err := s.Set("k", bytes.Repeat([]byte("a"), 300)); err != nil {
		t.Fatal(err)
	}
	// A second writer replaced one part and died before the header.
	_ = mem.Set(Service, "k#2", strings.Repeat("z", 100))
	if _, err := s.Get("k"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get of a torn value: err = %v, want ErrNotFound", err)
	}
}

type brokenBackend struct{ err error }

func (b brokenBackend) Set(string, string, string) error   { return b.err }
func (b brokenBackend) Get(string, string) (string, error) { return "", b.err }
func (b brokenBackend) Delete(string, string) error        { return b.err }

func TestUnavailableErrorSaysWhatToDo(t *testing.T) {
	s := New(WithBackend(brokenBackend{errors.New("The name org.freedesktop.secrets was not provided by any .service files")}))
	_, err := s.Get("cache")
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Get: err = %v, want ErrUnavailable", err)
	}
	if err := s.Set("cache", []byte("x")); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Set: err = %v, want ErrUnavailable", err)
	}
	if !strings.Contains(err.Error(), "org.freedesktop.secrets") {
		t.Errorf("error %q lost its cause", err)
	}
	if h := hint("linux"); !strings.Contains(h, "dbus-run-session") || !strings.Contains(h, "gnome-keyring-daemon --unlock") {
		t.Errorf("linux hint %q does not say how to start a keyring", h)
	}
}

// TestOSKeyringMissing talks to a session bus that does not exist, as on a
// server without a desktop session.
func TestOSKeyringMissing(t *testing.T) {
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path="+t.TempDir()+"/no-bus")
	s := New(WithService("Mapdrive-test-missing"))
	_, err := s.Get("cache")
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Get without a keyring: err = %v, want ErrUnavailable", err)
	}
	if !strings.Contains(err.Error(), "gnome-keyring-daemon") {
		t.Errorf("error %q does not say how to fix it", err)
	}
}

const childEnv = "MAPDRIVE_KEYRING_TEST_CHILD"

// TestOSKeyringRoundTrip stores, reads, splits and deletes secrets in a real
// gnome-keyring. The test re-runs itself under dbus-run-session with a
// throwaway HOME, where gnome-keyring-daemon --unlock creates and unlocks a
// login keyring from a password read on stdin.
func TestOSKeyringRoundTrip(t *testing.T) {
	if os.Getenv(childEnv) == "1" {
		osRoundTrip(t)
		return
	}
	for _, bin := range []string{"dbus-run-session", "gnome-keyring-daemon"} {
		if _, err := exec.LookPath(bin); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s not installed (run make deps): the OS keyring test must run in CI", bin)
			}
			t.Skipf("%s not installed (Debian packages dbus, gnome-keyring; make deps installs them)", bin)
		}
	}
	home := t.TempDir()
	script := `printf mapdrive-test | gnome-keyring-daemon --unlock --components=secrets >/dev/null || exit 97; exec "$0" "$@"`
	cmd := exec.Command("dbus-run-session", "--", "sh", "-c", script,
		os.Args[0], "-test.run=^TestOSKeyringRoundTrip$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"=1", "HOME="+home, "XDG_DATA_HOME="+home+"/data",
		"XDG_RUNTIME_DIR="+home, "XDG_CONFIG_HOME="+home+"/config")
	out, err := cmd.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("--- PASS: TestOSKeyringRoundTrip")) {
		t.Fatalf("keyring round trip under dbus-run-session failed: %v\n%s", err, out)
	}
	if _, err := os.Stat(home + "/data/keyrings/login.keyring"); err != nil {
		t.Errorf("no login keyring was written in the throwaway HOME: %v", err)
	}
}

func osRoundTrip(t *testing.T) {
	s := New(WithService("Mapdrive-test"), WithChunkSize(1000))
	// The daemon registers on the bus right after it forks; give it a moment.
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if _, err = s.Get("probe"); errors.Is(err, ErrNotFound) {
			break
		}
	}
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("keyring did not come up: %v", err)
	}
	big := bytes.Repeat([]byte(`{"RefreshToken":"0.AXYA..."}`), 400) // ~11 KB, 12 parts
	for _, v := range [][]byte{[]byte("small secret"), big, []byte("small again")} {
		if err := s.Set("msal-cache", v); err != nil {
			t.Fatalf("Set %d bytes: %v", len(v), err)
		}
		got, err := s.Get("msal-cache")
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		if !bytes.Equal(got, v) {
			t.Fatalf("Get = %d bytes, want the %d bytes set", len(got), len(v))
		}
	}
	if err := s.Delete("msal-cache"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.Get("msal-cache"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after Delete: err = %v, want ErrNotFound", err)
	}
	if _, err := s.Get("msal-cache#1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a part survived Delete: err = %v", err)
	}
}
