//go:build linux

package fusefs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"syscall"
)

// cleanStale lazily unmounts a dead FUSE mount ("Transport endpoint is
// not connected") left at mountpoint by a killed agent.
func cleanStale(ctx context.Context, mountpoint string, log *slog.Logger) error {
	_, err := os.Stat(mountpoint)
	if err == nil || !errors.Is(err, syscall.ENOTCONN) {
		return nil
	}
	log.Warn("cleaning a stale mount left by a previous agent")
	if err := lazyUnmountCtx(ctx, mountpoint); err != nil {
		return fmt.Errorf("clean stale mount: %w", err)
	}
	return nil
}

func lazyUnmount(mountpoint string) error {
	return lazyUnmountCtx(context.Background(), mountpoint)
}

func lazyUnmountCtx(ctx context.Context, mountpoint string) error {
	var errs []error
	for _, argv := range [][]string{{"fusermount", "-u", "-z", mountpoint}, {"fusermount3", "-u", "-z", mountpoint}, {"umount", "-l", mountpoint}} {
		out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
		if err == nil {
			return nil
		}
		errs = append(errs, fmt.Errorf("%s: %w: %s", argv[0], err, strings.TrimSpace(string(out))))
	}
	return errors.Join(errs...)
}
