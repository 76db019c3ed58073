package vfs

import (
	"context"
	"errors"
	"fmt"

	"github.com/mapdrive/mapdrive/client/internal/vfs/cache"
)

const kvDeltaToken = cache.KVDeltaToken

func (fs *FS) pollLoop() {
	for {
		if err := fs.Refresh(fs.ctx); err != nil && fs.ctx.Err() == nil {
			fs.log.Debug("delta poll failed", "err", err)
		} else if err == nil && len(fs.PinnedPaths()) > 0 {
			fs.syncPins() // keep pinned content current
		}
		select {
		case <-fs.ctx.Done():
			return
		case <-fs.clock.After(fs.opt.PollInterval):
		case <-fs.kickPoll:
		}
	}
}

// PollNow asks the poller to fetch remote changes now.
func (fs *FS) PollNow() {
	select {
	case fs.kickPoll <- struct{}{}:
	default:
	}
}

// Refresh fetches and applies remote changes once (root/delta). A 410
// answer restarts the enumeration; local changes awaiting upload survive.
func (fs *FS) Refresh(ctx context.Context) error {
	var token string
	_ = fs.store.View(func(tx *cache.Tx) error { token = tx.GetKV(kvDeltaToken); return nil })
	changes, next, err := fs.remote.Delta(ctx, token)
	resync, uploadDiff := false, false
	if errors.Is(err, ErrResyncRequired) {
		uploadDiff = errors.Is(err, ErrResyncUploadDifferences)
		fs.log.Info("delta token expired: enumerating the drive again", "upload_differences", uploadDiff)
		resync = true
		changes, next, err = fs.remote.Delta(ctx, "")
	}
	if err != nil {
		fs.noteErr(err)
		return fmt.Errorf("delta: %w", err)
	}
	fs.noteOnline()
	full := token == "" || resync
	var sidestepped []Conflict
	err = fs.updateNS(func(tx *cache.Tx) error {
		seen := map[string]bool{}
		for _, it := range changes {
			seen[it.ID] = true
		}
		if uploadDiff {
			var err error
			if sidestepped, err = fs.sidestepTakenNamesLocked(tx, changes, seen); err != nil {
				return err
			}
		}
		for _, it := range changes {
			if err := fs.applyChangeLocked(tx, it); err != nil {
				return err
			}
		}
		if full {
			// A full enumeration lists every folder completely, and
			// anything it did not mention is gone from the server.
			now := fs.clock.Now()
			var stale []cache.Record
			err := tx.ForEach(func(r cache.Record) error {
				switch {
				case r.Key == fs.rootKey:
				case r.Drive != "":
					// Inside a shortcut's target: this drive's delta never
					// lists it, and its own listing keeps it current.
				case r.LinkID != "" && r.RemoteID != "" && seen[r.RemoteID]:
					// A shortcut: its target's listing is not the delta's.
				case r.RemoteID != "" && !seen[r.RemoteID] && resync:
					stale = append(stale, r)
				case r.IsDir && r.RemoteID != "" && r.LinkID == "":
					r.ListedAt = now
					return tx.Put(r)
				}
				return nil
			})
			if err != nil {
				return err
			}
			for _, r := range stale {
				// A stale folder's subtree is settled with it; skip
				// records already settled.
				if cur, err := tx.Get(r.Key); err == nil && cur.RemoteID != "" {
					if _, err := fs.settleStaleLocked(tx, cur, seen, uploadDiff); err != nil {
						return err
					}
				}
			}
			root, err := tx.Get(fs.rootKey)
			if err != nil {
				return err
			}
			root.ListedAt = now
			if err := tx.Put(root); err != nil {
				return err
			}
		}
		return tx.SetKV(kvDeltaToken, next)
	})
	for _, c := range sidestepped {
		fs.log.Warn("conflict: a resync found another file under the name of a file kept here; the local one is kept under a conflict name")
		fs.ev.emit(Event{Kind: EventConflict, Path: c.Path, Conflict: &c, Time: c.Time})
	}
	if err != nil {
		return fmt.Errorf("apply delta: %w", err)
	}
	fs.lastDelta.Store(fs.clock.Now().UnixNano())
	fs.enumerated.Store(true)
	if len(changes) > 0 {
		fs.ev.emit(Event{Kind: EventChanged, Time: fs.clock.Now()})
	}
	return nil
}

