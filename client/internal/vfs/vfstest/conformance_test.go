package vfstest

// The conformance suite on vfs.FS directly, over MemRemote: the suite's
// calls are the vfs's own, without the kernel in between (fusefs runs the
// same suite through a FUSE mount).

import (
	"context"
	"crypto/rand"
	"io/fs"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/mapdrive/mapdrive/client/internal/vfs"
)

func TestConformance(t *testing.T) {
	Run(t, func(t *testing.T) Target {
		remote := NewMemRemote()
		key := make([]byte, 32)
		rand.Read(key)
		fsys, err := vfs.New(t.Context(), vfs.Options{Remote: remote, StateDir: t.TempDir(), CacheDir: t.TempDir(), CacheKey: key,
			CacheMaxBytes: 1 << 30, PollInterval: -1, FolderTTL: time.Minute, Host: Host, UploadWorkers: 2})
		if err != nil {
			t.Fatalf("vfs.New: %v", err)
		}
		t.Cleanup(func() { fsys.Close() })
		return &vfsTarget{ctx: t.Context(), fs: fsys, remote: remote}
	})
}

// vfsTarget is a Target on a vfs.FS: each call is the vfs call FUSE would
// make for it.
type vfsTarget struct {
	// ctx is the test's: the suite's calls stand for system calls, which
	// carry none.
	ctx    context.Context
	fs     *vfs.FS
	remote *MemRemote
}

func (v *vfsTarget) OpenFile(name string, flag int) (File, error) {
	acc := flag & (os.O_RDONLY | os.O_WRONLY | os.O_RDWR)
	h, err := v.fs.Open(v.ctx, name, vfs.OpenFlags{Write: acc != os.O_RDONLY, Create: flag&os.O_CREATE != 0,
		Excl: flag&os.O_EXCL != 0, Truncate: flag&os.O_TRUNC != 0})
	if err != nil {
		return nil, err
	}
	return vfsFile{v.ctx, h}, nil
}

func (v *vfsTarget) Mkdir(name string) error  { return v.fs.Mkdir(v.ctx, name) }
func (v *vfsTarget) Remove(name string) error { return v.fs.Remove(v.ctx, name) }
func (v *vfsTarget) Rmdir(name string) error  { return v.fs.Rmdir(v.ctx, name) }
func (v *vfsTarget) Rename(oldname, newname string) error {
	return v.fs.Rename(v.ctx, oldname, newname)
}
func (v *vfsTarget) Truncate(name string, size int64) error {
	return v.fs.Truncate(v.ctx, name, size)
}

func (v *vfsTarget) ReadDir(name string) ([]string, error) {
	attrs, err := v.fs.ReadDir(v.ctx, name)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, a := range attrs {
		names = append(names, a.Name)
	}
	slices.Sort(names)
	return names, nil
}

func (v *vfsTarget) Stat(name string) (fs.FileInfo, error) {
	a, err := v.fs.Stat(v.ctx, name)
	if err != nil {
		return nil, err
	}
	return attrInfo{a}, nil
}

func (v *vfsTarget) Remote() *MemRemote                { return v.remote }
func (v *vfsTarget) Refresh(ctx context.Context) error { return v.fs.Refresh(v.ctx) }
func (v *vfsTarget) Sync(ctx context.Context) error    { return v.fs.Sync(v.ctx) }

type vfsFile struct {
	ctx context.Context
	h   *vfs.Handle
}

func (f vfsFile) ReadAt(p []byte, off int64) (int, error)  { return f.h.ReadAt(f.ctx, p, off) }
func (f vfsFile) WriteAt(p []byte, off int64) (int, error) { return f.h.WriteAt(f.ctx, p, off) }
func (f vfsFile) Truncate(size int64) error                { return f.h.Truncate(f.ctx, size) }
func (f vfsFile) Sync() error                              { return f.h.Fsync(f.ctx) }
func (f vfsFile) Close() error                             { return f.h.Release(f.ctx) }

// attrInfo is a vfs.Attr as an fs.FileInfo.
type attrInfo struct{ a vfs.Attr }

func (i attrInfo) Name() string       { return i.a.Name }
func (i attrInfo) Size() int64        { return i.a.Size }
func (i attrInfo) ModTime() time.Time { return i.a.ModTime }
func (i attrInfo) IsDir() bool        { return i.a.IsDir }
func (i attrInfo) Sys() any           { return i.a }
func (i attrInfo) Mode() fs.FileMode {
	if i.a.IsDir {
		return fs.ModeDir | 0o755
	}
	return 0o644
}
