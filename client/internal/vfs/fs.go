package vfs

// Lock order: FS.nsMu, then the cache's locks. Remote calls are never made
// while holding nsMu.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"os"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/mapdrive/mapdrive/client/internal/vfs/content"
	"github.com/mapdrive/mapdrive/client/internal/vfs/meta"
	"github.com/mapdrive/mapdrive/client/internal/vfs/writeback"
)

// Defaults for Options.
const (
	DefaultPollInterval = 30 * time.Second
	// DefaultMaxCache caps the default cache size (10% of free disk).
	DefaultMaxCache = 20 << 30
	// SimpleUploadMax is the largest file sent with a simple PUT.
	SimpleUploadMax = 4 << 20
	// FragmentSize is the upload-session fragment size: 32 × 320 KiB.
	FragmentSize = 32 * 320 << 10
)

// Clock is the time source; tests may replace it.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Options configures New.
type Options struct {
	// Remote is the drive. Required.
	Remote Remote
	// DriveID names the drive. It binds what the journal keeps sealed
	// (upload-session URLs) to this drive, so a journal copied into
	// another drive's state does not open there.
	DriveID string
	// StateDir holds the metadata store and upload journal. Required.
	StateDir string
	// CacheDir holds the encrypted content cache. Required.
	CacheDir string
	// CacheMaxBytes bounds the content cache; 0 means 10% of the free
	// space of CacheDir, at most 20 GB.
	CacheMaxBytes int64
	// CacheKey is the AES key (16, 24 or 32 bytes) that encrypts cached
	// content. Required; the agent keeps it in the OS keyring.
	CacheKey []byte
	// PollInterval is how often root/delta is polled; 0 means 30 s,
	// negative disables polling (Refresh still works).
	PollInterval time.Duration
	// FolderTTL is how long a listed folder is answered locally without
	// a successful delta poll; 0 means twice PollInterval.
	FolderTTL time.Duration
	// ReadOnly mounts the drive read-only (a read-only library).
	ReadOnly bool
	// CaseInsensitive looks names up ignoring case, keeping the case they
	// were created with (Windows); otherwise lookups are exact and a name
	// differing from another only in case is refused (Linux, macOS).
	CaseInsensitive bool
	// LibraryPath is the decoded server-relative path of the drive's root
	// ("/sites/Finance/Shared Documents", "/personal/alice_contoso_com/Documents"):
	// SharePoint's MaxPathChars counts it, so it leaves that much less room
	// to paths in the drive. Empty counts as nothing (the limit is then
	// checked on the drive's own paths only, and the server has the last
	// word).
	LibraryPath string
	// RootID, when set, roots the filesystem at that folder of the drive
	// instead of the drive's root (a mapping targeted at a folder): "/"
	// is the folder, nothing above it can be named, and only changes
	// under it apply. LibraryPath then includes the folder's path. The
	// state directory belongs to that folder: New refuses one made for
	// another root.
	RootID string
	// InoSpace, when set, is mixed into every inode number, so drives
	// shown in one mount (a combined drive's libraries) never share one:
	// item ids are unique within a drive only. Empty keeps the numbers a
	// single drive always had.
	InoSpace string
	// Host names this machine in conflict copies.
	Host   string
	Logger *slog.Logger
	Clock  Clock
	// UploadWorkers is the number of concurrent uploads; 0 means 4.
	UploadWorkers int
	// DownloadStreams bounds parallel range requests; 0 means 8.
	DownloadStreams int
	// ReadAhead is the largest read-ahead window; 0 means 32 MiB.
	ReadAhead int64
	// ChunkSize is the size of one range request; 0 means 4 MiB.
	ChunkSize int64
	// ExclusiveEditing checks a file out before it is opened for writing
	// and checks it in after its upload (the mapping's "exclusive
	// editing" option). Without it, the drive does so only for libraries
	// found to require check-out (docs/checkout.md).
	ExclusiveEditing bool
	// WriteBackDelay is how long a closed file waits before its upload
	// starts, so quick successive saves upload once; 0 means 1 s,
	// negative none.
	WriteBackDelay time.Duration
}

