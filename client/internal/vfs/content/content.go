package content

// Lock order: Content.mu, then File.mu. Sealing and disk I/O for one block
// happen under File.mu; nothing holds File.mu while waiting on a channel.

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/mapdrive/mapdrive/client/internal/vfs/meta"
)

// BlockSize is the plaintext size of one cache block, the unit of
// presence, encryption and download.
const BlockSize = 128 << 10

// HeadSize is how much of a file's start the header cache keeps.
const HeadSize = 8 << 10

// maxHeads bounds the header cache: 4096 × 8 KiB = 32 MiB at most in the
// metadata store, outside CacheMaxBytes.
const maxHeads = 4096

const (
	nonceSize = 12
	tagSize   = 16
	// sealedSize is one sealed block: nonce, ciphertext and tag.
	sealedSize = nonceSize + BlockSize + tagSize
	// legacySlot is the slot of a block in a data file of the first
	// layout, where sealed blocks follow each other.
	legacySlot = sealedSize
	// alignedSlot is the slot of a block in the aligned layout: every
	// slot starts on a 4 KiB boundary and is padded to one, so that the
	// file can be read and written with direct I/O (directIO). The
	// padding costs 3% of disk space.
	alignedSlot = BlockSize + ioAlign
	ioAlign     = 4096
)

// Data file layouts (Entry.Layout).
const (
	layoutLegacy  = 0
	layoutAligned = 1
)

// ErrMissing means a block that must come from the server is not cached.
var ErrMissing = errors.New("block not cached")

// Entry is the persisted state of one cached file.
type Entry struct {
	// ID names the data file and binds its blocks (AEAD associated data),
	// so an entry can move to another key without re-encryption.
	ID string `json:"id"`
	// Size is the logical size of the local content.
	Size int64 `json:"s"`
	// RemoteSize is the extent whose absent blocks must be downloaded;
	// absent blocks past it read as zeros.
	RemoteSize int64 `json:"rs"`
	// Version is the remote content version (cTag/eTag) the blocks hold.
	Version string `json:"v,omitempty"`
	Present []byte `json:"b,omitempty"`
	// Dirty marks content written locally and not yet confirmed uploaded.
	Dirty bool `json:"d,omitempty"`
	// Gen counts local modifications.
	Gen    uint64    `json:"g,omitempty"`
	Access time.Time `json:"a"`
	// Layout is the data file's layout: 0 for files written before the
	// aligned layout existed, which keep it until they are emptied.
	Layout int `json:"l,omitempty"`
}

// slot returns the distance between two blocks in the entry's data file.
func (e *Entry) slot() int64 {
	if e.Layout == layoutAligned {
		return alignedSlot
	}
	return legacySlot
}

func (e *Entry) has(idx int64) bool {
	i := idx / 8
	return i < int64(len(e.Present)) && e.Present[i]&(1<<(idx%8)) != 0
}

func (e *Entry) set(idx int64, on bool) {
	i := idx / 8
	for int64(len(e.Present)) <= i {
		e.Present = append(e.Present, 0)
	}
	if on {
		e.Present[i] |= 1 << (idx % 8)
	} else {
		e.Present[i] &^= 1 << (idx % 8)
	}
}

func (e *Entry) count() int64 {
	var n int64
	for _, b := range e.Present {
		for ; b != 0; b &= b - 1 {
			n++
		}
	}
	return n
}

// ContentOptions configures a Content cache.
type ContentOptions struct {
	Dir      string
	Store    *meta.Store
	Key      []byte // AES key: 16, 24 or 32 bytes
	MaxBytes int64
	Logger   *slog.Logger
	// Pinned reports whether a key is kept offline; eviction skips it.
	Pinned func(key string) bool
	Now    func() time.Time
	// FreshBytes bounds the memory that keeps downloaded blocks for their
	// first reader; 0 means DefaultFreshBytes, negative keeps none.
	FreshBytes int64
}

// DefaultFreshBytes holds a read-ahead window (32 MiB) for two streaming
// readers at once.
const DefaultFreshBytes = 64 << 20

