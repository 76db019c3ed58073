package mountdriver

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"golang.org/x/sys/windows/registry"
)

// winFspKey is where WinFsp's installer records its folder. WinFsp is a
// 32-bit-view install: on 64-bit Windows the key is
// HKLM\SOFTWARE\WOW6432Node\WinFsp, read with KEY_WOW64_32KEY as cgofuse
// does (host_cgo.go FspLoad, host_nocgo_windows.go).
const winFspKey = `SOFTWARE\WinFsp`

func check() (Presence, error) {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, winFspKey, registry.QUERY_VALUE|registry.WOW64_32KEY)
	if errors.Is(err, registry.ErrNotExist) {
		return Missing, nil
	}
	if err != nil {
		return Unknown, fmt.Errorf("open HKLM\\%s: %w", winFspKey, err)
	}
	defer k.Close()
	dir, _, err := k.GetStringValue("InstallDir")
	if errors.Is(err, registry.ErrNotExist) || err == nil && dir == "" {
		return Missing, nil
	}
	if err != nil {
		return Unknown, fmt.Errorf("read HKLM\\%s InstallDir: %w", winFspKey, err)
	}
	// cgofuse loads InstallDir\bin\winfsp-<arch>.dll; an uninstall that
	// left the key behind is still a missing driver.
	dll := filepath.Join(dir, "bin", dllName(runtime.GOARCH))
	if _, err := os.Stat(dll); errors.Is(err, os.ErrNotExist) {
		return Missing, nil
	} else if err != nil {
		return Unknown, fmt.Errorf("look for %s: %w", dll, err)
	}
	return Installed, nil
}

// dllName is the WinFsp DLL cgofuse loads on goarch.
func dllName(goarch string) string {
	switch goarch {
	case "arm64":
		return "winfsp-a64.dll"
	case "386":
		return "winfsp-x86.dll"
	}
	return "winfsp-x64.dll"
}