// FS is a mounted drive's filesystem model. Its methods take slash
// separated paths relative to the drive root ("/" is the root) and are
// safe for concurrent use.
type FS struct {
	// Immutable after New.
	opt      Options
	remote   Remote
	log      *slog.Logger
	clock    Clock
	store    *meta.Store
	content  *content.Content
	queue    *meta.Queue
	wb       *writeback.Writeback // runs queue's jobs (put); Close stops it
	rootKey  string
	ctx      context.Context // cancelled by Close
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	dl       fetcher       // the downloader
	kickPoll chan struct{} // 1-buffered
	// libraryChars is the length in characters of opt.LibraryPath.
	libraryChars int
	// rootGone is set while a folder root (Options.RootID) is deleted,
	// renamed or moved on the server; see RootProblem.
	rootGone atomic.Pointer[string]

	nsMu sync.Mutex // serializes namespace changes in the store
	// Work that must wait until the store transaction commits (it writes
	// the store itself); guarded by nsMu.
	afterDrops   []string
	afterUploads []string
	// afterAdopt: cached content (key → the version it holds) that becomes
	// a local change to upload; afterMkdirs: folders to create again.
	afterAdopt  map[string]string
	afterMkdirs []string

	pinning   atomic.Bool // a background download of pinned content runs
	pinAgain  atomic.Bool // pins changed: run it once more
	offline   atomic.Bool
	quotaFull atomic.Bool
	lastDelta atomic.Int64 // unix nanos of the last successful delta
	// enumerated reports that a full delta enumeration was applied: from
	// then on delta reports every change, so every known folder's
	// children are known, listed or not.
	enumerated atomic.Bool

	drivesMu sync.Mutex
	drives   map[string]Remote // shortcut target drives by id; guarded by drivesMu

	// own remembers, per remote id, the eTag this mount's last upload of
	// that item produced, so a 412 caused by our own upload is told apart
	// from another writer's change. Bounded; guarded by ownMu.
	ownMu sync.Mutex
	own   map[string]string

	// setTimes holds, per key, a modification time the user set on a
	// file (utimensat) since it was last written: the flush of a copy
	// (cp -p sets the time before it closes) keeps it instead of now.
	// Guarded by nsMu.
	setTimes map[string]time.Time

	ev events
	co checkouts
}

// New opens the drive's state and starts the delta poller and upload
// workers. It needs the network only when the drive was never seen.
func New(ctx context.Context, o Options) (*FS, error) {
	if o.Remote == nil || o.StateDir == "" || o.CacheDir == "" {
		return nil, errors.New("vfs: Remote, StateDir and CacheDir are required")
	}
	if len(o.CacheKey) == 0 {
		return nil, errors.New("vfs: CacheKey is required (cached content is encrypted)")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = realClock{}
	}
	if o.PollInterval == 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.FolderTTL == 0 {
		o.FolderTTL = 2 * o.PollInterval
		if o.FolderTTL <= 0 {
			o.FolderTTL = 2 * DefaultPollInterval
		}
	}
	if o.UploadWorkers <= 0 {
		o.UploadWorkers = 4
	}
	if o.DownloadStreams <= 0 {
		o.DownloadStreams = 8
	}
	if o.ReadAhead <= 0 {
		o.ReadAhead = 32 << 20
	}
	if o.ChunkSize <= 0 {
		o.ChunkSize = 4 << 20
	}
	if o.Host == "" {
		o.Host, _ = os.Hostname()
	}
	for _, d := range []string{o.StateDir, o.CacheDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("create %s: %w", d, err)
		}
	}
	if o.CacheMaxBytes == 0 {
		o.CacheMaxBytes = defaultCacheMax(o.CacheDir)
	}
	store, err := meta.OpenStore(o.StateDir)
	if err != nil {
		return nil, err
	}
	fs := &FS{opt: o, remote: o.Remote, log: o.Logger, clock: o.Clock, store: store,
		kickPoll: make(chan struct{}, 1), libraryChars: utf8.RuneCountInString(strings.TrimRight(o.LibraryPath, "/"))}
	fs.dl = newDownloader(fs, o.DownloadStreams)
	fs.ev.init()
	fs.co.init()
	fs.content, err = content.OpenContent(content.ContentOptions{Dir: o.CacheDir, Store: store, Key: o.CacheKey,
		MaxBytes: o.CacheMaxBytes, Logger: o.Logger, Pinned: fs.isPinned, Now: o.Clock.Now})
	if err != nil {
		store.Close()
		return nil, err
	}
	sealer, err := meta.NewSealer(o.CacheKey, o.DriveID)
	if err != nil {
		store.Close()
		return nil, err
	}
	fs.queue, err = meta.OpenQueue(store, sealer, o.Clock.Now)
	if err != nil {
		store.Close()
		return nil, err
	}
	fs.wb = writeback.New(writeback.Options{Put: fs.put, Workers: o.UploadWorkers, Now: o.Clock.Now, After: o.Clock.After})
	fs.queue.SetScheduler(fs.wb)
	switch {
	case o.WriteBackDelay == 0:
		fs.queue.UploadDelay = time.Second
	case o.WriteBackDelay > 0:
		fs.queue.UploadDelay = o.WriteBackDelay
	}
	if err := fs.initRoot(ctx); err != nil {
		store.Close()
		return nil, err
	}
	_ = fs.store.View(func(tx *meta.Tx) error { fs.enumerated.Store(tx.GetKV(kvDeltaToken) != ""); return nil })
	fs.requeueDirty()
	fs.ctx, fs.cancel = context.WithCancel(context.Background())
	fs.wg.Go(func() { _ = fs.wb.Run(fs.ctx) })
	if o.PollInterval > 0 {
		fs.wg.Go(fs.pollLoop)
	}
	return fs, nil
}

