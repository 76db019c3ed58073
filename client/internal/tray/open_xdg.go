//go:build linux || freebsd || openbsd || netbsd

package tray

import "os/exec"

func openCommand(target string) *exec.Cmd { return exec.Command("xdg-open", target) }
