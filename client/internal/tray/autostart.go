package tray

// Autostart writes and removes the per-user entry that starts the tray at
// login: an XDG autostart .desktop file on Linux, a value under
// HKCU\Software\Microsoft\Windows\CurrentVersion\Run on Windows (the MSI
// writes the machine-wide HKLM one), and a LaunchAgent plist on macOS.
type Autostart struct {
	// Exe is the tray executable to start, an absolute path.
	Exe string
	// Dir overrides where the entry goes (tests): the XDG autostart folder
	// on Linux, the LaunchAgents folder on macOS; on Windows it is a
	// registry key path under HKCU instead.
	Dir string
	// SystemDirs overrides where a machine-wide entry from the package may
	// be (tests; Linux only): the autostart folders of $XDG_CONFIG_DIRS.
	SystemDirs []string
}

// AtLoginFlag is the tray's argument in every login entry: a tray
// started with it quits at once when the user turned start at login off,
// which also covers the machine-wide entries a package or MSI installs.
const AtLoginFlag = "--at-login"

// Enabled reports whether the per-user entry exists.
func (a Autostart) Enabled() (bool, error) { return a.enabled() }

// Set writes the entry (on) or removes it (off). Removing a missing entry
// is not an error.
func (a Autostart) Set(on bool) error { return a.set(on) }

// Where returns the file or registry value that holds the entry.
func (a Autostart) Where() string { return a.where() }
