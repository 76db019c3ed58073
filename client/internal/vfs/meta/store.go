// Package meta owns a drive's authoritative metadata in bbolt: the item
// records keyed by item key with a children index, the pins, small
// settings (KV) and the journaled queue of pending remote operations. It
// also stores, opaquely, the content cache's entries and header cache, so
// that an entry changes in the same transaction as its record. It knows
// nothing about Graph or about how content is cached.
package meta

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
)

// ErrNotFound is returned when a record, entry or job does not exist.
var ErrNotFound = errors.New("not in store")

var (
	bucketItems    = []byte("items")    // key -> Record JSON
	bucketChildren = []byte("children") // parentKey \x00 name -> key
	bucketRemote   = []byte("remote")   // remote id -> key, where they differ
	bucketKV       = []byte("kv")       // small settings: delta token, ...
	bucketEntries  = []byte("entries")  // key -> content Entry JSON
	bucketJobs     = []byte("jobs")     // key -> Job JSON
	bucketHeads    = []byte("heads")    // key -> sealed header bytes
	bucketPins     = []byte("pins")     // key -> "" (keep offline)
)

// Record is the persisted metadata of one file or folder.
type Record struct {
	// Key identifies the node locally and never changes. It is the remote
	// item id for items that came from the server, "L-<random>" for items
	// created locally.
	Key string `json:"k"`
	// RemoteID is the server's item id, empty until the item exists there.
	RemoteID  string `json:"r,omitempty"`
	ParentKey string `json:"p,omitempty"`
	// Name is the local name; RemoteName the name on the server, which
	// differs while a rename is pending or the file is detached under a
	// local-only name (the editor save-by-rename pattern).
	Name         string    `json:"n"`
	RemoteName   string    `json:"rn,omitempty"`
	IsDir        bool      `json:"d,omitempty"`
	Size         int64     `json:"s,omitempty"`
	ETag         string    `json:"e,omitempty"`
	CTag         string    `json:"c,omitempty"`
	QuickXorHash string    `json:"h,omitempty"`
	ModTime      time.Time `json:"m"`
	// ListedAt is when a folder's children were last listed completely.
	ListedAt time.Time `json:"l,omitzero"`
	// Drive is the drive that holds RemoteID when it is not the mounted
	// one: the item is inside a shortcut's target. "" for the mounted
	// drive.
	Drive string `json:"dr,omitempty"`
	// LinkDrive and LinkID make a folder a shortcut: its children are
	// those of item LinkID in drive LinkDrive. "" for other items.
	LinkDrive string `json:"ld,omitempty"`
	LinkID    string `json:"li,omitempty"`
	// HolderID and HolderName name the user who has the file checked out
	// on the server (Graph's publication.checkedOutBy); "" when published.
	HolderID   string `json:"ho,omitempty"`
	HolderName string `json:"hn,omitempty"`
}

// Foreign reports whether r's children come from a drive other than the
// mounted one (r is a shortcut or inside one's target): the mounted
// drive's delta does not report their changes.
func (r Record) Foreign() bool { return r.Drive != "" || r.LinkID != "" }

// Version is the remote content version the record describes; see
// ContentVersion.
func (r Record) Version() string {
	return ContentVersion(r.Size, r.QuickXorHash, r.CTag, r.ETag)
}

// ContentVersion names a file's remote content version: its size and
// quickXorHash, which every response carries for a file. The cTag is not
// reliable (delta on OneDrive for Business omits it and a rename may
// change it: graph-contract.md, driveItem), and cached content keyed on it
// would be thrown away after every poll. cTag, then eTag, serve only when
// the server gives no hash.
func ContentVersion(size int64, quickXorHash, cTag, eTag string) string {
	switch {
	case quickXorHash != "":
		return "q:" + strconv.FormatInt(size, 10) + ":" + quickXorHash
	case cTag != "":
		return cTag
	}
	return eTag
}

// Store is the bbolt database of one drive. It is safe for concurrent use.
type Store struct {
	db *bolt.DB
}

// OpenStore opens (creating if needed) the store in dir.
func OpenStore(dir string) (*Store, error) {
	path := filepath.Join(dir, "meta.db")
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open metadata store %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketItems, bucketChildren, bucketRemote, bucketKV, bucketEntries, bucketJobs, bucketHeads, bucketPins} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("init metadata store: %w", err)
	}
	return &Store{db: db}, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Path returns the database file's path.
func (s *Store) Path() string { return s.db.Path() }

func childKey(parent, name string) []byte {
	return []byte(parent + "\x00" + name)
}

// Tx is a read-write transaction over the store, used to apply several
// changes atomically (a delta page, a rename).
type Tx struct{ tx *bolt.Tx }

