package fusefs

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/mapdrive/mapdrive/client/internal/failure"
	"github.com/mapdrive/mapdrive/client/internal/vfs"
	"github.com/winfsp/cgofuse/fuse"
)

// errno maps a vfs error to a negative errno; it is the only place that
// does.
func errno(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, vfs.ErrNotFound):
		return -fuse.ENOENT
	case errors.Is(err, vfs.ErrExist):
		return -fuse.EEXIST
	case errors.Is(err, vfs.ErrNotEmpty):
		return -fuse.ENOTEMPTY
	case errors.Is(err, vfs.ErrNotDir):
		return -fuse.ENOTDIR
	case errors.Is(err, vfs.ErrIsDir):
		return -fuse.EISDIR
	case errors.Is(err, vfs.ErrReadOnly):
		return -fuse.EROFS
	case errors.Is(err, vfs.ErrAccessDenied), errors.Is(err, failure.SignInExpired), errors.Is(err, failure.SignedOut):
		return -fuse.EACCES
	case errors.Is(err, vfs.ErrQuotaExceeded):
		return -fuse.ENOSPC
	case errors.Is(err, vfs.ErrNameTooLong): // before ErrInvalidName, which it wraps
		return -fuse.ENAMETOOLONG
	case errors.Is(err, vfs.ErrCrossDevice):
		return -fuse.EXDEV
	case errors.Is(err, vfs.ErrInvalidName), errors.Is(err, vfs.ErrIntoItself):
		return -fuse.EINVAL
	case errors.Is(err, vfs.ErrOffline):
		return -fuse.ENETUNREACH
	case errors.Is(err, vfs.ErrPreconditionFailed):
		// A delete refused because someone else changed the item: it is
		// back in the mount. Not ESTALE: the kernel retries an unlink
		// that fails with ESTALE, and the retry would carry the fresh
		// eTag and delete the other writer's version.
		return -fuse.EBUSY
	case errors.Is(err, context.Canceled):
		return -fuse.EINTR
	case errors.Is(err, context.DeadlineExceeded):
		return -fuse.ETIMEDOUT
	}
	return -fuse.EIO
}

const noHandle = ^uint64(0)

// FileSystem is what the adapter needs of a drive: a *vfs.FS, or a
// combined drive (union.FS) routing paths to several. Handles are the
// vfs's own either way.
type FileSystem interface {
	Stat(ctx context.Context, p string) (vfs.Attr, error)
	ReadDir(ctx context.Context, p string) ([]vfs.Attr, error)
	Open(ctx context.Context, p string, fl vfs.OpenFlags) (*vfs.Handle, error)
	Mkdir(ctx context.Context, p string) error
	Remove(ctx context.Context, p string) error
	Rmdir(ctx context.Context, p string) error
	Rename(ctx context.Context, oldp, newp string) error
	Truncate(ctx context.Context, p string, size int64) error
	SetModTime(ctx context.Context, p string, t time.Time) error
	Statfs(ctx context.Context) (vfs.StatFS, error)
	ReadOnly() bool
	CaseInsensitive() bool
}

// adapter implements cgofuse's FileSystemInterface over a vfs.FS.
type adapter struct {
	fuse.FileSystemBase

	// Immutable after construction.
	fs       FileSystem
	log      *slog.Logger
	ctx      context.Context // the mount's; cancelled after unmount
	cancel   context.CancelFunc
	ready    chan struct{}
	uid, gid uint32
	goos     string // runtime.GOOS; a field so tests can fill as Windows does

	readyOnce sync.Once

	mu      sync.Mutex // guards handles, dirs and next
	handles map[uint64]*vfs.Handle
	dirs    map[uint64][]vfs.Attr // open directories: the listing their first Readdir read
	next    uint64

	// opened remembers, per inode, the content version the last open saw
	// (see keepCache).
	opened openedVersions
}

func (a *adapter) fail(op string, err error) int {
	e := errno(err)
	if e == -fuse.EIO {
		a.log.Warn("filesystem operation failed", "op", op, "err", err)
	} else {
		a.log.Debug("filesystem operation refused", "op", op, "err", err)
	}
	return e
}

func (a *adapter) put(h *vfs.Handle) uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.next++
	a.handles[a.next] = h
	return a.next
}

func (a *adapter) get(fh uint64) *vfs.Handle {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.handles[fh]
}