func defaultCacheMax(dir string) int64 {
	free, err := freeBytes(dir)
	if err != nil || free <= 0 {
		return 1 << 30
	}
	return min(free/10, DefaultMaxCache)
}

// KV keys of a folder root (Options.RootID): its name and parent as the
// mount first saw them, to tell a rename or move on the server.
const (
	kvRootName   = "root-name"
	kvRootParent = "root-parent"
)

func (fs *FS) initRoot(ctx context.Context) error {
	var key string
	_ = fs.store.View(func(tx *meta.Tx) error { key = tx.GetKV("root"); return nil })
	if key != "" {
		if fs.opt.RootID != "" && key != fs.opt.RootID {
			return fmt.Errorf("open drive state: it belongs to another root folder (%s, not %s)", key, fs.opt.RootID)
		}
		fs.rootKey = key
		return nil
	}
	var root Item
	var err error
	if fs.opt.RootID != "" {
		root, err = fs.remote.Get(ctx, fs.opt.RootID)
		if err == nil && !root.IsDir {
			err = fmt.Errorf("item %s: %w", root.ID, ErrNotDir)
		}
	} else {
		root, err = fs.remote.Root(ctx)
	}
	if err != nil {
		return fmt.Errorf("get drive root: %w", err)
	}
	fs.rootKey = root.ID
	return fs.store.Update(func(tx *meta.Tx) error {
		if err := tx.Put(meta.Record{Key: root.ID, RemoteID: root.ID, IsDir: true, ETag: root.ETag, ModTime: root.ModTime}); err != nil {
			return err
		}
		if fs.opt.RootID != "" {
			if err := tx.SetKV(kvRootName, root.Name); err != nil {
				return err
			}
			if err := tx.SetKV(kvRootParent, root.ParentID); err != nil {
				return err
			}
		}
		return tx.SetKV("root", root.ID)
	})
}

// requeueDirty journals an upload for local changes that have none (a
// crash between saving content and journaling its upload): a write is
// never lost.
func (fs *FS) requeueDirty() {
	for _, key := range fs.content.Keys() {
		if _, dirty := fs.content.DirtySize(key); !dirty || fs.queue.Pending(key) {
			continue
		}
		if r, err := fs.get(key); err == nil && !r.IsDir && !IsLocalOnly(r.Name) {
			fs.log.Info("re-queuing an upload of local changes", "key", key)
			if err := fs.queue.Add(key, meta.OpUpload, "", ""); err != nil {
				fs.log.Error("journal upload", "key", key, "err", err)
			}
		}
	}
}

