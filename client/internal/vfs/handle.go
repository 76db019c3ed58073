package vfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"sync"

	"github.com/mapdrive/mapdrive/client/internal/vfs/content"
	"github.com/mapdrive/mapdrive/client/internal/vfs/meta"
)

// OpenFlags says how a file is opened.
type OpenFlags struct {
	Write    bool
	Create   bool
	Excl     bool
	Truncate bool
}

// fetcher makes blocks [first, last] of a cache file present, downloading
// the missing ones and read-ahead up to raLast; it returns when [first,
// last] is present, or with the error that left it missing. The
// downloader (download.go) is the one implementation; handles, pinning
// and uploads use it.
type fetcher interface {
	fetch(ctx context.Context, f *content.File, first, last, raLast int64) error
}

// Handle is an open file. Its methods are safe for concurrent use.
type Handle struct {
	fs    *FS
	key   string
	write bool
	file  *content.File

	mu       sync.Mutex // guards below
	dirty    bool       // written through this handle since the last flush
	released bool
	seqEnd   int64 // where the last read ended, for read-ahead
	window   int64 // current read-ahead window
}

// Open opens the file at p.
func (fs *FS) Open(ctx context.Context, p string, fl OpenFlags) (*Handle, error) {
	if fl.Write || fl.Create || fl.Truncate {
		if err := fs.checkWritable("open for writing", p); err != nil {
			return nil, err
		}
	}
	r, err := fs.resolve(ctx, p)
	switch {
	case errors.Is(err, ErrNotFound) && fl.Create:
		return fs.create(ctx, p)
	case err != nil:
		return nil, err
	case fl.Create && fl.Excl:
		return nil, fmt.Errorf("create %s: %w", p, ErrExist)
	case r.IsDir:
		if fl.Write {
			return nil, fmt.Errorf("open %s: %w", p, ErrIsDir)
		}
	}
	h := &Handle{fs: fs, key: r.Key, write: fl.Write || fl.Truncate}
	if h.write && !r.IsDir {
		if err := fs.beginWrite(ctx, p, r); err != nil {
			return nil, err
		}
	}
	if !r.IsDir {
		h.file = fs.content.Acquire(r.Key, r.Version(), r.Size)
		if fl.Truncate && h.file.Size() != 0 {
			if err := h.file.Truncate(0); err != nil {
				h.file.Release()
				if h.write {
					fs.endWrite(r.Key, true)
				}
				return nil, fmt.Errorf("truncate %s: %w", p, err)
			}
			h.dirty = true
		} else if fl.Truncate && h.file.Size() == 0 && r.RemoteID == "" {
			h.dirty = true
		}
	}
	return h, nil
}

// Create creates (or truncates) the file at p and opens it for writing.
func (fs *FS) Create(ctx context.Context, p string) (*Handle, error) {
	return fs.Open(ctx, p, OpenFlags{Write: true, Create: true, Truncate: true})
}

func (fs *FS) create(ctx context.Context, p string) (*Handle, error) {
	dir, name := path.Split(path.Clean("/" + p))
	if err := fs.checkName("create", p); err != nil {
		return nil, err
	}
	if !IsLocalOnly(name) {
		if fs.quotaFull.Load() {
			return nil, fmt.Errorf("create %s: %w", p, ErrQuotaExceeded)
		}
	}
	parent, err := fs.resolve(ctx, dir)
	if err != nil {
		return nil, err
	}
	if !parent.IsDir {
		return nil, fmt.Errorf("create %s: %w", p, ErrNotDir)
	}
	fs.nsMu.Lock()
	if _, err := fs.child(parent.Key, name); err == nil || fs.caseTwin(parent.Key, name, "") {
		fs.nsMu.Unlock()
		return nil, fmt.Errorf("create %s: %w", p, ErrExist)
	}
	rec := meta.Record{Key: newLocalKey(), ParentKey: parent.Key, Name: name, ModTime: fs.clock.Now()}
	err = fs.store.Update(func(tx *meta.Tx) error { return tx.Put(rec) })
	fs.nsMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", p, err)
	}
	h := &Handle{fs: fs, key: rec.Key, write: true, dirty: true}
	fs.co.mu.Lock()
	fs.co.writers[rec.Key]++ // Release uncounts it; a new file has nothing to check out yet
	fs.co.mu.Unlock()
	h.file = fs.content.Acquire(rec.Key, "", 0)
	if err := h.file.Truncate(0); err != nil { // marks it dirty: even empty files upload
		h.file.Release()
		fs.endWrite(rec.Key, false)
		return nil, err
	}
	return h, nil
}