func (a *adapter) take(fh uint64) *vfs.Handle {
	a.mu.Lock()
	defer a.mu.Unlock()
	h := a.handles[fh]
	delete(a.handles, fh)
	return h
}

func (a *adapter) releaseAll() {
	a.mu.Lock()
	hs := a.handles
	a.handles = map[uint64]*vfs.Handle{}
	a.mu.Unlock()
	for _, h := range hs {
		if err := h.Release(context.Background()); err != nil {
			a.log.Warn("release handle at unmount", "err", err)
		}
	}
}

func (a *adapter) fill(st *fuse.Stat_t, at vfs.Attr) {
	*st = fuse.Stat_t{}
	st.Mode, st.Flags = fileMode(a.goos, at.IsDir, a.fs.ReadOnly())
	st.Nlink = 1
	if at.IsDir {
		st.Nlink = 2
	}
	st.Ino = at.Ino
	st.Size = at.Size
	st.Uid, st.Gid = a.uid, a.gid
	t := fuse.NewTimespec(at.ModTime)
	st.Mtim, st.Ctim, st.Atim, st.Birthtim = t, t, t, t
	st.Blksize = ioSize
	st.Blocks = (at.Size + 511) / 512
}

// Init implements fuse.FileSystemInterface.
func (a *adapter) Init() { a.readyOnce.Do(func() { close(a.ready) }) }

// Statfs implements fuse.FileSystemInterface.
func (a *adapter) Statfs(path string, st *fuse.Statfs_t) int {
	s, err := a.fs.Statfs(a.ctx)
	if err != nil {
		return a.fail("statfs", err)
	}
	const bsize = 4096
	*st = fuse.Statfs_t{Bsize: bsize, Frsize: bsize, Blocks: uint64(s.Total / bsize),
		Bfree: uint64(s.Free / bsize), Bavail: uint64(s.Free / bsize), Files: 1 << 30, Ffree: 1 << 30, Namemax: vfs.MaxNameBytes}
	return 0
}

// Getattr implements fuse.FileSystemInterface.
func (a *adapter) Getattr(path string, st *fuse.Stat_t, fh uint64) int {
	if fh != noHandle {
		if h := a.get(fh); h != nil {
			if at, err := h.Attr(); err == nil {
				a.fill(st, at)
				return 0
			}
		}
	}
	at, err := a.fs.Stat(a.ctx, path)
	if err != nil {
		return errno(err) // ENOENT is routine: not logged
	}
	a.fill(st, at)
	return 0
}

// Mkdir implements fuse.FileSystemInterface.
func (a *adapter) Mkdir(path string, mode uint32) int {
	return a.fail("mkdir", a.fs.Mkdir(a.ctx, path))
}

// Unlink implements fuse.FileSystemInterface.
func (a *adapter) Unlink(path string) int {
	return a.fail("unlink", a.fs.Remove(a.ctx, path))
}

// Rmdir implements fuse.FileSystemInterface.
func (a *adapter) Rmdir(path string) int {
	return a.fail("rmdir", a.fs.Rmdir(a.ctx, path))
}

// Rename implements fuse.FileSystemInterface.
func (a *adapter) Rename(oldpath, newpath string) int {
	return a.fail("rename", a.fs.Rename(a.ctx, oldpath, newpath))
}

// Chmod implements fuse.FileSystemInterface: permissions are not stored,
// so it succeeds without effect (cp -p keeps working).
func (a *adapter) Chmod(path string, mode uint32) int {
	if _, err := a.fs.Stat(a.ctx, path); err != nil {
		return errno(err)
	}
	return 0
}

// Chown implements fuse.FileSystemInterface, like Chmod.
func (a *adapter) Chown(path string, uid, gid uint32) int { return a.Chmod(path, 0) }

// Utimens implements fuse.FileSystemInterface. Only the modification
// time is kept (it is the item's fileSystemInfo.lastModifiedDateTime);
// a drive has no access time, so tmsp[0] is ignored and stat reports the
// modification time as atime too (docs/posix.md). libfuse passes
// UTIME_OMIT for a time the caller leaves alone (touch -a) and UTIME_NOW
// for the current time.
func (a *adapter) Utimens(path string, tmsp []fuse.Timespec) int {
	t := fuse.Now()
	if len(tmsp) > 1 {
		t = tmsp[1]
	}
	switch t.Nsec {
	case fuse.UTIME_OMIT:
		if _, err := a.fs.Stat(a.ctx, path); err != nil {
			return errno(err)
		}
		return 0
	case fuse.UTIME_NOW:
		t = fuse.Now()
	}
	return a.fail("utimens", a.fs.SetModTime(a.ctx, path, t.Time()))
}

