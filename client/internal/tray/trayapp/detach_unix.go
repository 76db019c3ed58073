//go:build !windows

package trayapp

import (
	"os/exec"
	"syscall"
)

// detach puts the agent in its own session, so it survives the tray and
// the terminal the tray was started from.
func detach(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
}