// IsDir reports whether the handle is an open folder.
func (h *Handle) IsDir() bool { return h.file == nil }

// Attr returns the open item's attributes.
func (h *Handle) Attr() (Attr, error) {
	r, err := h.fs.get(h.currentKey())
	if err != nil {
		return Attr{}, err
	}
	return h.fs.attr(r), nil
}

func (h *Handle) currentKey() string {
	if h.file != nil {
		return h.file.Key()
	}
	return h.key
}

// ReadAt reads up to len(p) bytes at off; it returns 0, io.EOF at the
// end. Only the needed ranges (plus read-ahead) are downloaded.
func (h *Handle) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	if h.file == nil {
		return 0, ErrIsDir
	}
	size := h.file.Size()
	if off >= size {
		return 0, io.EOF
	}
	end := min(off+int64(len(p)), size)
	p = p[:end-off]
	first, last := off/content.BlockSize, (end-1)/content.BlockSize
	key := h.file.Key()
	if end <= content.HeadSize && h.file.Missing(0, 0) {
		if r, err := h.fs.get(key); err == nil {
			if head, ok := h.fs.content.Head(key, r.Version()); ok && int64(len(head)) >= end {
				return copy(p, head[off:end]), nil
			}
		}
	}
	h.mu.Lock()
	// Sequential, allowing for the kernel's parallel, slightly reordered
	// read-ahead requests.
	slack := max(h.window, 1<<20)
	if off > 0 && off >= h.seqEnd-slack && off <= h.seqEnd+(1<<20) {
		h.window = min(max(2*h.window, 4*content.BlockSize), h.fs.opt.ReadAhead)
	} else {
		h.window = 0
	}
	h.seqEnd = max(end, h.seqEnd)
	if h.window == 0 {
		h.seqEnd = end
	}
	window := h.window
	h.mu.Unlock()
	lastBlock := (size - 1) / content.BlockSize
	raLast := min((end+window-1)/content.BlockSize, lastBlock)
	if per := max(h.fs.opt.ChunkSize/content.BlockSize, 1); raLast < lastBlock && window > 0 {
		// Read ahead in whole chunks: one range request per ChunkSize, not
		// one per block as the window slides.
		raLast = max((raLast+1)/per*per-1, last)
	}
	if err := h.fs.dl.fetch(ctx, h.file, first, last, raLast); err != nil {
		return 0, err
	}
	n, err := h.file.ReadAt(p, off)
	if err != nil {
		return n, fmt.Errorf("read cached content: %w", err)
	}
	return n, nil
}

// WriteAt writes p at off into the local copy; it is uploaded on Flush,
// Fsync or Release.
func (h *Handle) WriteAt(ctx context.Context, p []byte, off int64) (int, error) {
	if h.file == nil {
		return 0, ErrIsDir
	}
	if h.fs.opt.ReadOnly {
		return 0, ErrReadOnly
	}
	if len(p) == 0 {
		return 0, nil
	}
	if h.fs.quotaFull.Load() && off+int64(len(p)) > h.file.Size() && !h.localOnly() {
		return 0, ErrQuotaExceeded
	}
	if first, last, need := h.file.NeedsForWrite(off, int64(len(p))); need {
		if err := h.fs.dl.fetch(ctx, h.file, first, last, last); err != nil {
			return 0, err
		}
	}
	n, err := h.file.WriteAt(p, off)
	h.mu.Lock()
	h.dirty = true
	h.mu.Unlock()
	h.fs.forgetSetTime(h.file.Key())
	if err != nil {
		return n, fmt.Errorf("write local copy: %w", err)
	}
	return n, nil
}

