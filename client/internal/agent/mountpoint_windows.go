//go:build windows

package agent

import (
	"fmt"
	"strings"

	"golang.org/x/sys/windows"

	"github.com/mapdrive/mapdrive/shared/apitype"
)

// defaultMountpoint is the mapping's letter, else the last free letter
// from Z: down.
func defaultMountpoint(_, _, letter string, used map[string]bool) string {
	if letter != "" {
		return strings.ToUpper(letter[:1]) + ":"
	}
	mask, _ := windows.GetLogicalDrives()
	if l := freeLetter(mask, used); l != "" {
		return l
	}
	return "Z:"
}

func (a *Agent) validateMountpointSyntax(mp string) *apitype.Error {
	return nil // a drive letter or a directory (WinFsp mounts both)
}

// checkMountpoint refuses a drive letter already in use.
func checkMountpoint(mp string) error {
	if !isDriveLetter(mp) {
		return nil
	}
	mask, err := windows.GetLogicalDrives()
	if err != nil {
		return fmt.Errorf("list drive letters: %w", err)
	}
	if letterInUse(mask, mp) {
		return apitype.NewError(apitype.CodeDriveLetterInUse, fmt.Sprintf("the drive letter %s is already in use", mp[:2]),
			"Choose another letter, e.g. `mapdrive mount <drive> M:`, or disconnect the drive using it.")
	}
	return nil
}
