//go:build unix && !linux && !darwin

package ipc

import (
	"os"
	"path/filepath"
	"strconv"
)

// fdPeerUID is not implemented on the BSDs yet; the 0700 directory and
// 0600 socket keep other users out there.
func fdPeerUID(int) (int, error) { return -1, errNoPeerCred }

func defaultPath() (string, error) {
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "mapdrive", "agent.sock"), nil
	}
	return filepath.Join("/tmp", "mapdrive-"+strconv.Itoa(os.Getuid()), "agent.sock"), nil
}
