//go:build darwin

package tray

import (
	"errors"
	"fmt"
	"html"
	"io/fs"
	"os"
	"path/filepath"
)

const launchAgentLabel = "com.mapdrive.tray"

func (a Autostart) where() string {
	dir := a.Dir
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, "Library", "LaunchAgents")
	}
	return filepath.Join(dir, launchAgentLabel+".plist")
}

func (a Autostart) enabled() (bool, error) {
	_, err := os.Stat(a.where())
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("check the launch agent: %w", err)
	}
	return true, nil
}

// LaunchAgentPlist returns the LaunchAgent that starts exe at login.
func LaunchAgentPlist(exe string) string {
	return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>Label</key>
	<string>` + launchAgentLabel + `</string>
	<key>ProgramArguments</key>
	<array>
		<string>` + html.EscapeString(exe) + `</string>
		<string>` + AtLoginFlag + `</string>
	</array>
	<key>RunAtLoad</key>
	<true/>
	<key>ProcessType</key>
	<string>Interactive</string>
</dict>
</plist>
`
}

func (a Autostart) set(on bool) error {
	p := a.where()
	if !on {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove the launch agent %s: %w", p, err)
		}
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("create the LaunchAgents folder: %w", err)
	}
	if err := os.WriteFile(p, []byte(LaunchAgentPlist(a.Exe)), 0o644); err != nil {
		return fmt.Errorf("write the launch agent %s: %w", p, err)
	}
	return nil
}
