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

func (a Autostart) enabled() (bool, error) {
	_, err := os.Stat(a.where())
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("check the autostart entry: %w", err)
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
		"Exec=\"" + q + "\"\n" +
		"Icon=mapdrive\n" +
		"Terminal=false\n" +
		"Categories=Network;FileTransfer;\n" +
		"X-GNOME-Autostart-enabled=true\n"
}

func (a Autostart) set(on bool) error {
	p := a.where()
	if !on {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove the autostart entry %s: %w", p, err)
		}
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("create the autostart folder: %w", err)
	}
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, []byte(DesktopEntry(a.Exe)), 0o644); err != nil {
		return fmt.Errorf("write the autostart entry %s: %w", p, err)
	}
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write the autostart entry %s: %w", p, err)
	}
	return nil
}
