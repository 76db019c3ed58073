// Package mountdriver knows the OS's FUSE driver Mapdrive mounts drives
// with (WinFsp on Windows, macFUSE on macOS, libfuse on Linux): what it is
// called, where to get it, and whether it is installed. It has no cgo, so
// the tray, the agent and fusefs can all use it; Check looks where cgofuse
// looks when it loads the driver, so the tray can tell the user before a
// mount fails.
package mountdriver

import (
	"errors"
	"runtime"
	"strings"
)

// ErrMissing means the FUSE driver is not installed; its text says what
// to install on this OS. fusefs returns it (as fusefs.ErrNoFUSE) when
// cgofuse cannot load the driver.
var ErrMissing = errors.New(missingText(runtime.GOOS))

// WinFspURL is WinFsp's download page.
const WinFspURL = "https://winfsp.dev/rel/"

// Driver describes the FUSE driver of one OS, for people.
type Driver struct {
	Name string // "WinFsp", "macFUSE", "FUSE"
	// Missing says it is absent, without a final full stop:
	// "WinFsp is not installed".
	Missing string
	// Install says how to install it, a sentence without a final full stop.
	Install string
	// URL is its download page; "" where the OS's packages provide it.
	URL string
	// Packages names the OS packages that provide it, separated by
	// spaces, where URL is "".
	Packages string
}

// For returns the driver of goos (runtime.GOOS values).
func For(goos string) Driver {
	switch goos {
	case "windows":
		return Driver{Name: "WinFsp", Missing: "WinFsp is not installed",
			Install: "install it from " + WinFspURL + " (or ask your IT administrator to deploy it)", URL: WinFspURL}
	case "darwin":
		return Driver{Name: "macFUSE", Missing: "macFUSE is not installed",
			Install: "install it from https://osxfuse.github.io/ (or ask your IT administrator to deploy it)", URL: "https://osxfuse.github.io/"}
	}
	return Driver{Name: "FUSE", Missing: "FUSE is not available", Packages: linuxPackages,
		Install: "install the packages " + strings.ReplaceAll(linuxPackages, " ", " and ") + " (or ask your IT administrator to install them)"}
}

func missingText(goos string) string {
	d := For(goos)
	return d.Missing + ": " + d.Install + ", then mount the drive again"
}

// Presence is what Check found.
type Presence int

// Check's answers.
const (
	// Unknown: the check could not tell (an unsupported OS, an error);
	// only a failed mount says the driver is missing.
	Unknown Presence = iota
	Installed
	Missing
)

func (p Presence) String() string {
	switch p {
	case Installed:
		return "installed"
	case Missing:
		return "missing"
	}
	return "unknown"
}

// Check looks for this OS's FUSE driver where cgofuse loads it from: on
// Windows the InstallDir of HKLM\SOFTWARE\WinFsp (32-bit registry view)
// and the DLL under it, on Linux libfuse.so.2 in the linker's directories,
// on macOS the dylibs under /usr/local/lib. It does not load the driver.
func Check() (Presence, error) { return check() }

// System checks this machine's driver; the tray takes it as its checker.
type System struct{}

// Check is the package's Check.
func (System) Check() (Presence, error) { return check() }