// Close stops the background work, persists the cache and closes the
// store. Pending uploads stay journaled and resume on the next New.
func (fs *FS) Close() error {
	fs.cancel()
	fs.wg.Wait()
	fs.ev.close()
	return errors.Join(fs.content.Close(), fs.store.Close())
}

// ReadOnly reports whether the drive is mounted read-only.
func (fs *FS) ReadOnly() bool { return fs.opt.ReadOnly }

// Attr describes a file or folder.
type Attr struct {
	Name    string
	IsDir   bool
	Size    int64
	ModTime time.Time
	// Ino is a stable inode number derived from the item's key.
	Ino uint64
	// Dirty reports whether local changes await upload.
	Dirty bool
}

func (fs *FS) attr(r meta.Record) Attr {
	h := fnv.New64a()
	if fs.opt.InoSpace != "" {
		h.Write([]byte(fs.opt.InoSpace))
		h.Write([]byte{0})
	}
	h.Write([]byte(r.Key))
	a := Attr{Name: r.Name, IsDir: r.IsDir, Size: r.Size, ModTime: r.ModTime, Ino: h.Sum64() | 1}
	if !r.IsDir {
		if size, ok := fs.content.DirtySize(r.Key); ok {
			a.Size, a.Dirty = size, true
		}
	}
	return a
}

func newLocalKey() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "L-" + hex.EncodeToString(b[:])
}