// Content is the encrypted, sparse, size-bounded content cache.
type Content struct {
	// Immutable after construction.
	dir    string
	store  *meta.Store
	aead   cipher.AEAD
	max    int64
	log    *slog.Logger
	pinned func(string) bool
	now    func() time.Time

	used atomic.Int64 // bytes of present blocks on disk

	// noDirect is set once the cache's file system refuses direct I/O.
	noDirect atomic.Bool

	// fresh counts the bytes of downloaded blocks kept in plaintext for
	// their first reader (File.fresh), across files; freshMax bounds it.
	fresh    atomic.Int64
	freshMax int64
	// slots recycles the aligned buffers of sealed blocks: a cold read
	// seals and stores one per 128 KiB, and allocating each was a tenth
	// of its CPU.
	slots sync.Pool
	// beforeStore, when set (by tests), runs before a kept block's disk
	// write, without the file's lock.
	beforeStore func(idx int64)

	// dirty maps the key of every file with local changes to its size.
	// It is a leaf: reading it takes no lock, so code holding the store's
	// write transaction may consult it (see DirtySize).
	dirty sync.Map

	mu    sync.Mutex // guards files
	files map[string]*File
}

// OpenContent loads the cache index and returns the cache.
func OpenContent(o ContentOptions) (*Content, error) {
	blk, err := aes.NewCipher(o.Key)
	if err != nil {
		return nil, fmt.Errorf("cache key: %w", err)
	}
	aead, err := cipher.NewGCM(blk)
	if err != nil {
		return nil, fmt.Errorf("cache cipher: %w", err)
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create cache dir: %w", err)
	}
	c := &Content{dir: o.Dir, store: o.Store, aead: aead, max: o.MaxBytes, log: o.Logger,
		pinned: o.Pinned, now: o.Now, files: map[string]*File{}, freshMax: o.FreshBytes}
	if c.freshMax == 0 {
		c.freshMax = DefaultFreshBytes
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.pinned == nil {
		c.pinned = func(string) bool { return false }
	}
	err = o.Store.View(func(tx *meta.Tx) error {
		return tx.ForEachEntry(func(k string, v []byte) error {
			f := &File{c: c, key: k, hotIdx: -1}
			if err := json.Unmarshal(v, &f.e); err != nil {
				return fmt.Errorf("decode cache entry %s: %w", k, err)
			}
			c.files[f.key] = f
			c.used.Add(f.e.count() * f.e.slot())
			f.noteDirtyLocked()
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Used returns the bytes the cache occupies.
func (c *Content) Used() int64 { return c.used.Load() }

// Max returns the configured bound.
func (c *Content) Max() int64 { return c.max }

// Close flushes and persists every loaded file.
func (c *Content) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for _, f := range c.files {
		f.mu.Lock()
		errs = append(errs, f.syncLocked())
		f.waitWritesLocked()
		if f.fd != nil {
			errs = append(errs, f.fd.Close())
			f.fd = nil
		}
		f.mu.Unlock()
	}
	return errors.Join(errs...)
}

// Acquire returns the cache file for key, holding a reference until
// Release. version and remoteSize describe the remote content: a clean
// entry holding another version is emptied first.
func (c *Content) Acquire(key, version string, remoteSize int64) *File {
	c.mu.Lock()
	defer c.mu.Unlock()
	f := c.files[key]
	if f == nil {
		f = &File{c: c, key: key, hotIdx: -1}
		f.e = Entry{ID: newID(), Size: remoteSize, RemoteSize: remoteSize, Version: version, Layout: layoutAligned}
		c.files[key] = f
		f.changed = true
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refs++
	if !f.e.Dirty && f.e.Version != version && len(f.inflight) == 0 {
		f.dropBlocksLocked()
		f.e.Version, f.e.Size, f.e.RemoteSize = version, remoteSize, remoteSize
		f.changed = true
	}
	f.e.Access = c.now()
	return f
}

// DirtySize returns the size of key's content when it has local changes.
// It takes no lock.
func (c *Content) DirtySize(key string) (int64, bool) {
	v, ok := c.dirty.Load(key)
	if !ok {
		return 0, false
	}
	return v.(int64), true
}

// noteDirtyLocked mirrors f's dirty state and size into c.dirty.
func (f *File) noteDirtyLocked() {
	if f.e.Dirty && !f.removed {
		f.c.dirty.Store(f.key, f.e.Size)
	} else {
		f.c.dirty.Delete(f.key)
	}
}

// Peek returns a copy of key's entry.
func (c *Content) Peek(key string) (Entry, bool) {
	c.mu.Lock()
	f := c.files[key]
	c.mu.Unlock()
	if f == nil {
		return Entry{}, false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	e := f.e
	e.Present = nil
	return e, true
}

// Complete reports whether key's whole content at version is cached (or
// exists only here).
func (c *Content) Complete(key, version string) bool {
	c.mu.Lock()
	f := c.files[key]
	c.mu.Unlock()
	if f == nil {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.e.Dirty && f.e.Version != version {
		return false
	}
	for idx := int64(0); idx*BlockSize < f.e.RemoteSize; idx++ {
		if !f.e.has(idx) && f.hotIdx != idx {
			return false
		}
	}
	return true
}

// MarkDirty marks key's content as local changes over remote version
// version (content adopted by another item), so it uploads. All of it
// must be present (see Complete).
func (c *Content) MarkDirty(key, version string) {
	c.mu.Lock()
	f := c.files[key]
	c.mu.Unlock()
	if f == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.e.Dirty = true
	f.e.Gen++
	f.e.Version = version
	f.e.RemoteSize = 0
	f.changed = true
	f.noteDirtyLocked()
	_ = f.syncLocked()
}

// Remove drops key's content. A file still referenced is emptied when
// its last reference goes.
func (c *Content) Remove(key string) error {
	c.mu.Lock()
	f := c.files[key]
	if f == nil {
		c.mu.Unlock()
		return nil
	}
	delete(c.files, key)
	c.mu.Unlock()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.removed = true
	f.c.dirty.Delete(f.key)
	if f.refs > 0 {
		return nil
	}
	return f.destroyLocked()
}

// Rename moves the content of oldKey to newKey, replacing what newKey had.
func (c *Content) Rename(oldKey, newKey string) error {
	if oldKey == newKey {
		return nil
	}
	if err := c.Remove(newKey); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	f := c.files[oldKey]
	if f == nil {
		return nil
	}
	delete(c.files, oldKey)
	c.files[newKey] = f
	f.mu.Lock()
	defer f.mu.Unlock()
	c.dirty.Delete(oldKey)
	f.key = newKey
	f.changed = true
	f.noteDirtyLocked()
	if err := c.store.Update(func(tx *meta.Tx) error {
		return tx.DeleteEntry(oldKey)
	}); err != nil {
		return fmt.Errorf("move cache entry: %w", err)
	}
	return f.syncLocked()
}

// Keys returns every cached key.
func (c *Content) Keys() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.files))
	for k := range c.files {
		out = append(out, k)
	}
	return out
}

// Evict drops least recently used files until the cache fits its bound,
// skipping open, dirty, downloading and pinned files. It returns how many
// files it dropped.
func (c *Content) Evict() int {
	if c.max <= 0 || c.used.Load() <= c.max {
		return 0
	}
	type cand struct {
		f      *File
		access time.Time
	}
	c.mu.Lock()
	var cands []cand
	for _, f := range c.files {
		f.mu.Lock()
		if f.refs == 0 && !f.e.Dirty && len(f.inflight) == 0 && f.e.count() > 0 {
			cands = append(cands, cand{f, f.e.Access})
		}
		f.mu.Unlock()
	}
	c.mu.Unlock()
	sort.Slice(cands, func(i, j int) bool { return cands[i].access.Before(cands[j].access) })
	n := 0
	for _, cd := range cands {
		if c.used.Load() <= c.max {
			break
		}
		if c.pinned(cd.f.key) {
			continue
		}
		c.mu.Lock()
		f := cd.f
		f.mu.Lock()
		if f.refs == 0 && !f.e.Dirty && len(f.inflight) == 0 && !f.removed {
			f.saveHeadLocked()
			f.dropBlocksLocked()
			f.changed = true
			if err := f.syncLocked(); err != nil {
				c.log.Warn("persist evicted cache entry", "err", err)
			}
			n++
		}
		f.mu.Unlock()
		c.mu.Unlock()
	}
	return n
}

// Head returns the cached first bytes of key's content at version.
func (c *Content) Head(key, version string) ([]byte, bool) {
	var sealed []byte
	_ = c.store.View(func(tx *meta.Tx) error {
		sealed = tx.Head(key)
		return nil
	})
	if len(sealed) < 2 {
		return nil, false
	}
	vl := int(binary.BigEndian.Uint16(sealed))
	if len(sealed) < 2+vl || string(sealed[2:2+vl]) != version {
		return nil, false
	}
	plain, err := c.open(sealed[2+vl:], []byte("head:"+key+":"+version))
	if err != nil {
		return nil, false
	}
	return plain, true
}

func (c *Content) putHead(key, version string, data []byte) {
	sealed := make([]byte, 2, 2+len(version)+nonceSize+len(data)+tagSize)
	binary.BigEndian.PutUint16(sealed, uint16(len(version)))
	sealed = append(sealed, version...)
	sealed = append(sealed, c.seal(data, []byte("head:"+key+":"+version))...)
	err := c.store.Update(func(tx *meta.Tx) error {
		return tx.PutHead(key, sealed, maxHeads)
	})
	if err != nil {
		c.log.Warn("save header cache", "err", err)
	}
}

// seal encrypts plain into a new buffer: nonce, ciphertext, tag.
func (c *Content) seal(plain, ad []byte) []byte {
	return c.sealInto(make([]byte, nonceSize, nonceSize+len(plain)+tagSize), plain, ad)
}

// sealSlot encrypts a block for a slot of the given size, into a buffer
// aligned for direct I/O: the result is the whole slot, zero padded, in
// the aligned layout. Give it back with putSlot once written.
func (c *Content) sealSlot(plain, ad []byte, slot int64) []byte {
	sealed := c.sealInto(c.slotBuf(slot)[:nonceSize], plain, ad)
	if slot == alignedSlot {
		return sealed[:slot]
	}
	return sealed
}

func (c *Content) sealInto(out, plain, ad []byte) []byte {
	if _, err := rand.Read(out[:nonceSize]); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err)) // never fails on supported platforms
	}
	return c.aead.Seal(out, out[:nonceSize], plain, ad)
}

func (c *Content) open(sealed, ad []byte) ([]byte, error) {
	if len(sealed) < nonceSize+tagSize {
		return nil, errors.New("sealed block too short")
	}
	return c.aead.Open(nil, sealed[:nonceSize], sealed[nonceSize:], ad)
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

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

// slotBuf returns a buffer for one sealed block, of capacity slot,
// aligned for direct I/O: a recycled one for the aligned layout.
func (c *Content) slotBuf(slot int64) []byte {
	if slot == alignedSlot {
		if b, ok := c.slots.Get().(*[]byte); ok {
			return (*b)[:slot]
		}
	}
	return sealBuf(slot)
}

// putSlot recycles a buffer slotBuf or sealSlot returned; b must not be
// used after.
func (c *Content) putSlot(b []byte) {
	if int64(cap(b)) == alignedSlot {
		b = b[:alignedSlot]
		c.slots.Put(&b)
	}
}

// sealBuf returns a buffer for one sealed block, of capacity slot, aligned
// for direct I/O.
func sealBuf(slot int64) []byte {
	b := make([]byte, slot+ioAlign)
	off := int(ioAlign-uintptr(unsafe.Pointer(unsafe.SliceData(b)))%ioAlign) % ioAlign
	return b[off : off+int(slot) : off+int(slot)]
}

func (f *File) ad(idx int64) []byte {
	ad := make([]byte, len(f.e.ID)+8)
	copy(ad, f.e.ID)
	binary.BigEndian.PutUint64(ad[len(f.e.ID):], uint64(idx))
	return ad
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

// keepFreshLocked keeps a just downloaded block for its first reader,
// unless the cache's bound on such blocks is reached: then the reader
// reads it back from disk, as it would any cached block.
func (f *File) keepFreshLocked(idx int64, plain []byte) bool {
	if f.refs == 0 {
		return false
	}
	if f.c.fresh.Add(BlockSize) > f.c.freshMax {
		f.c.fresh.Add(-BlockSize)
		return false
	}
	if f.fresh == nil {
		f.fresh = map[int64][]byte{}
	}
	f.fresh[idx] = plain
	return true
}

// waitWriteLocked waits for block idx's disk write, if one is under way.
func (f *File) waitWriteLocked(idx int64) {
	if ch, ok := f.pending[idx]; ok {
		<-ch
		delete(f.pending, idx)
	}
}

// waitWritesLocked waits for every disk write under way.
func (f *File) waitWritesLocked() {
	for idx := range f.pending {
		f.waitWriteLocked(idx)
	}
}

func (f *File) forgetFreshLocked(idx int64) {
	if _, ok := f.fresh[idx]; ok {
		delete(f.fresh, idx)
		f.c.fresh.Add(-BlockSize)
	}
}

func (f *File) dropFreshLocked() {
	f.c.fresh.Add(-int64(len(f.fresh)) * BlockSize)
	f.fresh = nil
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

func (f *File) saveHeadLocked() {
	if !f.e.has(0) || f.e.Dirty {
		return
	}
	b, err := f.readBlockLocked(0)
	if err != nil {
		return
	}
	n := min(int64(HeadSize), f.e.Size)
	f.c.putHead(f.key, f.e.Version, b[:n])
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
