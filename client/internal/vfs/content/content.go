// Package content is a drive's encrypted, sparse, size-bounded content
// cache: each cached file's blocks are sealed with AES-GCM in a data file
// under the cache directory, and which blocks are present is a bitmap in
// the file's Entry, which meta stores in the transactions of the records
// it goes with. It also holds local changes until they are uploaded
// (dirty entries), so only clean content is ever dropped (Evict,
// DropClean).
//
// Files by job: content.go (the cache and its index), file.go (one cached
// file: reads, writes, fills, truncation, persistence), crypto.go (block
// sealing and slot buffers), bitmap.go (the presence bit set), fresh.go
// (downloaded blocks kept for their first reader), evict.go (LRU
// eviction), head.go (the header cache), directio_*.go (direct I/O flags)
// and dropclean.go (sign-out).
package content

// Lock order: Content.mu, then File.mu. Sealing and disk I/O for one block
// happen under File.mu; nothing holds File.mu while waiting on a channel.

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mapdrive/mapdrive/client/internal/vfs/meta"
)

// BlockSize is the plaintext size of one cache block, the unit of
// presence, encryption and download.
const BlockSize = 128 << 10

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

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
