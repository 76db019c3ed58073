//go:build darwin

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

// cleanStale force-unmounts a dead mount left at mountpoint by a killed
// agent.
func cleanStale(ctx context.Context, mountpoint string, log *slog.Logger) error {
	_, err := os.Stat(mountpoint)
	if err == nil || !(errors.Is(err, syscall.ENOTCONN) || errors.Is(err, syscall.ENXIO) || errors.Is(err, syscall.EIO)) {
		return nil
	}
	log.Warn("cleaning a stale mount left by a previous agent")
	if err := forceUnmount(ctx, mountpoint); err != nil {
		return fmt.Errorf("clean stale mount: %w", err)
	}
	return nil
}

func lazyUnmount(mountpoint string) error { return forceUnmount(context.Background(), mountpoint) }

func forceUnmount(ctx context.Context, mountpoint string) error {
	var errs []error
	for _, argv := range [][]string{{"umount", "-f", mountpoint}, {"diskutil", "unmount", "force", mountpoint}} {
		out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
		if err == nil {
			return nil
		}
		errs = append(errs, fmt.Errorf("%s: %w: %s", argv[0], err, strings.TrimSpace(string(out))))
	}
	return errors.Join(errs...)
}
