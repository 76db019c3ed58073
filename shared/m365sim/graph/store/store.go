// Package store keeps the simulated drives' state: driveItem metadata,
// the per-drive change log behind delta, upload sessions and quota
// accounting in a bbolt database, and file content as immutable blob files
// next to it. Nothing holds a whole file in memory.
package store

import (
	"bytes"
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Errors returned by the store.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("an item with that name already exists")
)

var (
	bItems    = []byte("items")    // item id -> Item
	bChildren = []byte("children") // parent id \x00 lower(name) -> item id
	bChanges  = []byte("changes")  // drive id \x00 seq (8 bytes BE) -> item id
	bDrives   = []byte("drives")   // drive id -> Drive
	bSessions = []byte("sessions") // upload session id -> Session
	bMeta     = []byte("meta")     // misc server state
	bInline   = []byte("inline")   // small blob name -> content
)

// Identity names who created or changed an item.
type Identity struct {
	ID          string `json:"id,omitempty"`
	DisplayName string `json:"n,omitempty"`
	Email       string `json:"e,omitempty"`
}

// Item is a driveItem's stored state.
type Item struct {
	ID       string `json:"id"`
	DriveID  string `json:"d"`
	ParentID string `json:"p,omitempty"` // "" for the root
	Name     string `json:"n"`
	Folder   bool   `json:"f,omitempty"`
	// Size is the file's length, or for a folder the total of every live
	// file below it.
	Size     int64  `json:"s,omitempty"`
	MimeType string `json:"m,omitempty"`
	Hash     string `json:"h,omitempty"` // quickXorHash, base64
	Blob     string `json:"b,omitempty"` // content blob name
	// GUID appears in eTag and cTag; ETagVer and CTagVer are their versions.
	GUID       string    `json:"g"`
	ETagVer    int64     `json:"ev"`
	CTagVer    int64     `json:"cv"`
	Created    time.Time `json:"ct"`
	Modified   time.Time `json:"mt"`
	FSCreated  time.Time `json:"fct"`
	FSModified time.Time `json:"fmt"`
	CreatedBy  Identity  `json:"cb"`
	ModifiedBy Identity  `json:"mb"`
	ChildCount int       `json:"cc,omitempty"`
	// ChildVer changes whenever a child is added, removed or changed.
	ChildVer  int64     `json:"chv,omitempty"`
	Seq       uint64    `json:"q"`
	Deleted   bool      `json:"x,omitempty"` // in the recycle bin
	DeletedAt time.Time `json:"xt,omitzero"`
	// Remote makes the item a shortcut ("Add shortcut to My files") to a
	// folder in another drive: neither folder nor file, with no content of
	// its own (graph-contract.md, Delta: "items with remoteItem and no
	// folder facet"). nil for every other item.
	Remote *RemoteRef `json:"rm,omitempty"`
	// CheckedOutBy holds the user who checked the file out (Graph
	// "driveItem: checkout"); nil while it is published.
	CheckedOutBy *Identity `json:"co,omitempty"`
}

// RemoteRef names a shortcut's target.
type RemoteRef struct {
	DriveID string `json:"d"`
	ID      string `json:"id"`
}

// IsRoot reports whether the item is its drive's root folder.
func (it *Item) IsRoot() bool { return it.ParentID == "" }

// Drive is a drive's stored state.
type Drive struct {
	ID      string    `json:"id"`
	RootID  string    `json:"root"`
	Created time.Time `json:"ct"`
	// Seq is the last change sequence number; Epoch invalidates older
	// delta tokens when it moves.
	Seq     uint64 `json:"seq"`
	Epoch   uint64 `json:"epoch"`
	Used    int64  `json:"used"`    // bytes of live and recycled files
	Deleted int64  `json:"deleted"` // bytes in the recycle bin
	Seeded  bool   `json:"seeded"`
	// ResyncInner is the inner code of the 410 that stale tokens get:
	// resyncChangesApplyDifferences ("" too) or
	// resyncChangesUploadDifferences (graph-contract.md, Delta).
	ResyncInner string `json:"resyncInner,omitempty"`
}

