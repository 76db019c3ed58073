// Package fusefs mounts a vfs.FS (or a combined drive of several, see
// FileSystem) with cgofuse: a FUSE mount point on
// Linux and macOS, a WinFsp drive letter on Windows. It is a thin adapter:
// every operation resolves a path, calls the vfs and maps the error to an
// errno in one place (errno). It is the only package importing cgofuse.
//
// cgofuse does not surface FUSE interrupts, so an operation's context is
// the mount's, cancelled by Unmount.
package fusefs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/mapdrive/mapdrive/client/internal/mountdriver"
	"github.com/mapdrive/mapdrive/client/internal/vfs"
	"github.com/winfsp/cgofuse/fuse"
)

// ErrNoFUSE means the FUSE library (libfuse, macFUSE or WinFsp) is not
// installed; its text says what to install on this OS. It is
// mountdriver.ErrMissing, so packages without cgo (the agent's core, the
// tray) can recognise it.
var ErrNoFUSE = mountdriver.ErrMissing

// Options configures Mount.
type Options struct {
	Logger *slog.Logger
	// VolumeName is shown by the file manager (macOS, Windows): the
	// mapping's name. On Windows it also names the network share
	// (\\mapdrive\<name>).
	VolumeName string
	// AllowOther lets other users see the mount (needs user_allow_other).
	AllowOther bool
	// Debug turns on libfuse's debug output.
	Debug bool
	// MountTimeout bounds how long Mount waits for the kernel; 0 means 30 s.
	MountTimeout time.Duration
}

// Mounted is a live mount, returned by Mount.
type Mounted struct {
	host       *fuse.FileSystemHost
	adapter    *adapter
	mountpoint string
	done       chan struct{} // closed when the FUSE loop has ended
	runErr     error         // the loop's result; set before done closes
	once       sync.Once
	unmountErr error
}

// CleanStale unmounts a dead mount ("Transport endpoint is not connected")
// left at mountpoint by a killed agent; a live mount, a plain directory or
// a missing path is left alone.
func CleanStale(ctx context.Context, mountpoint string, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return cleanStale(ctx, mountpoint, log)
}

// Mount mounts fsys at mountpoint (a directory, or a drive letter like
// "M:" on Windows) and returns once the mount is live. A stale mount left
// at mountpoint by a killed agent is cleaned first.
func Mount(ctx context.Context, fsys FileSystem, mountpoint string, o Options) (*Mounted, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MountTimeout <= 0 {
		o.MountTimeout = 30 * time.Second
	}
	if o.VolumeName == "" {
		o.VolumeName = "Mapdrive"
	}
	if runtime.GOOS != "windows" {
		if abs, err := filepath.Abs(mountpoint); err == nil {
			mountpoint = abs
		}
		if err := cleanStale(ctx, mountpoint, o.Logger); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(mountpoint, 0o755); err != nil {
			return nil, fmt.Errorf("create mount point: %w", err)
		}
	}
	mctx, cancel := context.WithCancel(context.Background())
	a := &adapter{fs: fsys, log: o.Logger, ctx: mctx, cancel: cancel, ready: make(chan struct{}),
		handles: map[uint64]*vfs.Handle{}, dirs: map[uint64][]vfs.Attr{}, uid: uint32(os.Getuid()), gid: uint32(os.Getgid()), goos: runtime.GOOS}
	host := fuse.NewFileSystemHost(a)
	host.SetCapReaddirPlus(true)
	host.SetUseIno(true)
	// Windows (WinFsp) and macOS ask the file system whether names fold;
	// the vfs answers lookups accordingly (vfs.Options.CaseInsensitive).
	host.SetCapCaseInsensitive(fsys.CaseInsensitive())
	m := &Mounted{host: host, adapter: a, mountpoint: mountpoint, done: make(chan struct{})}
	args := mountArgs(runtime.GOOS, libfuse3, o, fsys.ReadOnly())
	go func() {
		m.runErr = runHost(host, mountpoint, args)
		close(m.done)
	}()
	timer := time.NewTimer(o.MountTimeout)
	defer timer.Stop()
	select {
	case <-a.ready:
		o.Logger.Info("drive mounted", "readOnly", fsys.ReadOnly())
		return m, nil
	case <-m.done:
		cancel()
		err := m.runErr
		if err == nil {
			err = errors.New("the FUSE host exited during mount")
		}
		return nil, fmt.Errorf("mount: %w", err)
	case <-timer.C:
		host.Unmount()
		cancel()
		return nil, fmt.Errorf("mount: timed out after %s", o.MountTimeout)
	case <-ctx.Done():
		host.Unmount()
		cancel()
		return nil, fmt.Errorf("mount: %w", ctx.Err())
	}
}

// runHost runs the FUSE loop until unmount, turning cgofuse's panic for a
// missing FUSE library into ErrNoFUSE.
func runHost(host *fuse.FileSystemHost, mountpoint string, args []string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w (%v)", ErrNoFUSE, r)
		}
	}()
	if !host.Mount(mountpoint, args) {
		return errors.New("the FUSE host refused the mount (is the mount point busy or FUSE unavailable?)")
	}
	return nil
}

// Mountpoint returns where the drive is mounted.
func (m *Mounted) Mountpoint() string { return m.mountpoint }

// Done returns a channel closed once the mount ends (unmounted here or
// from outside, e.g. by fusermount -u); Err then tells why.
func (m *Mounted) Done() <-chan struct{} { return m.done }

// Err returns the FUSE loop's error after Done is closed.
func (m *Mounted) Err() error {
	select {
	case <-m.done:
		return m.runErr
	default:
		return nil
	}
}

// Unmount unmounts the drive, releases open handles (queuing their
// uploads) and waits for the FUSE loop to end. The vfs.FS stays open.
func (m *Mounted) Unmount() error {
	m.once.Do(func() {
		if !m.host.Unmount() {
			m.unmountErr = lazyUnmount(m.mountpoint)
		}
		select {
		case <-m.done:
		case <-time.After(5 * time.Second):
			// An operation still waits on the network (a read of an
			// uncached block, offline): cancel it (EINTR) so the loop
			// can end, then wait a little longer.
			m.adapter.cancel()
			select {
			case <-m.done:
			case <-time.After(25 * time.Second):
				m.unmountErr = errors.Join(m.unmountErr, errors.New("unmount: FUSE loop did not stop"))
			}
		}
		m.adapter.releaseAll()
		m.adapter.cancel()
	})
	return m.unmountErr
}
