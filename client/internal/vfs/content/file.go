package content

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/mapdrive/mapdrive/client/internal/vfs/meta"
)

// File is one cached file's content. Methods are safe for concurrent use.
type File struct {
	c *Content

	mu  sync.Mutex // guards everything below
	key string
	// fresh holds blocks just downloaded, in plaintext, until their first
	// read takes them: a streaming reader then skips reading the block
	// back from disk and decrypting it, which cost as much CPU as
	// downloading it. A block leaves fresh when it is read, written,
	// truncated or dropped, and all of them when the last reference goes.
	fresh map[int64][]byte
	// pending holds, per block, a channel closed when the disk write of a
	// block already marked present (and kept in fresh) has returned. Code
	// that reads the slot, overwrites it, closes the file or persists the
	// entry waits for it first; the writer does not need mu to finish.
	pending  map[int64]chan struct{}
	e        Entry
	refs     int
	removed  bool
	changed  bool // e differs from what is persisted
	fd       *os.File
	hotIdx   int64 // block held in plaintext in hot, -1 for none
	hot      []byte
	hotDirty bool
	inflight map[int64]chan struct{}
}

func (f *File) path() string {
	return filepath.Join(f.c.dir, f.e.ID[:2], f.e.ID)
}

func (f *File) openLocked() error {
	if f.fd != nil {
		return nil
	}
	p := f.path()
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("create cache subdir: %w", err)
	}
	flags := os.O_RDWR | os.O_CREATE
	direct := f.e.Layout == layoutAligned && directIO != 0 && !f.c.noDirect.Load()
	if direct {
		flags |= directIO
	}
	fd, err := os.OpenFile(p, flags, 0o600)
	if err != nil && direct {
		// Some file systems (tmpfs) refuse direct I/O: use the page cache.
		f.c.noDirect.Store(true)
		fd, err = os.OpenFile(p, flags&^directIO, 0o600)
	}
	if err != nil {
		return fmt.Errorf("open cache file: %w", err)
	}
	f.fd = fd
	return nil
}

// readBlockLocked returns block idx's plaintext (BlockSize bytes).
func (f *File) readBlockLocked(idx int64) ([]byte, error) {
	if f.hotIdx == idx {
		return f.hot, nil
	}
	if b, ok := f.fresh[idx]; ok {
		f.forgetFreshLocked(idx) // the caller owns it now (it becomes the hot block)
		return b, nil
	}
	if !f.e.has(idx) {
		if idx*BlockSize < f.e.RemoteSize {
			return nil, ErrMissing
		}
		return make([]byte, BlockSize), nil
	}
	if err := f.openLocked(); err != nil {
		return nil, err
	}
	f.waitWriteLocked(idx)
	slot := f.e.slot()
	buf := f.c.slotBuf(slot)
	defer f.c.putSlot(buf)
	if _, err := f.fd.ReadAt(buf, idx*slot); err != nil {
		return nil, fmt.Errorf("read cache block %d: %w", idx, err)
	}
	plain, err := f.c.open(buf[:sealedSize], f.ad(idx))
	if err != nil {
		return nil, fmt.Errorf("decrypt cache block %d: %w", idx, err)
	}
	return plain, nil
}

func (f *File) writeBlockLocked(idx int64, plain []byte) error {
	if err := f.openLocked(); err != nil {
		return err
	}
	f.forgetFreshLocked(idx)
	f.waitWriteLocked(idx)
	slot := f.e.slot()
	sealed := f.c.sealSlot(plain, f.ad(idx), slot)
	_, err := f.fd.WriteAt(sealed, idx*slot)
	f.c.putSlot(sealed)
	if err != nil {
		return fmt.Errorf("write cache block %d: %w", idx, err)
	}
	if !f.e.has(idx) {
		f.e.set(idx, true)
		f.c.used.Add(slot)
	}
	f.changed = true
	return nil
}

func (f *File) flushHotLocked() error {
	if f.hotIdx < 0 || !f.hotDirty {
		return nil
	}
	if err := f.writeBlockLocked(f.hotIdx, f.hot); err != nil {
		return err
	}
	f.hotDirty = false
	return nil
}

// loadHotLocked makes block idx the hot block.
func (f *File) loadHotLocked(idx int64) error {
	if f.hotIdx == idx {
		return nil
	}
	if err := f.flushHotLocked(); err != nil {
		return err
	}
	b, err := f.readBlockLocked(idx)
	if err != nil {
		return err
	}
	f.hotIdx, f.hot, f.hotDirty = idx, b, false
	return nil
}

func (f *File) dropBlocksLocked() {
	f.waitWritesLocked()
	f.dropFreshLocked()
	f.c.used.Add(-f.e.count() * f.e.slot())
	f.e.Present = nil
	f.e.Layout = layoutAligned // the data file is deleted below
	f.hotIdx, f.hot, f.hotDirty = -1, nil, false
	if f.fd != nil {
		f.fd.Close()
		f.fd = nil
	}
	_ = os.Remove(f.path())
}

