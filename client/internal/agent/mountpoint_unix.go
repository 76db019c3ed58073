//go:build !windows

package agent

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/mapdrive/mapdrive/shared/apitype"
)

func defaultMountpoint(root, name, _ string, _ map[string]bool) string {
	return filepath.Join(root, name)
}

func (a *Agent) validateMountpointSyntax(mp string) *apitype.Error {
	if isDriveLetter(mp) {
		return apitype.NewError(apitype.CodeBadRequest, fmt.Sprintf("%s is a Windows drive letter", mp),
			"Give a directory to mount on, such as ~/Mapdrive/Finance.")
	}
	return nil
}

// checkMountpoint accepts a missing directory (it is created), or an empty
// directory that is not already a mountpoint.
func checkMountpoint(mp string) error {
	fi, err := os.Stat(mp)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(mp, 0o700); err != nil {
			return apitype.NewError(apitype.CodeMountFailed, fmt.Sprintf("cannot create the mountpoint %s: %v", mp, err),
				"Choose a mountpoint in a directory you can write to.")
		}
		return nil
	}
	if errors.Is(err, syscall.ENOTCONN) {
		return nil // a dead FUSE mount from a killed agent: fusefs cleans it
	}
	if err != nil {
		return apitype.NewError(apitype.CodeMountpointBusy, fmt.Sprintf("the mountpoint %s cannot be used: %v", mp, err),
			"If a previous Mapdrive agent was killed, run `fusermount -u "+mp+"` and try again.")
	}
	if !fi.IsDir() {
		return apitype.NewError(apitype.CodeMountpointNotEmpty, fmt.Sprintf("the mountpoint %s is a file, not a directory", mp),
			"Choose an empty directory, or a path that does not exist yet.")
	}
	if parent, err := os.Stat(filepath.Dir(mp)); err == nil {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			if pst, ok := parent.Sys().(*syscall.Stat_t); ok && st.Dev != pst.Dev {
				return apitype.NewError(apitype.CodeMountpointBusy, fmt.Sprintf("something is already mounted at %s", mp),
					"Unmount it first, or choose another mountpoint.")
			}
		}
	}
	f, err := os.Open(mp)
	if err != nil {
		return apitype.NewError(apitype.CodeMountpointBusy, fmt.Sprintf("cannot open the mountpoint %s: %v", mp, err),
			"Choose a directory you own.")
	}
	defer f.Close()
	if _, err := f.Readdirnames(1); !errors.Is(err, io.EOF) {
		return apitype.NewError(apitype.CodeMountpointNotEmpty, fmt.Sprintf("the mountpoint %s is not empty", mp),
			"Choose an empty directory, or a path that does not exist yet, e.g. `mapdrive mount <drive> ~/Mapdrive/<name>`.")
	}
	return nil
}