// Symlink implements fuse.FileSystemInterface. A drive stores files and
// folders only: symbolic links, hard links and special files get EPERM,
// as on other filesystems that lack them (vfat), which tools such as cp
// and tar understand; ENOSYS, the default, reads as a broken mount.
func (a *adapter) Symlink(target string, newpath string) int { return -fuse.EPERM }

// Link implements fuse.FileSystemInterface (see Symlink).
func (a *adapter) Link(oldpath string, newpath string) int { return -fuse.EPERM }

// Mknod implements fuse.FileSystemInterface (see Symlink): fifos, sockets
// and devices get EPERM; a regular file (mknod with S_IFREG, rare: open
// with O_CREAT comes to Create) is created empty.
func (a *adapter) Mknod(path string, mode uint32, dev uint64) int {
	if mode&fuse.S_IFMT != fuse.S_IFREG {
		return -fuse.EPERM
	}
	h, err := a.fs.Open(a.ctx, path, vfs.OpenFlags{Write: true, Create: true, Excl: true})
	if err != nil {
		return a.fail("mknod", err)
	}
	return a.fail("mknod", h.Release(a.ctx))
}

// Access implements fuse.FileSystemInterface.
func (a *adapter) Access(path string, mask uint32) int {
	if _, err := a.fs.Stat(a.ctx, path); err != nil {
		return errno(err)
	}
	if mask&2 != 0 && a.fs.ReadOnly() { // W_OK
		return -fuse.EROFS
	}
	return 0
}

// Create implements fuse.FileSystemInterface; CreateEx is what cgofuse
// calls.
func (a *adapter) Create(path string, flags int, mode uint32) (int, uint64) {
	fi := fuse.FileInfo_t{Flags: flags}
	return a.CreateEx(path, mode, &fi), fi.Fh
}

// CreateEx implements fuse.FileSystemOpenEx.
func (a *adapter) CreateEx(path string, mode uint32, fi *fuse.FileInfo_t) int {
	fi.Fh = noHandle
	h, err := a.fs.Open(a.ctx, path, vfs.OpenFlags{Write: true, Create: true, Excl: fi.Flags&fuse.O_EXCL != 0, Truncate: true})
	if err != nil {
		return a.fail("create", err)
	}
	a.opened.forget(h)
	fi.Fh = a.put(h)
	return 0
}

// Open implements fuse.FileSystemInterface; OpenEx is what cgofuse calls.
func (a *adapter) Open(path string, flags int) (int, uint64) {
	fi := fuse.FileInfo_t{Flags: flags}
	return a.OpenEx(path, &fi), fi.Fh
}

// OpenEx implements fuse.FileSystemOpenEx. It lets the kernel keep the
// pages it cached for the file when the content is the version the
// previous open saw (keep_cache); otherwise the kernel drops them, as it
// does for every open without keep_cache.
func (a *adapter) OpenEx(path string, fi *fuse.FileInfo_t) int {
	fi.Fh = noHandle
	acc := fi.Flags & fuse.O_ACCMODE
	h, err := a.fs.Open(a.ctx, path, vfs.OpenFlags{Write: acc == fuse.O_WRONLY || acc == fuse.O_RDWR,
		Truncate: fi.Flags&fuse.O_TRUNC != 0})
	if err != nil {
		return a.fail("open", err)
	}
	fi.KeepCache = a.opened.keepCache(h)
	fi.Fh = a.put(h)
	return 0
}

// Truncate implements fuse.FileSystemInterface.
func (a *adapter) Truncate(path string, size int64, fh uint64) int {
	if h := a.get(fh); fh != noHandle && h != nil {
		return a.fail("truncate", h.Truncate(a.ctx, size))
	}
	return a.fail("truncate", a.fs.Truncate(a.ctx, path, size))
}

// Read implements fuse.FileSystemInterface.
func (a *adapter) Read(path string, buff []byte, ofst int64, fh uint64) int {
	h := a.get(fh)
	if h == nil {
		return -fuse.EBADF
	}
	n, err := h.ReadAt(a.ctx, buff, ofst)
	if err != nil && err != io.EOF {
		return a.fail("read", err)
	}
	return n
}

