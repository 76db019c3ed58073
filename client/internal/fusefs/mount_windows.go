//go:build windows

package fusefs

import (
	"context"
	"log/slog"
)

func mountArgs(o Options, readOnly bool) []string {
	opts := "uid=-1,gid=-1,volname=" + o.VolumeName + ",FileSystemName=Mapdrive"
	if readOnly {
		opts += ",ro"
	}
	args := []string{"-o", opts}
	if o.Debug {
		args = append(args, "-d")
	}
	return args
}

// cleanStale has nothing to do on Windows: WinFsp removes a drive letter
// when its process dies.
func cleanStale(ctx context.Context, mountpoint string, log *slog.Logger) error { return nil }

func lazyUnmount(mountpoint string) error { return nil }
