package mountdriver

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestFindLib(t *testing.T) {
	empty, withLib := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(withLib, linuxLibfuse), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		dirs []string
		want Presence
	}{
		{"no directories", nil, Missing},
		{"not in any", []string{empty, filepath.Join(empty, "gone")}, Missing},
		{"in the second", []string{empty, withLib}, Installed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := findLib(linuxLibfuse, tt.dirs)
			if err != nil || got != tt.want {
				t.Errorf("findLib(%v) = %v, %v; want %v", tt.dirs, got, err, tt.want)
			}
		})
	}
}

func TestLibDirs(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "ld.so.conf")
	incDir := filepath.Join(dir, "ld.so.conf.d")
	os.MkdirAll(incDir, 0o755)
	os.WriteFile(conf, []byte("include ld.so.conf.d/*.conf\n/opt/top # comment\n"), 0o644)
	os.WriteFile(filepath.Join(incDir, "x86_64-linux-gnu.conf"), []byte("# multiarch\n/usr/local/lib/x86_64-linux-gnu\n"), 0o644)
	os.WriteFile(filepath.Join(incDir, "loop.conf"), []byte("include "+conf+"\n"), 0o644)

	got := libDirs("/env/one:/env/two", conf)
	for _, want := range []string{"/env/one", "/env/two", "/opt/top", "/usr/local/lib/x86_64-linux-gnu", "/usr/lib"} {
		if !slices.Contains(got, want) {
			t.Errorf("libDirs = %v, want it to hold %s", got, want)
		}
	}
	if got[0] != "/env/one" {
		t.Errorf("libDirs starts with %s, want LD_LIBRARY_PATH first", got[0])
	}
}

// TestCheckThisMachine checks Check agrees with the library cgofuse
// would load here: the FUSE tests of this repository need it (make deps installs it).
func TestCheckThisMachine(t *testing.T) {
	got, err := Check()
	if err != nil {
		t.Fatal(err)
	}
	_, statErr := os.Stat("/usr/lib/x86_64-linux-gnu/" + linuxLibfuse)
	if statErr == nil && got != Installed {
		t.Errorf("Check = %v, but /usr/lib/x86_64-linux-gnu/%s exists", got, linuxLibfuse)
	}
	t.Logf("libfuse on this machine: %v", got)
}
