//go:build linux

package fusefs

// The conformance suite through a real FUSE mount: the vfs over
// MemRemote, mounted with cgofuse, and every call an os call on the
// mount path, so each behaviour crosses the kernel and the adapter.

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/mapdrive/mapdrive/client/internal/vfs"
	"github.com/mapdrive/mapdrive/client/internal/vfs/vfstest"
)

func TestConformance(t *testing.T) {
	requireFUSE(t)
	vfstest.Run(t, func(t *testing.T) vfstest.Target {
		e := newMount(t, func(o *vfs.Options, _ *vfstest.MemRemote) { o.Host = vfstest.Host })
		return &mountTarget{e: e}
	})
}

// mountTarget is a vfstest.Target on a mount directory.
type mountTarget struct{ e *mountEnv }

func (m *mountTarget) p(name string) string { return filepath.Join(m.e.dir, filepath.FromSlash(name)) }

func (m *mountTarget) OpenFile(name string, flag int) (vfstest.File, error) {
	f, err := os.OpenFile(m.p(name), flag, 0o644)
	if err != nil {
		return nil, mountErr(err)
	}
	return mountFile{f}, nil
}

func (m *mountTarget) Mkdir(name string) error  { return mountErr(os.Mkdir(m.p(name), 0o755)) }
func (m *mountTarget) Remove(name string) error { return mountErr(syscall.Unlink(m.p(name))) }
func (m *mountTarget) Rmdir(name string) error  { return mountErr(syscall.Rmdir(m.p(name))) }
func (m *mountTarget) Rename(oldname, newname string) error {
	return mountErr(os.Rename(m.p(oldname), m.p(newname)))
}
func (m *mountTarget) Truncate(name string, size int64) error {
	return mountErr(os.Truncate(m.p(name), size))
}

func (m *mountTarget) ReadDir(name string) ([]string, error) {
	entries, err := os.ReadDir(m.p(name))
	if err != nil {
		return nil, mountErr(err)
	}
	names := make([]string, len(entries)) // os.ReadDir sorts them
	for i, de := range entries {
		names[i] = de.Name()
	}
	return names, nil
}

func (m *mountTarget) Stat(name string) (fs.FileInfo, error) {
	fi, err := os.Stat(m.p(name))
	return fi, mountErr(err)
}

func (m *mountTarget) Remote() *vfstest.MemRemote        { return m.e.remote }
func (m *mountTarget) Refresh(ctx context.Context) error { return m.e.fs.Refresh(ctx) }
func (m *mountTarget) Sync(ctx context.Context) error    { return m.e.fs.Sync(ctx) }

type mountFile struct{ f *os.File }

func (f mountFile) ReadAt(p []byte, off int64) (int, error) {
	n, err := f.f.ReadAt(p, off)
	return n, mountErr(err)
}

func (f mountFile) WriteAt(p []byte, off int64) (int, error) {
	n, err := f.f.WriteAt(p, off)
	return n, mountErr(err)
}

func (f mountFile) Truncate(size int64) error { return mountErr(f.f.Truncate(size)) }
func (f mountFile) Sync() error               { return mountErr(f.f.Sync()) }
func (f mountFile) Close() error              { return mountErr(f.f.Close()) }

// errnoError is an error of a call on the mount. It matches a vfs
// sentinel when the adapter's errno mapping gives that sentinel this
// errno, so the suite's errors.Is(err, vfs.ErrExist) holds for EEXIST.
type errnoError struct {
	err   error
	errno syscall.Errno
}

func (e errnoError) Error() string { return e.err.Error() }
func (e errnoError) Unwrap() error { return e.err }

func (e errnoError) Is(target error) bool {
	n := errno(target)
	// Every error errno does not know becomes EIO; an EIO matches none.
	return n != errno(errors.New("unknown")) && syscall.Errno(-n) == e.errno
}

// mountErr wraps err, when it carries an errno, as an errnoError.
func mountErr(err error) error {
	var n syscall.Errno
	if errors.As(err, &n) {
		return errnoError{err, n}
	}
	return err
}
