//go:build windows

package tray

import (
	"os/exec"
	"strings"
)

func openCommand(target string) *exec.Cmd {
	if strings.HasPrefix(target, "http://") || strings.HasPrefix(target, "https://") {
		// explorer mangles some URLs; the URL handler passes them intact.
		return exec.Command("rundll32", "url.dll,FileProtocolHandler", target)
	}
	if len(target) == 2 && target[1] == ':' {
		target += `\` // "X:" alone means the current folder of X
	}
	return exec.Command("explorer", target)
}
