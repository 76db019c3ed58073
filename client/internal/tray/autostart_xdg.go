//go:build linux || freebsd || openbsd || netbsd

package tray

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

const desktopFile = "mapdrive-tray.desktop"

func (a Autostart) dir() string {
	if a.Dir != "" {
		return a.Dir
	}
	if x := os.Getenv("XDG_CONFIG_HOME"); x != "" {
		return filepath.Join(x, "autostart")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".config", "autostart")
}

func (a Autostart) where() string { return filepath.Join(a.dir(), desktopFile) }

// systemEntry returns the machine-wide entry the package installs, or "".
func (a Autostart) systemEntry() string {
	dirs := a.SystemDirs
	if dirs == nil {
		x := os.Getenv("XDG_CONFIG_DIRS")
		if x == "" {
			x = "/etc/xdg"
		}
		for _, d := range filepath.SplitList(x) {
			dirs = append(dirs, filepath.Join(d, "autostart"))
		}
	}
	for _, d := range dirs {
		p := filepath.Join(d, desktopFile)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// enabled follows the XDG rule: a user entry overrides the machine's entry
// of the same name, and Hidden=true in it turns autostart off.
func (a Autostart) enabled() (bool, error) {
	data, err := os.ReadFile(a.where())
	if errors.Is(err, fs.ErrNotExist) {
		return a.systemEntry() != "", nil
	}
	if err != nil {
		return false, fmt.Errorf("read the autostart entry: %w", err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if strings.TrimSpace(l) == "Hidden=true" {
			return false, nil
		}
	}
	return true, nil
}

// DesktopEntry returns the autostart .desktop file for exe.
func DesktopEntry(exe string) string {
	// The Exec key quotes arguments with double quotes and escapes \ " ` $.
	q := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "`", "\\`", `$`, `\$`).Replace(exe)
	return "[Desktop Entry]\n" +
		"Type=Application\n" +
		"Name=Mapdrive\n" +
		"Comment=Microsoft 365 drives as local folders\n" +
		"Exec=\"" + q + "\" " + AtLoginFlag + "\n" +
		"Icon=mapdrive\n" +
		"Terminal=false\n" +
		"Categories=Network;FileTransfer;\n" +
		"X-GNOME-Autostart-enabled=true\n"
}

func (a Autostart) set(on bool) error {
	p := a.where()
	entry := DesktopEntry(a.Exe)
	if !on {
		if a.systemEntry() == "" {
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("remove the autostart entry %s: %w", p, err)
			}
			return nil
		}
		// The package's machine-wide entry would still start the tray: a
		// hidden user entry of the same name turns it off for this user.
		entry += "Hidden=true\n"
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("create the autostart folder: %w", err)
	}
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, []byte(entry), 0o644); err != nil {
		return fmt.Errorf("write the autostart entry %s: %w", p, err)
	}
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write the autostart entry %s: %w", p, err)
	}
	return nil
}
