//go:build windows

package trayapp

import (
	"os/exec"
	"syscall"

	"golang.org/x/sys/windows"
)

// detach starts the agent without a console, in its own process group, so
// it survives the tray.
func detach(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{
		CreationFlags: windows.CREATE_NEW_PROCESS_GROUP | windows.DETACHED_PROCESS,
		HideWindow:    true,
	}
}
