//go:build !linux && !windows

package agent

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
)

// mountPresent reports whether something is mounted at mp: the directory
// is on another device than its parent, or it is a dead FUSE mount. When
// it cannot tell, it answers true, the safe answer.
func mountPresent(mp string) bool {
	fi, err := os.Lstat(mp)
	if errors.Is(err, syscall.ENOTCONN) {
		return true
	}
	if errors.Is(err, os.ErrNotExist) {
		return false
	}
	if err != nil {
		return true
	}
	parent, err := os.Lstat(filepath.Dir(filepath.Clean(mp)))
	if err != nil {
		return true
	}
	st, ok1 := fi.Sys().(*syscall.Stat_t)
	pst, ok2 := parent.Sys().(*syscall.Stat_t)
	if !ok1 || !ok2 {
		return true
	}
	return st.Dev != pst.Dev
}
