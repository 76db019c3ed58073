package tray

import (
	"fmt"
	"os/exec"
)

// OpenInFileManager opens target, a folder or a drive letter, in the
// system's file manager, or a URL in the default browser: xdg-open on
// Linux, explorer on Windows, open on macOS. It returns once the helper
// has started; a goroutine reaps it.
func OpenInFileManager(target string) error {
	cmd := openCommand(target)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("open %s with %s: %w", target, cmd.Path, err)
	}
	go cmd.Wait() // the helper exits on its own; only reap it
	return nil
}

// OpenCommand returns the command OpenInFileManager runs for target.
func OpenCommand(target string) *exec.Cmd { return openCommand(target) }
