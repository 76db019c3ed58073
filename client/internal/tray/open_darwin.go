//go:build darwin

package tray

import "os/exec"

func openCommand(target string) *exec.Cmd { return exec.Command("open", target) }
