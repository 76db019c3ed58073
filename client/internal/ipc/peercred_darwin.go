//go:build darwin

package ipc

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

func fdPeerUID(fd int) (int, error) {
	cred, err := unix.GetsockoptXucred(fd, unix.SOL_LOCAL, unix.LOCAL_PEERCRED)
	if err != nil {
		return -1, fmt.Errorf("LOCAL_PEERCRED: %w", err)
	}
	return int(cred.Uid), nil
}

// defaultPath uses $TMPDIR, which macOS makes per-user
// (/var/folders/…/T/), and stays under the 104-byte sun_path limit that a
// path under ~/Library/Application Support can exceed.
func defaultPath() (string, error) {
	if d := os.Getenv("TMPDIR"); d != "" {
		return filepath.Join(d, "mapdrive", "agent.sock"), nil
	}
	return filepath.Join("/tmp", "mapdrive-"+strconv.Itoa(os.Getuid()), "agent.sock"), nil
}