func (f *File) destroyLocked() error {
	f.c.dirty.Delete(f.key)
	f.dropBlocksLocked()
	return f.c.store.Update(func(tx *meta.Tx) error {
		_ = tx.DeleteHead(f.key)
		return tx.DeleteEntry(f.key)
	})
}

func (f *File) syncLocked() error {
	if f.removed {
		return nil
	}
	f.waitWritesLocked() // an entry never names a block not yet on disk
	if err := f.flushHotLocked(); err != nil {
		return err
	}
	if !f.changed {
		return nil
	}
	raw, err := json.Marshal(f.e)
	if err != nil {
		return err
	}
	if err := f.c.store.Update(func(tx *meta.Tx) error {
		return tx.PutEntry(f.key, raw)
	}); err != nil {
		return fmt.Errorf("persist cache entry: %w", err)
	}
	f.changed = false
	return nil
}

// Key returns the store key the file belongs to.
func (f *File) Key() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.key
}

// Release drops a reference taken by Acquire, persisting the entry.
func (f *File) Release() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refs--
	if f.refs == 0 {
		f.dropFreshLocked()
	}
	if f.removed {
		if f.refs == 0 {
			return f.destroyLocked()
		}
		return nil
	}
	return f.syncLocked()
}

// Sync flushes buffered blocks to disk, fsyncs and persists the entry.
func (f *File) Sync() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.syncLocked(); err != nil {
		return err
	}
	if f.fd != nil {
		if err := f.fd.Sync(); err != nil {
			return fmt.Errorf("fsync cache file: %w", err)
		}
	}
	return nil
}

// Entry returns a copy of the file's state.
func (f *File) Entry() Entry {
	f.mu.Lock()
	defer f.mu.Unlock()
	e := f.e
	e.Present = append([]byte(nil), f.e.Present...)
	return e
}

// Size returns the logical size.
func (f *File) Size() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.e.Size
}

// Claim marks the blocks in [first, last] that must be downloaded and are
// neither present nor being downloaded as in flight, and returns them as
// runs of consecutive block indexes [start, end].
func (f *File) Claim(first, last int64) [][2]int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	var runs [][2]int64
	for idx := first; idx <= last; idx++ {
		if idx*BlockSize >= f.e.RemoteSize || f.e.has(idx) || f.hotIdx == idx {
			continue
		}
		if _, busy := f.inflight[idx]; busy {
			continue
		}
		if f.inflight == nil {
			f.inflight = map[int64]chan struct{}{}
		}
		f.inflight[idx] = make(chan struct{})
		if n := len(runs); n > 0 && runs[n-1][1] == idx-1 {
			runs[n-1][1] = idx
		} else {
			runs = append(runs, [2]int64{idx, idx})
		}
	}
	return runs
}

// Fill stores downloaded block idx (data may be short at the end of the
// file) and wakes its waiters. A block written locally meanwhile wins.
// The block is sealed, and usually written, outside the lock, so parallel
// downloads encrypt and store in parallel.
func (f *File) Fill(idx int64, data []byte) error {
	plain := make([]byte, BlockSize)
	copy(plain, data)
	return f.FillOwned(idx, plain[:len(data)])
}