func (h *Handle) localOnly() bool {
	r, err := h.fs.get(h.currentKey())
	return err == nil && IsLocalOnly(r.Name)
}

// Truncate sets the open file's size.
func (h *Handle) Truncate(ctx context.Context, size int64) error {
	if h.file == nil {
		return ErrIsDir
	}
	if h.fs.opt.ReadOnly {
		return ErrReadOnly
	}
	if idx, need := h.file.TruncateNeeds(size); need {
		if err := h.fs.dl.fetch(ctx, h.file, idx, idx, idx); err != nil {
			return err
		}
	}
	if err := h.file.Truncate(size); err != nil {
		return fmt.Errorf("truncate local copy: %w", err)
	}
	h.mu.Lock()
	h.dirty = true
	h.mu.Unlock()
	h.fs.forgetSetTime(h.file.Key())
	return nil
}

// Flush makes what was written durable locally and queues the upload.
// It returns ErrQuotaExceeded while the drive is full (the data is kept
// and retried).
func (h *Handle) Flush(ctx context.Context) error {
	if h.file == nil {
		return nil
	}
	h.mu.Lock()
	dirty := h.dirty
	h.dirty = false
	h.mu.Unlock()
	if !dirty {
		return nil
	}
	if err := h.fs.commitFlush(h.file); err != nil {
		h.mu.Lock()
		h.dirty = true
		h.mu.Unlock()
		return fmt.Errorf("save local copy: %w", err)
	}
	if h.fs.quotaFull.Load() && !h.localOnly() {
		return ErrQuotaExceeded
	}
	return nil
}

// Fsync is Flush: the content is saved locally and its upload starts.
func (h *Handle) Fsync(ctx context.Context) error { return h.Flush(ctx) }

// Release flushes and closes the handle.
func (h *Handle) Release(ctx context.Context) error {
	h.mu.Lock()
	if h.released {
		h.mu.Unlock()
		return nil
	}
	h.released = true
	h.mu.Unlock()
	if h.file == nil {
		return nil
	}
	ferr := h.Flush(ctx)
	if h.write {
		h.fs.endWrite(h.key, true)
	}
	rerr := h.file.Release()
	h.fs.content.Evict()
	if errors.Is(ferr, ErrQuotaExceeded) {
		ferr = nil // reported on flush; the data is kept and retried
	}
	return errors.Join(ferr, rerr)
}

// commitFlush makes a file's local content durable and journals its
// upload, in one store transaction: the new modification time, the cache
// entry and the queued job.
func (fs *FS) commitFlush(f *content.File) error {
	fs.nsMu.Lock()
	defer fs.nsMu.Unlock()
	done := fs.queue.Begin()
	defer done()
	entryW, err := f.PrepareSync()
	if err != nil {
		return err
	}
	key := f.Key()
	r, err := fs.get(key)
	if err != nil {
		return fs.store.Update(entryW) // deleted meanwhile: nothing to upload
	}
	var jobW func(*meta.Tx) error
	if !IsLocalOnly(r.Name) {
		ops := meta.OpUpload
		if fs.co.holds(key) {
			ops |= meta.OpCheckIn // journaled with the upload: a restart still checks in
		}
		jobW = fs.queue.AddPrepared(key, ops, "", "")
	}
	return fs.store.Update(func(tx *meta.Tx) error {
		r.ModTime = fs.clock.Now()
		if t, ok := fs.setTimes[key]; ok {
			r.ModTime = t
		}
		if err := tx.Put(r); err != nil {
			return err
		}
		if err := entryW(tx); err != nil {
			return err
		}
		if jobW != nil {
			return jobW(tx)
		}
		return nil
	})
}

func (fs *FS) enqueueUpload(key string) error {
	r, err := fs.get(key)
	if err != nil {
		return nil // deleted meanwhile: nothing to upload
	}
	if IsLocalOnly(r.Name) {
		return nil
	}
	if err := fs.queue.Add(key, meta.OpUpload, "", ""); err != nil {
		return fmt.Errorf("journal upload: %w", err)
	}
	return nil
}