// Session is a stored upload session.
type Session struct {
	ID         string    `json:"id"`
	DriveID    string    `json:"d"`
	ParentID   string    `json:"p"`              // base folder of Dirs/Name
	Dirs       []string  `json:"dirs,omitempty"` // folders to create below ParentID
	Name       string    `json:"n"`
	ItemID     string    `json:"it,omitempty"` // set when the session replaces an item addressed by id
	Staged     string    `json:"st"`           // staging file path
	Conflict   string    `json:"c"`            // fail | replace | rename
	Size       int64     `json:"s"`            // declared total, -1 if unknown yet
	Received   int64     `json:"r"`            // contiguous bytes staged
	Defer      bool      `json:"df,omitempty"`
	IfMatch    string    `json:"im,omitempty"`
	Expires    time.Time `json:"exp"`
	User       Identity  `json:"u"`
	FSCreated  time.Time `json:"fct,omitzero"`
	FSModified time.Time `json:"fmt,omitzero"`
}

// Store is the metadata database plus the blob directory. Safe for
// concurrent use; bbolt serializes writers.
type Store struct {
	db   *bolt.DB
	dir  string // blobs live in dir/blobs, staging files in dir/tmp
	blob string
	tmp  string
	dirs sync.Map // blob fan-out directories known to exist
}

// Open opens (creating on first start) the store in dir.
func Open(dir string) (*Store, error) {
	s := &Store{dir: dir, blob: filepath.Join(dir, "blobs"), tmp: filepath.Join(dir, "tmp")}
	for _, d := range []string{dir, s.blob, s.tmp} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("create %s: %w", d, err)
		}
	}
	db, err := bolt.Open(filepath.Join(dir, "meta.db"), 0o600, &bolt.Options{Timeout: 5 * time.Second, NoFreelistSync: true})
	if err != nil {
		return nil, fmt.Errorf("open metadata store: %w", err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bItems, bChildren, bChanges, bDrives, bSessions, bMeta, bInline} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("create buckets: %w", err)
	}
	s.db = db
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Tx is a read or read-write transaction.
type Tx struct {
	tx *bolt.Tx
	s  *Store
}

// View runs fn in a read-only transaction.
func (s *Store) View(fn func(*Tx) error) error {
	return s.db.View(func(tx *bolt.Tx) error { return fn(&Tx{tx, s}) })
}

// Update runs fn in a read-write transaction, committed if fn returns nil.
func (s *Store) Update(fn func(*Tx) error) error {
	return s.db.Update(func(tx *bolt.Tx) error { return fn(&Tx{tx, s}) })
}

// NewItemID returns a fresh item id shaped like OneDrive for Business ids
// (34 upper-case characters starting with "01").
func NewItemID() string {
	var b [20]byte
	rand.Read(b[:])
	return "01" + base32.StdEncoding.EncodeToString(b[:])[:32]
}

// NewGUID returns a random GUID string.
func NewGUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := strings.ToUpper(hex.EncodeToString(b[:]))
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// NewToken returns a random URL-safe token of n bytes of entropy.
func NewToken(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return strings.TrimRight(base32.StdEncoding.EncodeToString(b), "=")
}

func get[T any](b *bolt.Bucket, key string) (*T, error) {
	v := b.Get([]byte(key))
	if v == nil {
		return nil, ErrNotFound
	}
	var out T
	if err := json.Unmarshal(v, &out); err != nil {
		return nil, fmt.Errorf("decode %s: %w", key, err)
	}
	return &out, nil
}

func put(b *bolt.Bucket, key string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put([]byte(key), data)
}

// Drive returns a drive's state.
func (t *Tx) Drive(id string) (*Drive, error) { return get[Drive](t.tx.Bucket(bDrives), id) }

// PutDrive stores a drive's state.
func (t *Tx) PutDrive(d *Drive) error { return put(t.tx.Bucket(bDrives), d.ID, d) }

// Item returns an item, live or deleted.
func (t *Tx) Item(id string) (*Item, error) {
	if id == "" {
		return nil, ErrNotFound
	}
	return get[Item](t.tx.Bucket(bItems), id)
}

