//go:build windows

package fusefs

import (
	"context"
	"log/slog"
)

// cleanStale has nothing to do on Windows: WinFsp removes a drive letter
// when its process dies.
func cleanStale(ctx context.Context, mountpoint string, log *slog.Logger) error { return nil }

func lazyUnmount(mountpoint string) error { return nil }
