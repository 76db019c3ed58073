package vfs

import (
	"context"
	"errors"
	"fmt"

	"github.com/mapdrive/mapdrive/client/internal/vfs/meta"
)

const kvDeltaToken = meta.KVDeltaToken

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
	_ = fs.store.View(func(tx *meta.Tx) error { token = tx.GetKV(kvDeltaToken); return nil })
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
	err = fs.updateNS(func(tx *meta.Tx) error {
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
		if err := fs.applyChangesLocked(tx, changes); err != nil {
			return err
		}
		if full {
			// A full enumeration lists every folder completely, and
			// anything it did not mention is gone from the server.
			now := fs.clock.Now()
			var stale []meta.Record
			err := tx.ForEach(func(r meta.Record) error {
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
func (fs *FS) settleStaleLocked(tx *meta.Tx, r meta.Record, seen map[string]bool, uploadDiff bool) (bool, error) {
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
func (fs *FS) sidestepTakenNamesLocked(tx *meta.Tx, changes []Item, seen map[string]bool) ([]Conflict, error) {
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
			if _, err := tx.Child(parentKey, name); errors.Is(err, meta.ErrNotFound) {
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

// applyChangesLocked applies a delta batch. The feed gives each item's
// latest state, an item possibly more than once (the last wins), in no
// promised order (graph-contract.md, Delta): an item may come before the
// folder it now lies in. So only each item's last state is applied, and an
// item whose parent is not known yet waits until the rest of the batch has
// made it known. What is left then lies under no folder this mount knows.
// On a whole drive that is a folder never listed, which is listed when
// opened. Under a folder root (Options.RootID) the drive's delta reports
// the whole library, as delta on a folder is only for personal OneDrive
// (graph-contract.md, Delta), and the mount keeps to the folder's subtree
// by ancestry: an item outside it that the mount knows was moved out of
// it, and goes from the mount as if deleted (a local change to it is kept
// and uploaded again, as for a tombstone).
func (fs *FS) applyChangesLocked(tx *meta.Tx, changes []Item) error {
	last := make(map[string]int, len(changes))
	for i, it := range changes {
		last[it.ID] = i
	}
	var waiting []Item
	for i, it := range changes {
		if last[it.ID] != i {
			continue // a later state of the item follows
		}
		applied, err := fs.applyChangeLocked(tx, it)
		if err != nil {
			return err
		}
		if !applied {
			waiting = append(waiting, it)
		}
	}
	for len(waiting) > 0 {
		var still []Item
		for _, it := range waiting {
			applied, err := fs.applyChangeLocked(tx, it)
			if err != nil {
				return err
			}
			if !applied {
				still = append(still, it)
			}
		}
		if len(still) == len(waiting) {
			break // no parent among them will become known
		}
		waiting = still
	}
	if fs.opt.RootID == "" {
		return nil
	}
	for _, it := range waiting {
		if err := fs.applyTombstoneLocked(tx, it.ID); err != nil {
			return err
		}
	}
	return nil
}

// applyChangeLocked applies one delta item. A tombstone is applied by id
// before anything else is looked at: on OneDrive for Business it may have
// no parent, or name the root as its parent (graph-contract.md, Delta).
// It reports false, changing nothing, for an item whose parent the store
// does not know.
func (fs *FS) applyChangeLocked(tx *meta.Tx, it Item) (bool, error) {
	if it.ID == fs.rootKey && fs.opt.RootID != "" {
		fs.checkRootLocked(tx, it)
	}
	if it.Deleted {
		return true, fs.applyTombstoneLocked(tx, it.ID)
	}
	if it.ParentID == "" || it.ID == fs.rootKey {
		if root, err := tx.Get(fs.rootKey); err == nil && root.RemoteID == it.ID {
			root.ETag = it.ETag
			return true, tx.Put(root)
		}
		return true, nil
	}
	parentKey, err := tx.KeyForRemote(it.ParentID)
	if err != nil {
		return false, nil
	}
	return true, fs.applyItemLocked(tx, it, parentKey, "")
}

// checkRootLocked compares the delta's state of a folder root with the
// name and parent it had when the mount first saw it. A deleted, renamed
// or moved folder is no longer what the mapping names: the mount goes on
// with what it has (its items are tracked by id, and nothing local is
// dropped), and RootProblem says so until the folder is back.
func (fs *FS) checkRootLocked(tx *meta.Tx, it Item) {
	var problem string
	switch {
	case it.Deleted:
		problem = "the folder this drive shows was deleted on the server"
	case it.Name != tx.GetKV(kvRootName) || it.ParentID != tx.GetKV(kvRootParent):
		problem = "the folder this drive shows was renamed or moved on the server"
	}
	if problem == "" {
		if fs.rootGone.Swap(nil) != nil {
			fs.log.Info("the drive's root folder is back where it was")
		}
		return
	}
	if old := fs.rootGone.Swap(&problem); old == nil || *old != problem {
		fs.log.Warn("the drive's root folder changed on the server", "problem", problem)
	}
}

// RootProblem says what happened on the server to the folder a folder root
// (Options.RootID) shows, "" when nothing did.
func (fs *FS) RootProblem() string {
	if p := fs.rootGone.Load(); p != nil {
		return *p
	}
	return ""
}

// applyTombstoneLocked removes the item the server deleted, unless it has
// local changes, which are then uploaded again as a new file.
func (fs *FS) applyTombstoneLocked(tx *meta.Tx, id string) error {
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
