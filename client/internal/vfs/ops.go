package vfs

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mapdrive/mapdrive/client/internal/vfs/content"
	"github.com/mapdrive/mapdrive/client/internal/vfs/meta"
)

// definitive reports whether a remote error is the server's answer to
// the request (so the operation fails), rather than a failure to get one
// (so the operation is queued and retried).
func definitive(err error) bool {
	for _, s := range []error{ErrNotFound, ErrExist, ErrNotEmpty, ErrNotDir, ErrIsDir, ErrAccessDenied,
		ErrReadOnly, ErrPreconditionFailed, ErrQuotaExceeded, ErrInvalidName, ErrNameTooLong} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// checkWritable refuses to change p on a read-only mount, or inside a
// shortcut (see checkShortcutWrite).
func (fs *FS) checkWritable(op, p string) error {
	if fs.opt.ReadOnly {
		return fmt.Errorf("%s %s: %w", op, p, ErrReadOnly)
	}
	return fs.checkShortcutWrite(op, p)
}

// checkName refuses, before anything is created or queued, a new name p
// that the server would refuse: a file that can only fail never enters
// the upload queue. Every name is held to MaxNameBytes, the NAME_MAX the
// mount advertises; names that stay local (IsLocalOnly) skip SharePoint's
// own rules. A refusal is reported as an EventRefused naming the path.
func (fs *FS) checkName(op, p string) error {
	name := path.Base(path.Clean("/" + p))
	var err error
	if IsLocalOnly(name) {
		if len(name) > MaxNameBytes {
			err = fmt.Errorf("%w: name longer than %d bytes", ErrNameTooLong, MaxNameBytes)
		}
	} else {
		err = ValidatePath(p, fs.libraryChars)
	}
	if err == nil {
		return nil
	}
	fs.log.Warn("refused a name SharePoint does not accept", "op", op, "err", err)
	fs.log.Debug("refused name", "path", p)
	fs.ev.emit(Event{Kind: EventRefused, Path: p, Err: err.Error(), Time: fs.clock.Now()})
	return fmt.Errorf("%s %s: %w", op, p, err)
}

// checkRootFolder refuses a folder named "forms" (any case) directly
// under the drive's root, which is the library's root: SharePoint keeps
// each library's hidden Forms folder there, and Microsoft's restrictions
// page says "'forms' isn't supported when the folder is at the root level
// for a library". Files of that name, and such folders further down, are
// fine.
func (fs *FS) checkRootFolder(op, p string) error {
	dir, name := path.Split(path.Clean("/" + p))
	if dir != "/" || !strings.EqualFold(name, "forms") {
		return nil
	}
	err := fmt.Errorf("%w: a folder named %q cannot be at the top of a SharePoint library (its hidden Forms folder is there)", ErrInvalidName, name)
	fs.log.Warn("refused a name SharePoint does not accept", "op", op, "err", "forms folder at the library root")
	fs.ev.emit(Event{Kind: EventRefused, Path: p, Err: err.Error(), Time: fs.clock.Now()})
	return fmt.Errorf("%s %s: %w", op, p, err)
}

// Mkdir creates a folder. Online it is created on the server at once;
// offline (or under a folder not yet created there) it is queued.
func (fs *FS) Mkdir(ctx context.Context, p string) error {
	if err := fs.checkWritable("mkdir", p); err != nil {
		return err
	}
	if err := fs.checkName("mkdir", p); err != nil {
		return err
	}
	if err := fs.checkRootFolder("mkdir", p); err != nil {
		return err
	}
	dir, name := path.Split(path.Clean("/" + p))
	parent, err := fs.resolve(ctx, dir)
	if err != nil {
		return err
	}
	if !parent.IsDir {
		return fmt.Errorf("mkdir %s: %w", p, ErrNotDir)
	}
	if _, err := fs.child(parent.Key, name); err == nil || fs.caseTwin(parent.Key, name, "") {
		return fmt.Errorf("mkdir %s: %w", p, ErrExist)
	}
	now := fs.clock.Now()
	if parent.RemoteID != "" && !fs.offline.Load() {
		it, err := fs.remote.Mkdir(ctx, parent.RemoteID, name)
		if err == nil {
			fs.noteOnline()
			fs.nsMu.Lock()
			defer fs.nsMu.Unlock()
			return fs.store.Update(func(tx *meta.Tx) error {
				rec := meta.Record{Key: it.ID, RemoteID: it.ID, ParentKey: parent.Key, Name: it.Name, RemoteName: it.Name,
					IsDir: true, ETag: it.ETag, ModTime: it.ModTime, ListedAt: now}
				return tx.Put(rec)
			})
		}
		fs.noteErr(err)
		if definitive(err) {
			return fmt.Errorf("mkdir %s: %w", p, err)
		}
	}
	rec := meta.Record{Key: newLocalKey(), ParentKey: parent.Key, Name: name, IsDir: true, ModTime: now, ListedAt: now}
	fs.nsMu.Lock()
	err = fs.store.Update(func(tx *meta.Tx) error { return tx.Put(rec) })
	fs.nsMu.Unlock()
	if err != nil {
		return fmt.Errorf("mkdir %s: %w", p, err)
	}
	return fs.queue.Add(rec.Key, meta.OpMkdir, "", "")
}

// Remove deletes a file.
func (fs *FS) Remove(ctx context.Context, p string) error {
	return fs.remove(ctx, p, false)
}

// Rmdir deletes an empty folder.
func (fs *FS) Rmdir(ctx context.Context, p string) error {
	return fs.remove(ctx, p, true)
}

func (fs *FS) remove(ctx context.Context, p string, dir bool) error {
	if err := fs.checkWritable("remove", p); err != nil {
		return err
	}
	r, err := fs.resolve(ctx, p)
	if err != nil {
		return err
	}
	if r.Key == fs.rootKey {
		return fmt.Errorf("remove %s: %w", p, ErrAccessDenied)
	}
	if dir && !r.IsDir {
		return fmt.Errorf("rmdir %s: %w", p, ErrNotDir)
	}
	if !dir && r.IsDir {
		return fmt.Errorf("remove %s: %w", p, ErrIsDir)
	}
	if dir && r.LinkID == "" { // a shortcut goes without its target's content
		if err := fs.ensureListed(ctx, r); err != nil {
			if !errors.Is(err, ErrOffline) {
				return err
			}
			if !fs.childrenKnown(r) {
				// Never listed: it may hold files on the server, and a
				// folder's delete takes its contents along.
				fs.listFailed(r, err)
				return fmt.Errorf("rmdir %s: contents unknown offline: %w", p, err)
			}
		}
		var kids []meta.Record
		_ = fs.store.View(func(tx *meta.Tx) error { kids, err = tx.Children(r.Key); return err })
		if len(kids) > 0 {
			return fmt.Errorf("rmdir %s: %w", p, ErrNotEmpty)
		}
	}
	// Delete locally first and take the remote id the record has at that
	// moment: an upload finishing concurrently either recorded its id
	// before (and it is deleted here) or finds the record gone (and
	// deletes what it created).
	err = fs.updateNS(func(tx *meta.Tx) error {
		cur, err := tx.Get(r.Key)
		if err != nil {
			return err
		}
		r = cur
		return fs.deleteTreeLocked(tx, cur)
	})
	if err != nil {
		return fmt.Errorf("remove %s: %w", p, err)
	}
	fs.log.Debug("removed", "key", r.Key, "id", r.RemoteID)
	if err := fs.deleteRemote(ctx, r, p); err != nil {
		return fmt.Errorf("remove %s: %w", p, err)
	}
	return nil
}

// deleteRemote deletes r's server copy now, or queues it when offline.
// Either way the delete carries r's eTag: when someone else changed the
// item meanwhile, it stays on the server and shows again here
// (keepChanged), and deleteRemote returns ErrPreconditionFailed. p is r's
// path, for status.
func (fs *FS) deleteRemote(ctx context.Context, r meta.Record, p string) error {
	if err := fs.queue.Drop(r.Key); err != nil {
		return err
	}
	if r.RemoteID == "" {
		return nil
	}
	if !fs.offline.Load() {
		err := fs.remote.Delete(ctx, r.RemoteID, r.ETag)
		switch {
		case err == nil || errors.Is(err, ErrNotFound):
			fs.noteOnline()
			return nil
		case errors.Is(err, ErrPreconditionFailed):
			fs.noteOnline()
			if fs.deleteOverOwnUpload(ctx, r.RemoteID) {
				return nil
			}
			fs.keepChanged(ctx, r.RemoteID, p)
			return err
		}
		fs.noteErr(err)
		if definitive(err) {
			return err
		}
	}
	return fs.queue.Add(r.Key, meta.OpDelete, r.RemoteID, r.ETag)
}

// Rename moves oldp to newp, replacing a file at newp. Renaming a freshly
// written file over an existing one (the editors' save pattern) updates
// the existing item, which keeps its id and version history.
func (fs *FS) Rename(ctx context.Context, oldp, newp string) error {
	err := fs.rename(ctx, oldp, newp)
	if errors.Is(err, ErrExist) {
		// The server has that name and the local listing did not know:
		// list again, then rename over it like over any existing file.
		dir, _ := path.Split(path.Clean("/" + newp))
		if parent, perr := fs.resolve(ctx, dir); perr == nil && parent.RemoteID != "" {
			if fs.refreshFolder(ctx, parent) == nil {
				err = fs.rename(ctx, oldp, newp)
			}
		}
	}
	return err
}

func (fs *FS) rename(ctx context.Context, oldp, newp string) error {
	if err := fs.checkWritable("rename", oldp); err != nil {
		return err
	}
	if err := fs.checkShortcutWrite("rename", newp); err != nil {
		return err
	}
	if err := fs.checkName("rename", newp); err != nil {
		return err
	}
	src, err := fs.resolve(ctx, oldp)
	if err != nil {
		return err
	}
	if src.Key == fs.rootKey {
		return fmt.Errorf("rename %s: %w", oldp, ErrAccessDenied)
	}
	dir, name := path.Split(path.Clean("/" + newp))
	parent, err := fs.resolve(ctx, dir)
	if err != nil {
		return err
	}
	if !parent.IsDir {
		return fmt.Errorf("rename to %s: %w", newp, ErrNotDir)
	}
	if src.IsDir {
		if err := fs.checkRootFolder("rename", newp); err != nil {
			return err
		}
	}
	for k := parent; k.Key != fs.rootKey && src.IsDir; {
		if k.Key == src.Key {
			return fmt.Errorf("rename %s into itself: %w", oldp, ErrIntoItself)
		}
		if k, err = fs.get(k.ParentKey); err != nil {
			break
		}
	}
	if src.IsDir && !IsLocalOnly(name) {
		if err := fs.checkDeepest(src, newp); err != nil {
			return err
		}
	}
	if dst, err := fs.child(parent.Key, name); err == nil {
		if dst.Key == src.Key {
			if dst.Name == name {
				return nil
			}
			// A case-insensitive lookup found src itself: a change of
			// case only ("a.txt" to "A.txt"), which SharePoint renames.
			return fs.move(ctx, src, parent, name)
		}
		switch {
		case dst.IsDir && !src.IsDir:
			return fmt.Errorf("rename to %s: %w", newp, ErrIsDir)
		case !dst.IsDir && src.IsDir:
			return fmt.Errorf("rename to %s: %w", newp, ErrNotDir)
		case dst.IsDir:
			var kids []meta.Record
			_ = fs.store.View(func(tx *meta.Tx) error { kids, err = tx.Children(dst.Key); return err })
			if len(kids) > 0 {
				return fmt.Errorf("rename to %s: %w", newp, ErrNotEmpty)
			}
		case dst.RemoteID != "" && fs.hasLocalContent(src):
			return fs.adopt(src, dst, dst.Name, false)
		}
		if err := fs.deleteRemote(ctx, dst, newp); err != nil {
			return fmt.Errorf("rename over %s: %w", newp, err)
		}
		err = fs.updateNS(func(tx *meta.Tx) error { return fs.deleteTreeLocked(tx, dst) })
		if err != nil {
			return err
		}
	} else if fs.caseTwin(parent.Key, name, src.Key) {
		return fmt.Errorf("rename to %s: %w", newp, ErrExist)
	} else if !src.IsDir && !IsLocalOnly(name) && fs.hasLocalContent(src) {
		// Word's pattern: the original was renamed to a temp name first.
		if det, ok := fs.detached(parent.Key, name); ok && det.Key != src.Key {
			return fs.adopt(src, det, name, true)
		}
	}
	return fs.move(ctx, src, parent, name)
}

// checkDeepest refuses to move folder src to newp when an item below it,
// as far as it is known here, would then pass MaxPathChars: the server
// would refuse the move (pathIsTooLong), and offline it could only fail
// later.
func (fs *FS) checkDeepest(src meta.Record, newp string) error {
	var deepest func(tx *meta.Tx, key string) (int, error)
	deepest = func(tx *meta.Tx, key string) (int, error) {
		kids, err := tx.Children(key)
		longest := 0
		for _, k := range kids {
			below := 0
			if k.IsDir {
				if below, err = deepest(tx, k.Key); err != nil {
					return 0, err
				}
			}
			longest = max(longest, 1+utf8.RuneCountInString(k.Name)+below)
		}
		return longest, err
	}
	var below int
	if err := fs.store.View(func(tx *meta.Tx) (err error) { below, err = deepest(tx, src.Key); return err }); err != nil {
		return fmt.Errorf("rename to %s: %w", newp, err)
	}
	if n := fs.libraryChars + utf8.RuneCountInString("/"+strings.TrimPrefix(newp, "/")) + below; n > MaxPathChars {
		err := fmt.Errorf("%w: an item below would have a path of %d characters, SharePoint keeps at most %d", ErrNameTooLong, n, MaxPathChars)
		fs.ev.emit(Event{Kind: EventRefused, Path: newp, Err: err.Error(), Time: fs.clock.Now()})
		return fmt.Errorf("rename to %s: %w", newp, err)
	}
	return nil
}

// caseTwin reports whether folder parentKey has another item (not
// except) whose name differs from name only in case: SharePoint names
// are case-insensitive, so both would be one item on the server.
func (fs *FS) caseTwin(parentKey, name, except string) bool {
	if IsLocalOnly(name) {
		return false
	}
	twin := false
	_ = fs.store.View(func(tx *meta.Tx) error {
		kids, err := tx.Children(parentKey)
		for _, k := range kids {
			if k.Key != except && k.Name != name && strings.EqualFold(k.Name, name) {
				twin = true
			}
		}
		return err
	})
	return twin
}

// hasLocalContent reports whether src's whole content is here (new,
// modified, or fully cached), so renaming it over another item can update
// that item instead of replacing it.
func (fs *FS) hasLocalContent(src meta.Record) bool {
	if src.IsDir {
		return false
	}
	if src.RemoteID == "" {
		return true
	}
	return fs.content.Complete(src.Key, src.Version())
}

// detached finds an item of folder parent whose server name is name
// while it is locally renamed to an editor temp name.
func (fs *FS) detached(parentKey, name string) (meta.Record, bool) {
	var found meta.Record
	ok := false
	_ = fs.store.View(func(tx *meta.Tx) error {
		kids, err := tx.Children(parentKey)
		for _, k := range kids {
			if k.RemoteID != "" && k.RemoteName == name && k.Name != name && IsLocalOnly(k.Name) {
				found, ok = k, true
			}
		}
		return err
	})
	return found, ok
}

// adopt moves src's content into dst, which keeps its id and takes name,
// and drops src. With keepOld (dst is detached under an editor temp name),
// dst's old content stays behind under that temp name as a local file.
func (fs *FS) adopt(src, dst meta.Record, name string, keepOld bool) error {
	fs.log.Debug("save-by-rename: updating the existing item", "key", dst.Key)
	if err := fs.queue.Drop(src.Key); err != nil {
		return err
	}
	oldKey := newLocalKey()
	if keepOld {
		if err := fs.content.Rename(dst.Key, oldKey); err != nil {
			return fmt.Errorf("keep old content: %w", err)
		}
	}
	if err := fs.content.Rename(src.Key, dst.Key); err != nil {
		return fmt.Errorf("adopt content: %w", err)
	}
	fs.content.MarkDirty(dst.Key, dst.Version())
	fs.nsMu.Lock()
	err := fs.store.Update(func(tx *meta.Tx) error {
		if err := tx.Delete(src.Key); err != nil {
			return err
		}
		d, err := tx.Get(dst.Key)
		if err != nil {
			return err
		}
		tempName := d.Name
		d.Name, d.ModTime = name, fs.clock.Now()
		if err := tx.Put(d); err != nil {
			return err
		}
		if keepOld {
			return tx.Put(meta.Record{Key: oldKey, ParentKey: d.ParentKey, Name: tempName, Size: d.Size, ModTime: d.ModTime})
		}
		return nil
	})
	fs.nsMu.Unlock()
	if err != nil {
		return fmt.Errorf("adopt: %w", err)
	}
	if src.RemoteID != "" {
		if err := fs.queue.Add(src.Key, meta.OpDelete, src.RemoteID, src.ETag); err != nil {
			return err
		}
	}
	ops := meta.OpUpload
	if dst.RemoteName != name {
		ops |= meta.OpMove
	}
	return fs.queue.Add(dst.Key, ops, "", "")
}

// move renames src into parent as name.
func (fs *FS) move(ctx context.Context, src, parent meta.Record, name string) error {
	remoteNow := "" // the record's remote id when it was moved here
	update := func(it *Item) error {
		fs.nsMu.Lock()
		defer fs.nsMu.Unlock()
		err := fs.store.Update(func(tx *meta.Tx) error {
			r, err := tx.Get(src.Key)
			if err != nil {
				return err
			}
			remoteNow = r.RemoteID
			r.ParentKey, r.Name = parent.Key, name
			if it != nil {
				fs.recordMoved(&r, *it)
			}
			return tx.Put(r)
		})
		if err == nil && !src.IsDir {
			// An upload under way goes to the old name and parent: it
			// stops now, and the job runs again for the new ones (once
			// the record has them).
			fs.queue.Restart(src.Key)
		}
		return err
	}
	detach := IsLocalOnly(name) && !IsLocalOnly(src.RemoteName) && parent.Key == src.ParentKey && !src.IsDir
	switch {
	case src.RemoteID == "" || detach:
		// Not on the server (or hidden under an editor temp name): local only.
		if err := update(nil); err != nil {
			return err
		}
		if src.RemoteID == "" && !src.IsDir && IsLocalOnly(src.Name) && !IsLocalOnly(name) {
			return fs.enqueueUpload(src.Key)
		}
		if !detach && !IsLocalOnly(name) && (remoteNow != "" || fs.queue.Pending(src.Key)) {
			// Its upload (or mkdir) was under way, or finished meanwhile:
			// that creates it under the old name, so the move follows.
			return fs.queue.Add(src.Key, meta.OpMove, "", "")
		}
		return nil
	case IsLocalOnly(name):
		// A synced item moved under a local-only name elsewhere: it leaves
		// the server.
		if err := fs.deleteRemote(ctx, src, fs.pathOf(src.Key)); err != nil {
			return err
		}
		fs.nsMu.Lock()
		defer fs.nsMu.Unlock()
		return fs.store.Update(func(tx *meta.Tx) error {
			r, err := tx.Get(src.Key)
			if err != nil {
				return err
			}
			r.RemoteID, r.RemoteName, r.ParentKey, r.Name = "", "", parent.Key, name
			return tx.Put(r)
		})
	case parent.RemoteID != "" && !fs.offline.Load() && !fs.queue.Pending(src.Key):
		it, err := fs.moveOnServer(ctx, src.RemoteID, parent.RemoteID, name, src.ETag)
		if err == nil {
			fs.noteOnline()
			return update(&it)
		}
		fs.noteErr(err)
		if definitive(err) {
			return fmt.Errorf("rename: %w", err)
		}
	}
	if err := update(nil); err != nil {
		return err
	}
	return fs.queue.Add(src.Key, meta.OpMove, "", "")
}

// Truncate sets the size of the file at p.
func (fs *FS) Truncate(ctx context.Context, p string, size int64) error {
	h, err := fs.Open(ctx, p, OpenFlags{Write: true})
	if err != nil {
		return err
	}
	if h.IsDir() {
		return fmt.Errorf("truncate %s: %w", p, ErrIsDir)
	}
	terr := h.Truncate(ctx, size)
	return errors.Join(terr, h.Release(ctx))
}

// SetModTime sets p's modification time. It is journaled and sent to
// the item's fileSystemInfo (OpTouch), after the upload of any content
// written before it; a flush that follows (cp -p sets the time before it
// closes the copy) keeps it.
func (fs *FS) SetModTime(ctx context.Context, p string, t time.Time) error {
	if err := fs.checkWritable("set time of", p); err != nil {
		return err
	}
	r, err := fs.resolve(ctx, p)
	if err != nil {
		return err
	}
	if r.Key == fs.rootKey {
		return nil // the drive's root keeps the server's times
	}
	fs.nsMu.Lock()
	defer fs.nsMu.Unlock()
	if fs.setTimes == nil || len(fs.setTimes) >= maxOwn {
		fs.setTimes = map[string]time.Time{}
	}
	fs.setTimes[r.Key] = t
	err = fs.store.Update(func(tx *meta.Tx) error {
		cur, err := tx.Get(r.Key)
		if err != nil {
			return err
		}
		cur.ModTime = t
		return tx.Put(cur)
	})
	if err != nil {
		return fmt.Errorf("set time of %s: %w", p, err)
	}
	// Queued once the time is stored: a worker starts the job at once
	// and reads the record. (A crash between the two loses only the
	// sending of the time, never content.)
	if !IsLocalOnly(r.Name) {
		if err := fs.queue.Add(r.Key, meta.OpTouch, "", ""); err != nil {
			return fmt.Errorf("journal the time of %s: %w", p, err)
		}
	}
	return nil
}

// userSetTime returns the time the user set on key since it was last
// written, if any.
func (fs *FS) userSetTime(key string) (time.Time, bool) {
	fs.nsMu.Lock()
	defer fs.nsMu.Unlock()
	t, ok := fs.setTimes[key]
	return t, ok
}

// forgetSetTime drops a time the user set on key: the file was written
// since, so its next flush takes the current time.
func (fs *FS) forgetSetTime(key string) {
	fs.nsMu.Lock()
	defer fs.nsMu.Unlock()
	delete(fs.setTimes, key)
}

// Pin marks p (a file or folder, recursively) as kept offline, or
// unmarks it. Pinned content is downloaded and never evicted.
func (fs *FS) Pin(ctx context.Context, p string, pinned bool) error {
	r, err := fs.resolve(ctx, p)
	if err != nil {
		return err
	}
	if err := fs.store.Update(func(tx *meta.Tx) error { return tx.SetPinned(r.Key, pinned) }); err != nil {
		return fmt.Errorf("pin %s: %w", p, err)
	}
	if pinned {
		fs.syncPins()
	}
	return nil
}

// Prefetch downloads everything under p now (what a pin does in the
// background).
func (fs *FS) Prefetch(ctx context.Context, p string) error {
	r, err := fs.resolve(ctx, p)
	if err != nil {
		return err
	}
	return fs.prefetch(ctx, r, 0)
}

// syncPins downloads pinned content in the background, unless that is
// already running (then it runs once more afterwards).
func (fs *FS) syncPins() {
	fs.pinAgain.Store(true)
	if !fs.pinning.CompareAndSwap(false, true) {
		return
	}
	fs.wg.Go(func() {
		defer fs.pinning.Store(false)
		for fs.pinAgain.Swap(false) && fs.ctx.Err() == nil {
			var keys []string
			_ = fs.store.View(func(tx *meta.Tx) error { keys = tx.Pins(); return nil })
			for _, k := range keys {
				r, err := fs.get(k)
				if err != nil {
					continue
				}
				if err := fs.prefetch(fs.ctx, r, 0); err != nil {
					fs.log.Debug("download pinned content", "key", k, "err", err)
				}
			}
		}
	})
}

// prefetch downloads everything under r.
func (fs *FS) prefetch(ctx context.Context, r meta.Record, depth int) error {
	if depth > 64 {
		return nil
	}
	if !r.IsDir {
		if r.RemoteID == "" {
			return nil
		}
		f := fs.content.Acquire(r.Key, r.Version(), r.Size)
		defer f.Release()
		if f.Size() == 0 {
			return nil
		}
		last := (f.Size() - 1) / content.BlockSize
		const step = 64 // blocks per round: bounded goroutines for huge files
		for first := int64(0); first <= last; first += step {
			end := min(first+step-1, last)
			if err := fs.dl.fetch(ctx, f, first, end, end); err != nil {
				return err
			}
		}
		return nil
	}
	if err := fs.ensureListed(ctx, r); err != nil {
		return err
	}
	var kids []meta.Record
	if err := fs.store.View(func(tx *meta.Tx) error {
		var err error
		kids, err = tx.Children(r.Key)
		return err
	}); err != nil {
		return err
	}
	for _, k := range kids {
		if err := fs.prefetch(ctx, k, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// PinnedPaths returns the paths kept offline.
func (fs *FS) PinnedPaths() []string {
	var keys []string
	_ = fs.store.View(func(tx *meta.Tx) error { keys = tx.Pins(); return nil })
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, fs.pathOf(k))
	}
	sort.Strings(out)
	return out
}

// StatFS describes the drive's space.
type StatFS struct {
	Total, Free int64
}

// QuotaRemote is implemented by Remotes that can report the drive quota.
type QuotaRemote interface {
	Quota(ctx context.Context) (total, remaining int64, err error)
}

// Statfs reports the drive's space: the quota when the Remote knows it,
// else a large nominal size.
func (fs *FS) Statfs(ctx context.Context) (StatFS, error) {
	if q, ok := fs.remote.(QuotaRemote); ok && !fs.offline.Load() {
		total, rem, err := q.Quota(ctx)
		if err == nil {
			return StatFS{Total: total, Free: rem}, nil
		}
		fs.noteErr(err)
	}
	const nominal = 1 << 40
	if fs.quotaFull.Load() {
		return StatFS{Total: nominal, Free: 0}, nil
	}
	return StatFS{Total: nominal, Free: nominal}, nil
}

// Sync waits until every queued remote operation has finished, or ctx
// ends. Jobs waiting for the network make it wait too.
func (fs *FS) Sync(ctx context.Context) error {
	for {
		idle := fs.queue.Idle()
		if fs.queue.Len() == 0 {
			return nil
		}
		select {
		case <-idle:
		case <-ctx.Done():
			return fmt.Errorf("wait for uploads (%d pending): %w", fs.queue.Len(), ctx.Err())
		}
	}
}

// SetUploadsPaused pauses (or resumes) the upload queue: changes keep
// being saved and journaled locally, nothing is sent meanwhile.
func (fs *FS) SetUploadsPaused(paused bool) { fs.wb.SetPaused(paused) }

// WakeUploads makes every pending change due now, whatever its backoff.
// The agent calls it after a new sign-in: the changes that failed while
// the sign-in was lost (a revoked session, an expired refresh token) have
// backed off for up to meta.MaxBackoff, and nothing else tells the
// queue that what held them back is fixed (noteOnline does it for the
// network).
func (fs *FS) WakeUploads() { fs.queue.Wake() }

// QueueLen returns the number of items with pending remote work.
func (fs *FS) QueueLen() int { return fs.queue.Len() }