func childKey(parentID, name string) []byte {
	return []byte(parentID + "\x00" + strings.ToLower(name))
}

// Child returns the live child of parentID called name (case-insensitive).
func (t *Tx) Child(parentID, name string) (*Item, error) {
	id := t.tx.Bucket(bChildren).Get(childKey(parentID, name))
	if id == nil {
		return nil, ErrNotFound
	}
	return t.Item(string(id))
}

// Children calls fn with each live child of parentID in name order
// (reversed if desc), starting after the child whose sort key is after
// (see SortKey). It stops when fn returns false.
func (t *Tx) Children(parentID, after string, desc bool, fn func(it *Item) bool) error {
	c := t.tx.Bucket(bChildren).Cursor()
	prefix := []byte(parentID + "\x00")
	var k, v []byte
	if !desc {
		if after == "" {
			k, v = c.Seek(prefix)
		} else {
			k, v = c.Seek(append(bytes.Clone(prefix), after...))
			if k != nil && string(k[len(prefix):]) == after {
				k, v = c.Next()
			}
		}
	} else {
		// Seek to the first key past the range, then step back.
		var start []byte
		if after == "" {
			start = append(bytes.Clone(prefix[:len(prefix)-1]), 1)
		} else {
			start = append(bytes.Clone(prefix), after...)
		}
		k, v = c.Seek(start)
		if k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
		if k != nil && after != "" && bytes.HasPrefix(k, prefix) && string(k[len(prefix):]) == after {
			k, v = c.Prev()
		}
	}
	for k != nil && bytes.HasPrefix(k, prefix) {
		it, err := t.Item(string(v))
		if err != nil {
			return fmt.Errorf("child %q of %s: %w", k[len(prefix):], parentID, err)
		}
		if !fn(it) {
			return nil
		}
		if desc {
			k, v = c.Prev()
		} else {
			k, v = c.Next()
		}
	}
	return nil
}

// SortKey is the position of an item among its siblings, for resuming
// Children.
func SortKey(it *Item) string { return strings.ToLower(it.Name) }

func seqKey(driveID string, seq uint64) []byte {
	k := make([]byte, len(driveID)+1+8)
	copy(k, driveID)
	binary.BigEndian.PutUint64(k[len(driveID)+1:], seq)
	return k
}

// Changes calls fn with each item of the drive whose latest change has a
// sequence number above after, in sequence order, until fn returns false.
func (t *Tx) Changes(driveID string, after uint64, fn func(it *Item) bool) error {
	c := t.tx.Bucket(bChanges).Cursor()
	prefix := []byte(driveID + "\x00")
	for k, v := c.Seek(seqKey(driveID, after+1)); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		it, err := t.Item(string(v))
		if err != nil {
			return fmt.Errorf("change %x: %w", k, err)
		}
		if !fn(it) {
			return nil
		}
	}
	return nil
}