// Write implements fuse.FileSystemInterface.
func (a *adapter) Write(path string, buff []byte, ofst int64, fh uint64) int {
	h := a.get(fh)
	if h == nil {
		return -fuse.EBADF
	}
	n, err := h.WriteAt(a.ctx, buff, ofst)
	if err != nil {
		return a.fail("write", err)
	}
	return n
}

// Flush implements fuse.FileSystemInterface (close(2) of one descriptor).
func (a *adapter) Flush(path string, fh uint64) int {
	h := a.get(fh)
	if h == nil {
		return 0
	}
	return a.fail("flush", h.Flush(a.ctx))
}

// Fsync implements fuse.FileSystemInterface.
func (a *adapter) Fsync(path string, datasync bool, fh uint64) int {
	h := a.get(fh)
	if h == nil {
		return -fuse.EBADF
	}
	return a.fail("fsync", h.Fsync(a.ctx))
}

// Release implements fuse.FileSystemInterface.
func (a *adapter) Release(path string, fh uint64) int {
	h := a.take(fh)
	if h == nil {
		return 0
	}
	return a.fail("release", h.Release(a.ctx))
}

// Opendir implements fuse.FileSystemInterface. On Linux and macOS the
// handle keeps the listing its first Readdir reads, so the later calls of
// a paged listing (see Readdir) do not list the folder again.
func (a *adapter) Opendir(path string) (int, uint64) {
	at, err := a.fs.Stat(a.ctx, path)
	if err != nil {
		return errno(err), noHandle
	}
	if !at.IsDir {
		return -fuse.ENOTDIR, noHandle
	}
	if a.goos == "windows" {
		return 0, noHandle
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.next++
	a.dirs[a.next] = nil
	return 0, a.next
}

// Readdir implements fuse.FileSystemInterface.
//
// With a directory handle it pages: each entry carries its offset, and a
// call fills from ofst until the kernel's buffer is full. libfuse 3 then
// answers readdirplus with each entry's attributes and node, so `ls -l`
// needs no lookup per file; with offset 0 it lists without nodes and the
// kernel looks every entry up again. WinFsp gets the whole listing at once.
func (a *adapter) Readdir(path string, fill func(name string, stat *fuse.Stat_t, ofst int64) bool, ofst int64, fh uint64) int {
	a.mu.Lock()
	attrs, paged := a.dirs[fh]
	a.mu.Unlock()
	if !paged {
		attrs, err := a.fs.ReadDir(a.ctx, path)
		if err != nil {
			return a.fail("readdir", err)
		}
		fill(".", nil, 0)
		fill("..", nil, 0)
		for _, at := range attrs {
			var st fuse.Stat_t
			a.fill(&st, at)
			if !fill(at.Name, &st, 0) {
				break
			}
		}
		return 0
	}
	if ofst == 0 || attrs == nil {
		// A rewinddir (offset 0) lists afresh.
		var err error
		if attrs, err = a.fs.ReadDir(a.ctx, path); err != nil {
			return a.fail("readdir", err)
		}
		if attrs == nil {
			attrs = []vfs.Attr{}
		}
		a.mu.Lock()
		if _, open := a.dirs[fh]; open {
			a.dirs[fh] = attrs
		}
		a.mu.Unlock()
	}
	// Offsets: 1 is ".", 2 is "..", 3+i is attrs[i]; ofst is the offset
	// of the last entry the kernel took.
	for i := ofst; i < int64(len(attrs))+2; i++ {
		var ok bool
		switch i {
		case 0:
			ok = fill(".", nil, 1)
		case 1:
			ok = fill("..", nil, 2)
		default:
			var st fuse.Stat_t
			a.fill(&st, attrs[i-2])
			ok = fill(attrs[i-2].Name, &st, i+1)
		}
		if !ok {
			break
		}
	}
	return 0
}

// Releasedir implements fuse.FileSystemInterface.
func (a *adapter) Releasedir(path string, fh uint64) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.dirs, fh)
	return 0
}

// Fsyncdir implements fuse.FileSystemInterface.
func (a *adapter) Fsyncdir(path string, datasync bool, fh uint64) int { return 0 }

var (
	_ fuse.FileSystemInterface = (*adapter)(nil)
	_ fuse.FileSystemOpenEx    = (*adapter)(nil)
)