// Update runs fn in one read-write transaction.
func (s *Store) Update(fn func(*Tx) error) error {
	return s.db.Update(func(tx *bolt.Tx) error { return fn(&Tx{tx}) })
}

// View runs fn in one read-only transaction; only the getters may be used.
func (s *Store) View(fn func(*Tx) error) error {
	return s.db.View(func(tx *bolt.Tx) error { return fn(&Tx{tx}) })
}

// Get returns the record with key.
func (t *Tx) Get(key string) (Record, error) {
	v := t.tx.Bucket(bucketItems).Get([]byte(key))
	if v == nil {
		return Record{}, fmt.Errorf("record %s: %w", key, ErrNotFound)
	}
	r, err := decodeRecord(v)
	if err != nil {
		return Record{}, fmt.Errorf("decode record %s: %w", key, err)
	}
	return r, nil
}

// Child returns the child of parent named name.
func (t *Tx) Child(parent, name string) (Record, error) {
	k := t.tx.Bucket(bucketChildren).Get(childKey(parent, name))
	if k == nil {
		return Record{}, fmt.Errorf("child %q of %s: %w", name, parent, ErrNotFound)
	}
	return t.Get(string(k))
}

// Children returns every child of parent, ordered by name.
func (t *Tx) Children(parent string) ([]Record, error) {
	prefix := []byte(parent + "\x00")
	var out []Record
	c := t.tx.Bucket(bucketChildren).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		r, err := t.Get(string(v))
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// KeyForRemote returns the local key of the item with remote id rid.
func (t *Tx) KeyForRemote(rid string) (string, error) {
	if k := t.tx.Bucket(bucketRemote).Get([]byte(rid)); k != nil {
		return string(k), nil
	}
	if t.tx.Bucket(bucketItems).Get([]byte(rid)) != nil {
		return rid, nil
	}
	return "", fmt.Errorf("remote item %s: %w", rid, ErrNotFound)
}

// Put inserts or replaces a record, keeping the children and remote-id
// indexes consistent.
func (t *Tx) Put(r Record) error {
	items := t.tx.Bucket(bucketItems)
	children := t.tx.Bucket(bucketChildren)
	if old, err := t.Get(r.Key); err == nil {
		if old.ParentKey != r.ParentKey || old.Name != r.Name {
			if k := children.Get(childKey(old.ParentKey, old.Name)); string(k) == r.Key {
				if err := children.Delete(childKey(old.ParentKey, old.Name)); err != nil {
					return err
				}
			}
		}
		if old.RemoteID != "" && old.RemoteID != r.RemoteID && old.RemoteID != r.Key {
			if err := t.tx.Bucket(bucketRemote).Delete([]byte(old.RemoteID)); err != nil {
				return err
			}
		}
	}
	if err := items.Put([]byte(r.Key), encodeRecord(r)); err != nil {
		return fmt.Errorf("put record %s: %w", r.Key, err)
	}
	if r.ParentKey != "" || r.Name != "" {
		if err := children.Put(childKey(r.ParentKey, r.Name), []byte(r.Key)); err != nil {
			return fmt.Errorf("index record %s: %w", r.Key, err)
		}
	}
	if r.RemoteID != "" && r.RemoteID != r.Key {
		if err := t.tx.Bucket(bucketRemote).Put([]byte(r.RemoteID), []byte(r.Key)); err != nil {
			return err
		}
	}
	return nil
}

// Delete removes a record and its index entries (not its children).
func (t *Tx) Delete(key string) error {
	r, err := t.Get(key)
	if err != nil {
		return err
	}
	if k := t.tx.Bucket(bucketChildren).Get(childKey(r.ParentKey, r.Name)); string(k) == key {
		if err := t.tx.Bucket(bucketChildren).Delete(childKey(r.ParentKey, r.Name)); err != nil {
			return err
		}
	}
	if r.RemoteID != "" && r.RemoteID != key {
		if err := t.tx.Bucket(bucketRemote).Delete([]byte(r.RemoteID)); err != nil {
			return err
		}
	}
	_ = t.tx.Bucket(bucketPins).Delete([]byte(key))
	return t.tx.Bucket(bucketItems).Delete([]byte(key))
}

// ForEach calls fn for every record.
func (t *Tx) ForEach(fn func(Record) error) error {
	return t.tx.Bucket(bucketItems).ForEach(func(k, v []byte) error {
		r, err := decodeRecord(v)
		if err != nil {
			return fmt.Errorf("decode record %s: %w", k, err)
		}
		return fn(r)
	})
}

// GetKV returns a setting, "" when unset.
func (t *Tx) GetKV(name string) string {
	return string(t.tx.Bucket(bucketKV).Get([]byte(name)))
}

// SetKV stores a setting.
func (t *Tx) SetKV(name, value string) error {
	return t.tx.Bucket(bucketKV).Put([]byte(name), []byte(value))
}

// SetPinned marks or unmarks key as kept offline.
func (t *Tx) SetPinned(key string, pinned bool) error {
	if pinned {
		return t.tx.Bucket(bucketPins).Put([]byte(key), []byte{})
	}
	return t.tx.Bucket(bucketPins).Delete([]byte(key))
}

// Pinned reports whether key itself is marked kept offline.
func (t *Tx) Pinned(key string) bool {
	return t.tx.Bucket(bucketPins).Get([]byte(key)) != nil
}

// Pins returns every pinned key.
func (t *Tx) Pins() []string {
	var out []string
	_ = t.tx.Bucket(bucketPins).ForEach(func(k, _ []byte) error {
		out = append(out, string(k))
		return nil
	})
	return out
}

func getJSON(b *bolt.Bucket, key string, v any) error {
	raw := b.Get([]byte(key))
	if raw == nil {
		return fmt.Errorf("%s: %w", key, ErrNotFound)
	}
	return json.Unmarshal(raw, v)
}

func putJSON(b *bolt.Bucket, key string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put([]byte(key), raw)
}

// recordV1 tags the binary record encoding: a version byte, then the
// string fields as uvarint length + bytes, the size and times as varints
// and the flags. It decodes several times faster than JSON, which
// matters for listings of large folders.
const (
	recordV1 = 1
	// recordV2 adds Drive, LinkDrive and LinkID after QuickXorHash.
	recordV2 = 2
	// recordV3 adds HolderID and HolderName after LinkID.
	recordV3 = 3
)

func encodeRecord(r Record) []byte {
	b := make([]byte, 0, 64+len(r.Key)+len(r.RemoteID)+len(r.ParentKey)+len(r.Name)+len(r.RemoteName)+len(r.ETag)+len(r.CTag)+len(r.QuickXorHash))
	b = append(b, recordV3)
	for _, f := range []string{r.Key, r.RemoteID, r.ParentKey, r.Name, r.RemoteName, r.ETag, r.CTag, r.QuickXorHash, r.Drive, r.LinkDrive, r.LinkID, r.HolderID, r.HolderName} {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	var flags byte
	if r.IsDir {
		flags |= 1
	}
	b = append(b, flags)
	b = binary.AppendVarint(b, r.Size)
	b = binary.AppendVarint(b, timeNanos(r.ModTime))
	b = binary.AppendVarint(b, timeNanos(r.ListedAt))
	return b
}

func timeNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func nanosTime(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

var errCorrupt = errors.New("corrupt record")

func decodeRecord(v []byte) (Record, error) {
	if len(v) > 0 && v[0] == '{' { // written by an earlier version
		var r Record
		err := json.Unmarshal(v, &r)
		return r, err
	}
	if len(v) == 0 || v[0] < recordV1 || v[0] > recordV3 {
		return Record{}, errCorrupt
	}
	nf := [...]int{recordV1: 8, recordV2: 11, recordV3: 13}[v[0]]
	v = v[1:]
	var fields [13]string
	for i := range fields[:nf] {
		n, k := binary.Uvarint(v)
		if k <= 0 || uint64(len(v)-k) < n {
			return Record{}, errCorrupt
		}
		fields[i] = string(v[k : k+int(n)])
		v = v[k+int(n):]
	}
	if len(v) < 1 {
		return Record{}, errCorrupt
	}
	flags := v[0]
	v = v[1:]
	var nums [3]int64
	for i := range nums {
		n, k := binary.Varint(v)
		if k <= 0 {
			return Record{}, errCorrupt
		}
		nums[i] = n
		v = v[k:]
	}
	return Record{Key: fields[0], RemoteID: fields[1], ParentKey: fields[2], Name: fields[3], RemoteName: fields[4],
		ETag: fields[5], CTag: fields[6], QuickXorHash: fields[7], Drive: fields[8], LinkDrive: fields[9], LinkID: fields[10],
		HolderID: fields[11], HolderName: fields[12], IsDir: flags&1 != 0,
		Size: nums[0], ModTime: nanosTime(nums[1]), ListedAt: nanosTime(nums[2])}, nil
}

// PendingJobs counts the jobs journaled in the store in dir without
// opening it for writing; a missing store has none. The store must not be
// open (bbolt locks the file).
func PendingJobs(dir string) (int, error) {
	path := filepath.Join(dir, "meta.db")
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second, ReadOnly: true})
	if err != nil {
		return 0, fmt.Errorf("open metadata store %s: %w", path, err)
	}
	defer db.Close()
	n := 0
	err = db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketJobs); b != nil {
			n = b.Stats().KeyN
		}
		return nil
	})
	return n, err
}