// Save stores item it, which replaces prev (nil for a new item). It
// assigns the next change sequence number, maintains the name index (a
// live sibling with the same name gives ErrConflict), the parents' child
// counts, the ancestors' sizes and the drive's quota use. A folder's
// derived fields (Size, ChildCount, ChildVer) are taken from the stored
// record. The caller bumps eTag/cTag versions and stores d afterwards
// (PutDrive).
func (t *Tx) Save(d *Drive, prev, it *Item) error {
	items, children, changes := t.tx.Bucket(bItems), t.tx.Bucket(bChildren), t.tx.Bucket(bChanges)
	if prev != nil {
		// The stored record is the truth: earlier saves in this transaction
		// may have changed a folder's derived fields.
		cur, err := t.Item(prev.ID)
		if err != nil {
			return fmt.Errorf("save %s: %w", prev.ID, err)
		}
		prev = cur
		if it.Folder {
			it.Size, it.ChildCount, it.ChildVer = cur.Size, cur.ChildCount, cur.ChildVer
		}
	}
	prevLive := prev != nil && !prev.Deleted
	live := !it.Deleted
	// Name index.
	if prevLive && !prev.IsRoot() {
		if !live || prev.ParentID != it.ParentID || !strings.EqualFold(prev.Name, it.Name) {
			if err := children.Delete(childKey(prev.ParentID, prev.Name)); err != nil {
				return err
			}
		}
	}
	if live && !it.IsRoot() {
		k := childKey(it.ParentID, it.Name)
		if cur := children.Get(k); cur != nil && string(cur) != it.ID {
			return ErrConflict
		}
		if err := children.Put(k, []byte(it.ID)); err != nil {
			return err
		}
	}
	// Change log.
	if prev != nil && prev.Seq != 0 {
		if err := changes.Delete(seqKey(d.ID, prev.Seq)); err != nil {
			return err
		}
	}
	d.Seq++
	it.Seq = d.Seq
	if err := changes.Put(seqKey(d.ID, it.Seq), []byte(it.ID)); err != nil {
		return err
	}
	if err := put(items, it.ID, it); err != nil {
		return err
	}
	// Parents and ancestors.
	var oldSize, newSize int64
	if prevLive {
		oldSize = prev.Size
	}
	if live {
		newSize = it.Size
	}
	if prevLive && !prev.IsRoot() {
		dc := 0
		if !live || prev.ParentID != it.ParentID {
			dc = -1
		}
		if err := t.adjustAncestors(prev.ParentID, dc, -oldSize); err != nil {
			return err
		}
	}
	if live && !it.IsRoot() {
		dc := 0
		if !prevLive || prev.ParentID != it.ParentID {
			dc = 1
		}
		if err := t.adjustAncestors(it.ParentID, dc, newSize); err != nil {
			return err
		}
	}
	// Quota (files only; folder sizes are derived).
	if !it.Folder {
		var oldLive, oldDel, newLive, newDel int64
		if prev != nil {
			if prev.Deleted {
				oldDel = prev.Size
			} else {
				oldLive = prev.Size
			}
		}
		if it.Deleted {
			newDel = it.Size
		} else {
			newLive = it.Size
		}
		d.Used += newLive - oldLive + newDel - oldDel
		d.Deleted += newDel - oldDel
	}
	return nil
}

// adjustAncestors adds dc to the child count of parentID (bumping its
// ChildVer) and ds to the size of parentID and every folder above it.
func (t *Tx) adjustAncestors(parentID string, dc int, ds int64) error {
	items := t.tx.Bucket(bItems)
	first := true
	for id := parentID; id != ""; {
		p, err := t.Item(id)
		if err != nil {
			return fmt.Errorf("ancestor %s: %w", id, err)
		}
		if first {
			p.ChildCount += dc
			p.ChildVer++
			first = false
		} else if ds == 0 {
			break
		}
		p.Size += ds
		if err := put(items, p.ID, p); err != nil {
			return err
		}
		id = p.ParentID
	}
	return nil
}

// Session returns an upload session.
func (t *Tx) Session(id string) (*Session, error) { return get[Session](t.tx.Bucket(bSessions), id) }

// PutSession stores an upload session.
func (t *Tx) PutSession(s *Session) error { return put(t.tx.Bucket(bSessions), s.ID, s) }

// Sessions calls fn with every stored upload session.
func (t *Tx) Sessions(fn func(s *Session) error) error {
	return t.tx.Bucket(bSessions).ForEach(func(k, v []byte) error {
		var s Session
		if err := json.Unmarshal(v, &s); err != nil {
			return fmt.Errorf("decode session: %w", err)
		}
		return fn(&s)
	})
}

// DeleteSession removes an upload session record.
func (t *Tx) DeleteSession(id string) error { return t.tx.Bucket(bSessions).Delete([]byte(id)) }

// Meta returns a stored server value, or nil.
func (t *Tx) Meta(key string) []byte {
	v := t.tx.Bucket(bMeta).Get([]byte(key))
	return bytes.Clone(v)
}

// PutMeta stores a server value.
func (t *Tx) PutMeta(key string, v []byte) error { return t.tx.Bucket(bMeta).Put([]byte(key), v) }
