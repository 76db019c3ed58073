//go:build linux || freebsd || openbsd || netbsd

package tray

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAutostartXDG(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "autostart")
	a := Autostart{Exe: "/opt/Map drive/mapdrive-tray", Dir: dir, SystemDirs: []string{}}
	if on, err := a.Enabled(); err != nil || on {
		t.Fatalf("Enabled before Set = %v, %v; want false, nil", on, err)
	}
	if err := a.Set(false); err != nil {
		t.Fatalf("Set(false) with no entry: %v", err)
	}
	if err := a.Set(true); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "mapdrive-tray.desktop"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"[Desktop Entry]\n", "Type=Application\n", "Exec=\"/opt/Map drive/mapdrive-tray\" --at-login\n", "Name=Mapdrive\n"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("desktop entry lacks %q:\n%s", want, data)
		}
	}
	if on, err := a.Enabled(); err != nil || !on {
		t.Errorf("Enabled after Set(true) = %v, %v", on, err)
	}
	if err := a.Set(false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(a.Where()); !os.IsNotExist(err) {
		t.Errorf("entry still there after Set(false): %v", err)
	}
}

func TestDesktopEntryQuoting(t *testing.T) {
	tests := []struct{ exe, want string }{
		{"/usr/bin/mapdrive-tray", `Exec="/usr/bin/mapdrive-tray"`},
		{`/home/a "b"/tray`, `Exec="/home/a \"b\"/tray"`},
		{"/x/$HOME/`t`", "Exec=\"/x/\\$HOME/\\`t\\`\""},
		{`/x\y`, `Exec="/x\\y"`},
	}
	for _, tt := range tests {
		if got := DesktopEntry(tt.exe); !strings.Contains(got, tt.want+" --at-login\n") {
			t.Errorf("DesktopEntry(%q) has no line %s:\n%s", tt.exe, tt.want, got)
		}
	}
}

func TestAutostartDefaultDir(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", "/cfg")
	if got := (Autostart{}).Where(); got != "/cfg/autostart/mapdrive-tray.desktop" {
		t.Errorf("Where = %q, want the XDG autostart folder", got)
	}
}

func TestAutostartOverridesSystemEntry(t *testing.T) {
	sys := t.TempDir()
	if err := os.WriteFile(filepath.Join(sys, "mapdrive-tray.desktop"), []byte(DesktopEntry("/usr/bin/mapdrive-tray")), 0o644); err != nil {
		t.Fatal(err)
	}
	a := Autostart{Exe: "/usr/bin/mapdrive-tray", Dir: filepath.Join(t.TempDir(), "autostart"), SystemDirs: []string{sys}}
	if on, err := a.Enabled(); err != nil || !on {
		t.Fatalf("Enabled with only the package's entry = %v, %v; want true", on, err)
	}
	if err := a.Set(false); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(a.Where())
	if err != nil || !strings.Contains(string(data), "\nHidden=true\n") {
		t.Fatalf("turning off with a machine-wide entry wrote %q, %v; want a hidden user entry", data, err)
	}
	if on, _ := a.Enabled(); on {
		t.Errorf("Enabled after Set(false) = true")
	}
	if err := a.Set(true); err != nil {
		t.Fatal(err)
	}
	if on, _ := a.Enabled(); !on {
		t.Errorf("Enabled after Set(true) = false")
	}
}