func splitPath(p string) []string {
	p = strings.Trim(path.Clean("/"+p), "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

func (fs *FS) get(key string) (meta.Record, error) {
	var r meta.Record
	err := fs.store.View(func(tx *meta.Tx) error {
		var err error
		r, err = tx.Get(key)
		return err
	})
	if errors.Is(err, meta.ErrNotFound) {
		return r, fmt.Errorf("item %s: %w", key, ErrNotFound)
	}
	return r, err
}

func (fs *FS) child(parentKey, name string) (meta.Record, error) {
	var r meta.Record
	err := fs.store.View(func(tx *meta.Tx) error {
		var err error
		r, err = fs.lookup(tx, parentKey, name)
		return err
	})
	if errors.Is(err, meta.ErrNotFound) {
		return r, ErrNotFound
	}
	return r, err
}

// fresh reports whether folder r's listing may answer without asking the
// server: listed less than FolderTTL ago, or kept current by a delta poll
// since. The mounted drive's delta says nothing about a shortcut's target,
// so a shortcut and the folders inside it count their own listing only:
// what they show is at most FolderTTL old when they are opened.
func (fs *FS) fresh(r meta.Record) bool {
	if r.ListedAt.IsZero() {
		return false
	}
	last := r.ListedAt
	if d := time.Unix(0, fs.lastDelta.Load()); d.After(last) && !r.Foreign() {
		last = d
	}
	return fs.clock.Now().Sub(last) < fs.opt.FolderTTL
}

// childrenKnown reports whether the store knows every child of folder r
// (as of the last listing or delta), so it can answer for r offline.
func (fs *FS) childrenKnown(r meta.Record) bool {
	return r.RemoteID == "" || !r.ListedAt.IsZero() || (fs.enumerated.Load() && !r.Foreign())
}

// ensureListed refreshes a folder's children from the server when its
// listing is stale, unless offline: then the cached listing answers, and
// a folder whose children were never fetched fails with ErrOffline at
// once, rather than after the Graph client's retries of every lookup.
func (fs *FS) ensureListed(ctx context.Context, r meta.Record) error {
	if fs.fresh(r) || r.RemoteID == "" {
		return nil
	}
	if fs.offline.Load() {
		if fs.childrenKnown(r) {
			return nil
		}
		return fmt.Errorf("list children of %s: %w", r.Key, ErrOffline)
	}
	return fs.refreshFolder(ctx, r)
}

// listFailed notes a failed listing of dir that is answered from the
// store anyway (softListErr): offline, a folder whose children were never
// fetched answers empty, and status names it until it is listed.
func (fs *FS) listFailed(dir meta.Record, err error) {
	if errors.Is(err, ErrOffline) && !fs.childrenKnown(dir) {
		fs.ev.unavailable(dir.Key)
		fs.log.Debug("folder never listed: empty while offline", "key", dir.Key)
	}
}

// softListErr reports whether a failed refresh of dir may be ignored and
// the cached listing used: the network failed (rather than the server
// refusing) and there is a listing, or we are offline.
func softListErr(err error, dir meta.Record) bool {
	return errors.Is(err, ErrOffline) || (!definitive(err) && !dir.ListedAt.IsZero())
}

// resolve walks p from the root, listing stale folders on the way.
func (fs *FS) resolve(ctx context.Context, p string) (meta.Record, error) {
	parts := splitPath(p)
	// The common case: every component is known. One read transaction.
	var found meta.Record
	ok := false
	_ = fs.store.View(func(tx *meta.Tx) error {
		cur, err := tx.Get(fs.rootKey)
		for _, name := range parts {
			if err != nil || !cur.IsDir {
				return nil
			}
			cur, err = fs.lookup(tx, cur.Key, name)
		}
		found, ok = cur, err == nil
		return nil
	})
	if ok {
		return found, nil
	}
	cur, err := fs.get(fs.rootKey)
	if err != nil {
		return cur, err
	}
	for _, name := range parts {
		if !cur.IsDir {
			return cur, fmt.Errorf("resolve %s: %w", p, ErrNotDir)
		}
		next, err := fs.child(cur.Key, name)
		if errors.Is(err, ErrNotFound) && !fs.fresh(cur) {
			if lerr := fs.ensureListed(ctx, cur); lerr != nil {
				if !softListErr(lerr, cur) {
					return next, lerr
				}
				fs.listFailed(cur, lerr)
			}
			next, err = fs.child(cur.Key, name)
		}
		if err != nil {
			return next, fmt.Errorf("resolve %s: %w", p, err)
		}
		cur = next
	}
	return cur, nil
}

// Stat returns the attributes of the item at p.
func (fs *FS) Stat(ctx context.Context, p string) (Attr, error) {
	r, err := fs.resolve(ctx, p)
	if err != nil {
		return Attr{}, err
	}
	a := fs.attr(r)
	if r.Key == fs.rootKey {
		a.Name = ""
	}
	return a, nil
}

// ReadDir lists a folder, answering locally while the listing is fresh.
func (fs *FS) ReadDir(ctx context.Context, p string) ([]Attr, error) {
	r, err := fs.resolve(ctx, p)
	if err != nil {
		return nil, err
	}
	if !r.IsDir {
		return nil, fmt.Errorf("list %s: %w", p, ErrNotDir)
	}
	if err := fs.ensureListed(ctx, r); err != nil {
		if !softListErr(err, r) {
			return nil, err
		}
		fs.listFailed(r, err)
	}
	var kids []meta.Record
	err = fs.store.View(func(tx *meta.Tx) error {
		var err error
		kids, err = tx.Children(r.Key)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", p, err)
	}
	out := make([]Attr, 0, len(kids))
	for _, k := range kids {
		out = append(out, fs.attr(k))
	}
	return out, nil
}

// noteErr records the connectivity a remote error implies.
func (fs *FS) noteErr(err error) {
	if errors.Is(err, ErrOffline) {
		if !fs.offline.Swap(true) {
			fs.log.Warn("Microsoft 365 unreachable: working offline")
			fs.ev.emit(Event{Kind: EventOffline, Time: fs.clock.Now()})
		}
	}
}

func (fs *FS) noteOnline() {
	if fs.offline.Swap(false) {
		fs.log.Info("Microsoft 365 reachable again: draining the upload queue")
		fs.ev.emit(Event{Kind: EventOnline, Time: fs.clock.Now()})
		fs.queue.Wake()
	}
}

// refreshFolder lists a folder on the server and reconciles its children,
// keeping local changes that await upload.
func (fs *FS) refreshFolder(ctx context.Context, dir meta.Record) error {
	remote, folderID, drive := fs.listSource(dir)
	var items []Item // what is left to store in the last transaction
	seen := map[string]bool{}
	var err error
	if pl, ok := remote.(pageLister); ok {
		err = fs.storePages(ctx, pl, folderID, dir.Key, drive, seen)
	} else if remote == nil {
		err = fmt.Errorf("drive %s: %w", drive, ErrNotFound)
	} else {
		items, err = remote.List(ctx, folderID)
		for _, it := range items {
			seen[it.ID] = true
		}
	}
	if err != nil && dir.Foreign() && definitive(err) {
		// A shortcut whose target is gone or out of reach: empty, with a
		// status problem, listed again only after FolderTTL.
		fs.shortcutUnreachable(dir, err)
		items, seen, err = nil, map[string]bool{}, nil
	}
	if err != nil {
		fs.noteErr(err)
		return fmt.Errorf("list children of %s: %w", dir.Key, err)
	}
	fs.noteOnline()
	err = fs.updateNS(func(tx *meta.Tx) error {
		kids, err := tx.Children(dir.Key)
		if err != nil {
			return err
		}
		for _, k := range kids {
			if k.RemoteID == "" || seen[k.RemoteID] || fs.localChanges(k.Key) {
				continue
			}
			if err := fs.deleteTreeLocked(tx, k); err != nil {
				return err
			}
		}
		for _, it := range items {
			if err := fs.applyItemLocked(tx, it, dir.Key, drive); err != nil {
				return err
			}
		}
		cur, err := tx.Get(dir.Key)
		if err != nil {
			return err
		}
		cur.ListedAt = fs.clock.Now()
		return tx.Put(cur)
	})
	if err == nil {
		fs.ev.listed(dir.Key)
	}
	return err
}

// pageLister is a Remote that hands a folder's children over page by page
// (graph.Remote): refreshFolder stores each page while the server makes
// the next, instead of storing all of them after the last arrives.
type pageLister interface {
	ListPages(ctx context.Context, folderID string, page func([]Item) error) error
}

// storePages lists folderID through pl and stores each page in its own
// transaction as the next is fetched, noting every id in seen. The caller
// removes the children the listing did not name, once it is complete.
func (fs *FS) storePages(ctx context.Context, pl pageLister, folderID, dirKey, drive string, seen map[string]bool) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pages := make(chan []Item, 1)
	listed := make(chan error, 1)
	go func() {
		defer close(pages)
		listed <- pl.ListPages(ctx, folderID, func(items []Item) error {
			select {
			case pages <- items:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	var stored error
	for items := range pages {
		if stored != nil {
			continue // the lister stops at its next page
		}
		for _, it := range items {
			seen[it.ID] = true
		}
		stored = fs.updateNS(func(tx *meta.Tx) error {
			for _, it := range items {
				if err := fs.applyItemLocked(tx, it, dirKey, drive); err != nil {
					return err
				}
			}
			return nil
		})
		if stored != nil {
			cancel()
		}
	}
	if err := <-listed; stored == nil {
		return err
	}
	return stored
}

// localChanges reports whether key has work queued or dirty content, so
// server state must not overwrite it.
func (fs *FS) localChanges(key string) bool {
	if fs.queue.Pending(key) {
		return true
	}
	_, dirty := fs.content.DirtySize(key)
	return dirty
}

// applyItemLocked upserts a remote item of drive (the mounted one when "")
// under parentKey.
func (fs *FS) applyItemLocked(tx *meta.Tx, it Item, parentKey, drive string) error {
	key, err := tx.KeyForRemote(it.ID)
	var cur meta.Record
	exists := err == nil
	if exists {
		cur, err = tx.Get(key)
		if err != nil {
			return err
		}
		if fs.localChanges(key) {
			return nil
		}
	} else {
		key = it.ID
		cur = meta.Record{Key: key}
	}
	name := it.Name
	if exists && cur.Name != cur.RemoteName && cur.RemoteName == it.Name && IsLocalOnly(cur.Name) {
		name = cur.Name // detached under an editor's temp name
	}
	if other, err := tx.Child(parentKey, name); err == nil && other.Key != key {
		if other.RemoteID == "" || fs.localChanges(other.Key) {
			return nil // a local item of that name wins until it uploads
		}
		if err := fs.deleteTreeLocked(tx, other); err != nil {
			return err
		}
	}
	cur.RemoteID, cur.ParentKey, cur.Name, cur.RemoteName, cur.Drive = it.ID, parentKey, name, it.Name, drive
	cur.LinkDrive, cur.LinkID = it.Shortcut.DriveID, it.Shortcut.ID
	setItemMeta(&cur, it)
	return tx.Put(cur)
}

// setItemMeta copies it's metadata (not its place) into r.
func setItemMeta(r *meta.Record, it Item) {
	ctag := it.CTag
	if ctag == "" && !it.IsDir && r.Size == it.Size && r.QuickXorHash == it.QuickXorHash {
		// Delta on OneDrive for Business omits cTag: keep the one a
		// listing gave for this same content.
		ctag = r.CTag
	}
	r.IsDir, r.Size, r.ETag, r.CTag, r.QuickXorHash, r.ModTime = it.IsDir, it.Size, it.ETag, ctag, it.QuickXorHash, it.ModTime
	r.HolderID, r.HolderName = it.CheckedOutBy.ID, it.CheckedOutBy.Name
}

// updateNS runs fn in a store transaction under nsMu, then removes the
// content and queues the uploads fn asked for.
func (fs *FS) updateNS(fn func(tx *meta.Tx) error) error {
	fs.nsMu.Lock()
	defer fs.nsMu.Unlock()
	err := fs.store.Update(fn)
	drops, ups, adopt, mkdirs := fs.afterDrops, fs.afterUploads, fs.afterAdopt, fs.afterMkdirs
	fs.afterDrops, fs.afterUploads, fs.afterAdopt, fs.afterMkdirs = nil, nil, nil, nil
	if err != nil {
		return err
	}
	for _, k := range drops {
		// A deleted item's upload (a file in a deleted folder too) stops
		// now; its job, run again, finds the item gone.
		fs.queue.Restart(k)
		if err := fs.content.Remove(k); err != nil {
			fs.log.Warn("remove cached content", "key", k, "err", err)
		}
	}
	for k, version := range adopt {
		fs.content.MarkDirty(k, version)
	}
	for _, k := range mkdirs {
		if err := fs.queue.Add(k, meta.OpMkdir, "", ""); err != nil {
			return err
		}
	}
	for _, k := range ups {
		if err := fs.queue.Add(k, meta.OpUpload, "", ""); err != nil {
			return err
		}
	}
	return nil
}

// deleteTreeLocked removes a record, its descendants and (after the
// transaction) their content. It must run inside updateNS.
func (fs *FS) deleteTreeLocked(tx *meta.Tx, r meta.Record) error {
	if r.IsDir {
		kids, err := tx.Children(r.Key)
		if err != nil {
			return err
		}
		for _, k := range kids {
			if err := fs.deleteTreeLocked(tx, k); err != nil {
				return err
			}
		}
	}
	fs.afterDrops = append(fs.afterDrops, r.Key)
	return tx.Delete(r.Key)
}

// pathOf returns the drive path of key, for status and events.
func (fs *FS) pathOf(key string) string {
	var p string
	_ = fs.store.View(func(tx *meta.Tx) error { p = fs.pathOfLocked(tx, key); return nil })
	return p
}

// pathOfLocked is pathOf inside a store transaction.
func (fs *FS) pathOfLocked(tx *meta.Tx, key string) string {
	var parts []string
	for key != "" && key != fs.rootKey && len(parts) < 256 {
		r, err := tx.Get(key)
		if err != nil {
			break
		}
		parts = append(parts, r.Name)
		key = r.ParentKey
	}
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	return "/" + strings.Join(parts, "/")
}

// isPinned reports whether key or one of its folders is kept offline.
func (fs *FS) isPinned(key string) bool {
	pinned := false
	_ = fs.store.View(func(tx *meta.Tx) error {
		for i := 0; key != "" && i < 256; i++ {
			if tx.Pinned(key) {
				pinned = true
				return nil
			}
			r, err := tx.Get(key)
			if err != nil {
				return nil
			}
			key = r.ParentKey
		}
		return nil
	})
	return pinned
}