// FillOwned is Fill for a block the caller gives away: data's capacity
// is at least BlockSize and the cache keeps it (a reader may be handed
// it), so the download's buffer is not copied again.
func (f *File) FillOwned(idx int64, data []byte) error {
	plain := data[:BlockSize]
	clear(plain[len(data):])
	f.mu.Lock()
	if f.e.has(idx) || f.hotIdx == idx || f.removed {
		f.finishLocked(idx)
		f.mu.Unlock()
		return nil
	}
	// Bytes past RemoteSize were truncated locally: they read as zeros.
	if end := f.e.RemoteSize - idx*BlockSize; end < BlockSize {
		clear(plain[max(end, 0):])
	}
	if idx == 0 && !f.e.Dirty {
		f.c.putHead(f.key, f.e.Version, plain[:min(int64(HeadSize), f.e.Size)])
	}
	if err := f.openLocked(); err != nil {
		f.finishLocked(idx)
		f.mu.Unlock()
		return err
	}
	id, fd, slot := f.e.ID, f.fd, f.e.slot()
	ad := f.ad(idx)
	f.mu.Unlock()

	sealed := f.c.sealSlot(plain, ad, slot)
	defer f.c.putSlot(sealed) // after the write, on every path below

	f.mu.Lock()
	defer f.mu.Unlock()
	defer f.finishLocked(idx)
	if f.e.has(idx) || f.hotIdx == idx || f.removed || f.fd != fd || f.e.ID != id {
		return nil // written, truncated or dropped meanwhile
	}
	if f.keepFreshLocked(idx, plain) {
		// Readers take the block from memory at once; its disk copy is
		// written without the lock, so that parallel downloads store in
		// parallel and readers never wait for the disk.
		f.e.set(idx, true)
		f.c.used.Add(slot)
		f.changed = true
		f.waitWriteLocked(idx) // an older write of this slot (before a truncation) lands first
		ch := make(chan struct{})
		if f.pending == nil {
			f.pending = map[int64]chan struct{}{}
		}
		f.pending[idx] = ch
		f.finishLocked(idx)
		f.mu.Unlock()
		if f.c.beforeStore != nil {
			f.c.beforeStore(idx)
		}
		_, err := fd.WriteAt(sealed, idx*slot)
		close(ch)
		f.mu.Lock()
		if f.pending[idx] == ch {
			delete(f.pending, idx)
			if err != nil && f.fd == fd && f.e.has(idx) {
				f.forgetFreshLocked(idx)
				f.e.set(idx, false)
				f.c.used.Add(-slot)
			}
		}
		if err != nil {
			return fmt.Errorf("write cache block %d: %w", idx, err)
		}
		return nil
	}
	if _, err := f.fd.WriteAt(sealed, idx*slot); err != nil {
		return fmt.Errorf("write cache block %d: %w", idx, err)
	}
	f.e.set(idx, true)
	f.c.used.Add(slot)
	f.changed = true
	return nil
}

// Abort releases a claimed block that could not be downloaded.
func (f *File) Abort(idx int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.finishLocked(idx)
}

func (f *File) finishLocked(idx int64) {
	if ch, ok := f.inflight[idx]; ok {
		close(ch)
		delete(f.inflight, idx)
	}
	f.e.Access = f.c.now()
}

// Missing reports whether a block in [first, last] still has to be
// downloaded.
func (f *File) Missing(first, last int64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for idx := first; idx <= last; idx++ {
		if idx*BlockSize < f.e.RemoteSize && !f.e.has(idx) && f.hotIdx != idx {
			return true
		}
	}
	return false
}

// AnyPresent reports whether any block of f is cached.
func (f *File) AnyPresent() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.e.count() > 0
}

// Wait blocks until no block in [first, last] is in flight.
func (f *File) Wait(ctx context.Context, first, last int64) error {
	for {
		f.mu.Lock()
		var ch chan struct{}
		for idx := first; idx <= last && ch == nil; idx++ {
			ch = f.inflight[idx]
		}
		f.mu.Unlock()
		if ch == nil {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// ReadAt reads from the cached content. It returns ErrMissing when a
// block it needs must first be downloaded, and io.EOF semantics are left
// to the caller: n is short at the end of the file.
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if off >= f.e.Size {
		return 0, nil
	}
	if rest := f.e.Size - off; int64(len(p)) > rest {
		p = p[:rest]
	}
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		idx := pos / BlockSize
		b, err := f.readBlockLocked(idx)
		if err != nil {
			return n, err
		}
		if f.hotIdx != idx && f.e.has(idx) {
			// Keep the decrypted block for the next small read.
			if err := f.flushHotLocked(); err != nil {
				return n, err
			}
			f.hotIdx, f.hot, f.hotDirty = idx, b, false
		}
		n += copy(p[n:], b[pos-idx*BlockSize:])
	}
	f.e.Access = f.c.now()
	return n, nil
}

// NeedsForWrite returns the blocks that must be downloaded before writing
// len bytes at off: the partially overwritten ones at either end.
func (f *File) NeedsForWrite(off, n int64) (first, last int64, need bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	check := func(idx int64) bool {
		return idx*BlockSize < f.e.RemoteSize && !f.e.has(idx) && f.hotIdx != idx
	}
	a, b := off/BlockSize, (off+n-1)/BlockSize
	if off%BlockSize != 0 && check(a) {
		need, first, last = true, a, a
	}
	if (off+n)%BlockSize != 0 && check(b) {
		if !need {
			first = b
		}
		need, last = true, b
	}
	return first, last, need
}

// WriteAt writes p at off, marking the content dirty. The partially
// overwritten blocks must be present (see NeedsForWrite).
func (f *File) WriteAt(p []byte, off int64) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		idx := pos / BlockSize
		inner := pos - idx*BlockSize
		if inner == 0 && int64(len(p)-n) >= BlockSize {
			// A whole block: no need to read what it replaces.
			if err := f.flushHotLocked(); err != nil {
				return n, err
			}
			if f.hotIdx == idx {
				f.hotIdx, f.hot = -1, nil
			}
			if err := f.writeBlockLocked(idx, p[n:n+BlockSize]); err != nil {
				return n, err
			}
			n += BlockSize
		} else {
			if err := f.loadHotLocked(idx); err != nil {
				return n, err
			}
			c := copy(f.hot[inner:], p[n:])
			f.hotDirty = true
			n += c
		}
		if !f.e.has(idx) && f.hotIdx == idx {
			// Count the hot block as present so reads see it.
			f.e.set(idx, true)
			f.c.used.Add(f.e.slot())
		}
	}
	if end := off + int64(n); end > f.e.Size {
		f.e.Size = end
	}
	f.e.Dirty = true
	f.e.Gen++
	f.e.Access = f.c.now()
	f.changed = true
	f.noteDirtyLocked()
	return n, nil
}