// settleStaleLocked settles an item a resync's enumeration did not return
// (graph-contract.md, Delta, 410). Local changes not yet uploaded are
// always kept. With uploadDiff (resyncChangesUploadDifferences) a file
// whose whole content is cached is also kept, and uploaded again as a new
// file: if its name is taken by then, the upload makes a conflict copy,
// so both copies survive. A folder is created again when anything under
// it is kept. Everything else is gone from the server and is removed.
// It reports whether r was kept.
func (fs *FS) settleStaleLocked(tx *cache.Tx, r cache.Record, seen map[string]bool, uploadDiff bool) (bool, error) {
	if r.RemoteID != "" && seen[r.RemoteID] {
		return true, nil // returned by the server under another parent
	}
	kept := false
	if r.IsDir {
		kids, err := tx.Children(r.Key)
		if err != nil {
			return false, err
		}
		for _, k := range kids {
			if k.RemoteID == "" {
				kept = true // created here, not uploaded yet
				continue
			}
			kk, err := fs.settleStaleLocked(tx, k, seen, uploadDiff)
			if err != nil {
				return false, err
			}
			kept = kept || kk
		}
	} else {
		switch {
		case fs.localChanges(r.Key):
			// Gone from the server but changed here: uploaded again as
			// a new file, as for a tombstone.
			fs.afterUploads = append(fs.afterUploads, r.Key)
			kept = true
		case uploadDiff && fs.content.Complete(r.Key, r.Version()):
			if fs.afterAdopt == nil {
				fs.afterAdopt = map[string]string{}
			}
			fs.afterAdopt[r.Key] = r.Version()
			fs.afterUploads = append(fs.afterUploads, r.Key)
			kept = true
		}
	}
	if !kept {
		return false, fs.deleteTreeLocked(tx, r)
	}
	if r.IsDir {
		fs.afterMkdirs = append(fs.afterMkdirs, r.Key)
	}
	r.RemoteID, r.RemoteName, r.ETag = "", "", ""
	return true, tx.Put(r)
}

// sidestepTakenNamesLocked runs before an upload-differences resync
// applies its enumeration. A cached file the server did not return is to
// be uploaded again (settleStaleLocked), but the enumeration may hold
// another item under its name, which applying would delete it for. Such a
// file moves aside to a conflict name first, so both copies survive
// ("keep both copies when unsure", graph-contract.md, Delta).
func (fs *FS) sidestepTakenNamesLocked(tx *cache.Tx, changes []Item, seen map[string]bool) ([]Conflict, error) {
	var out []Conflict
	now := fs.clock.Now()
	for _, it := range changes {
		if it.Deleted || it.ParentID == "" {
			continue
		}
		parentKey, err := tx.KeyForRemote(it.ParentID)
		if err != nil {
			continue
		}
		other, err := tx.Child(parentKey, it.Name)
		if err != nil || other.IsDir || other.RemoteID == "" || other.RemoteID == it.ID || seen[other.RemoteID] ||
			fs.localChanges(other.Key) || !fs.content.Complete(other.Key, other.Version()) {
			continue // kept by the usual rules, or nothing here to keep
		}
		orig := fs.pathOfLocked(tx, other.Key)
		for n := 1; ; n++ {
			name := ConflictName(other.Name, fs.opt.Host, now, n)
			if _, err := tx.Child(parentKey, name); errors.Is(err, cache.ErrNotFound) {
				other.Name = name
				break
			}
		}
		if err := tx.Put(other); err != nil {
			return nil, err
		}
		out = append(out, Conflict{Path: orig, ConflictPath: fs.pathOfLocked(tx, other.Key), Time: now})
	}
	return out, nil
}

// applyChangeLocked applies one delta item. A tombstone is applied by id
// before anything else is looked at: on OneDrive for Business it may have
// no parent, or name the root as its parent (graph-contract.md, Delta).
func (fs *FS) applyChangeLocked(tx *cache.Tx, it Item) error {
	if it.Deleted {
		return fs.applyTombstoneLocked(tx, it.ID)
	}
	if it.ParentID == "" || it.ID == fs.rootKey {
		if root, err := tx.Get(fs.rootKey); err == nil && root.RemoteID == it.ID {
			root.ETag = it.ETag
			return tx.Put(root)
		}
		return nil
	}
	parentKey, err := tx.KeyForRemote(it.ParentID)
	if err != nil {
		return nil // under a folder never seen: it is listed when opened
	}
	return fs.applyItemLocked(tx, it, parentKey, "")
}

// applyTombstoneLocked removes the item the server deleted, unless it has
// local changes, which are then uploaded again as a new file.
func (fs *FS) applyTombstoneLocked(tx *cache.Tx, id string) error {
	key, err := tx.KeyForRemote(id)
	if err != nil || key == fs.rootKey {
		return nil
	}
	r, err := tx.Get(key)
	if err != nil {
		return nil
	}
	if fs.localChanges(key) {
		// Deleted on the server but changed here: the local version
		// is uploaded again as a new file.
		r.RemoteID, r.RemoteName, r.ETag = "", "", ""
		if !r.IsDir {
			fs.afterUploads = append(fs.afterUploads, key)
		}
		return tx.Put(r)
	}
	return fs.deleteTreeLocked(tx, r)
}
