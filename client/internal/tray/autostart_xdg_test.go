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
	a := Autostart{Exe: "/opt/Map drive/mapdrive-tray", Dir: dir}
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
	for _, want := range []string{"[Desktop Entry]\n", "Type=Application\n", "Exec=\"/opt/Map drive/mapdrive-tray\"\n", "Name=Mapdrive\n"} {
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
		if got := DesktopEntry(tt.exe); !strings.Contains(got, tt.want+"\n") {
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