// TruncateNeeds reports the block that must be present before truncating
// to size (the new last, partial block).
func (f *File) TruncateNeeds(size int64) (int64, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	idx := size / BlockSize
	if size%BlockSize == 0 || size >= f.e.Size {
		return 0, false
	}
	return idx, idx*BlockSize < f.e.RemoteSize && !f.e.has(idx) && f.hotIdx != idx
}

// Truncate sets the logical size, zeroing what lies past it.
func (f *File) Truncate(size int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if size < f.e.Size {
		idx := size / BlockSize
		if inner := size % BlockSize; inner != 0 && (f.e.has(idx) || f.hotIdx == idx) {
			if err := f.loadHotLocked(idx); err != nil {
				return err
			}
			clear(f.hot[inner:])
			f.hotDirty = true
			idx++
		} else if inner != 0 {
			idx++ // not present: Fill zeros the tail past RemoteSize
		}
		last := (f.e.Size - 1) / BlockSize
		for i := idx; i <= last; i++ {
			if f.hotIdx == i {
				f.hotIdx, f.hot, f.hotDirty = -1, nil, false
			}
			f.forgetFreshLocked(i)
			if f.e.has(i) {
				f.e.set(i, false)
				f.c.used.Add(-f.e.slot())
			}
		}
		f.e.RemoteSize = min(f.e.RemoteSize, size)
	}
	f.e.Size = size
	f.e.Dirty = true
	f.e.Gen++
	f.changed = true
	f.noteDirtyLocked()
	return nil
}

// PrepareClean prepares recording that generation gen was uploaded as
// remote version version: write persists it in the caller's store
// transaction, and apply, called after that commits, switches the
// in-memory state (so no reader sees the file clean before its record
// describes the uploaded version). apply reports false when the content
// changed meanwhile; write is nil then.
func (f *File) PrepareClean(gen uint64, version string) (write func(*meta.Tx) error, apply func() bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.e.Gen != gen || f.removed {
		return nil, func() bool { return false }
	}
	e := f.e
	e.Dirty, e.Version, e.RemoteSize = false, version, e.Size
	raw, err := json.Marshal(e)
	key := f.key
	write = func(tx *meta.Tx) error {
		if err != nil {
			return err
		}
		return tx.PutEntry(key, raw)
	}
	apply = func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.e.Gen != gen {
			return false
		}
		f.e.Dirty, f.e.Version, f.e.RemoteSize = false, version, f.e.Size
		f.noteDirtyLocked()
		return true
	}
	return write, apply
}

// PrepareSync flushes buffered blocks, fsyncs the data file and returns
// the write that persists the entry in the caller's store transaction.
func (f *File) PrepareSync() (func(*meta.Tx) error, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.flushHotLocked(); err != nil {
		return nil, err
	}
	f.waitWritesLocked()
	if f.fd != nil {
		if err := f.fd.Sync(); err != nil {
			return nil, fmt.Errorf("fsync cache file: %w", err)
		}
	}
	return f.entryWriteLocked(), nil
}

// entryWriteLocked returns a store write of the entry as it is now.
func (f *File) entryWriteLocked() func(*meta.Tx) error {
	if f.removed {
		return func(*meta.Tx) error { return nil }
	}
	f.waitWritesLocked() // an entry never names a block not yet on disk
	raw, err := json.Marshal(f.e)
	key := f.key
	f.changed = false
	return func(tx *meta.Tx) error {
		if err != nil {
			return err
		}
		return tx.PutEntry(key, raw)
	}
}

// Invalidate drops clean content so the next read downloads the server's
// version (remote size size).
func (f *File) Invalidate(version string, size int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.e.Dirty || len(f.inflight) > 0 {
		return
	}
	f.dropBlocksLocked()
	f.e.Version, f.e.Size, f.e.RemoteSize = version, size, size
	f.changed = true
	_ = f.syncLocked()
}

// SetRemote records the remote content the file mirrors when a local copy
// has been made dirty by another path (rename over an item).
func (f *File) SetRemote(version string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.e.Version = version
	f.changed = true
}
