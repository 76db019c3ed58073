package vfs

// Deletes and moves carry the eTag this mount last saw (If-Match), so
// that neither acts on a version someone else wrote meanwhile
// (graph-contract.md, "Rename, move, delete": wrong if-match -> 412).
// This file resolves those 412s without losing the other writer's
// version.

import (
	"context"
	"errors"
	"fmt"

	"github.com/mapdrive/mapdrive/client/internal/vfs/meta"
)

// maxMoveRetries bounds the moves retried under a fresh eTag while other
// writers keep changing the item; the job is then retried with backoff.
const maxMoveRetries = 3

// maxOwn bounds the eTags remembered for own uploads: enough for every
// upload that can be in flight when the user deletes its file.
const maxOwn = 1024

// noteOwn records that this mount's upload gave remote item id eTag.
func (fs *FS) noteOwn(id, eTag string) {
	fs.ownMu.Lock()
	defer fs.ownMu.Unlock()
	if fs.own == nil || len(fs.own) >= maxOwn {
		fs.own = map[string]string{}
	}
	fs.own[id] = eTag
}

// isOwn reports whether remote item id's eTag is one this mount's own
// upload produced.
func (fs *FS) isOwn(id, eTag string) bool {
	fs.ownMu.Lock()
	defer fs.ownMu.Unlock()
	return eTag != "" && fs.own[id] == eTag
}

// deleteOverOwnUpload retries a delete the server refused (412) when the
// version it has now is this mount's own upload, which committed between
// the local delete and the server delete: the user deleted their own
// save, so nothing is kept. It reports whether the item is gone.
func (fs *FS) deleteOverOwnUpload(ctx context.Context, id string) bool {
	it, err := fs.remote.Get(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return true
	}
	if err != nil || !fs.isOwn(id, it.ETag) {
		return false
	}
	err = fs.remote.Delete(ctx, id, it.ETag)
	return err == nil || errors.Is(err, ErrNotFound)
}

// keepChanged resolves a delete of remote item id that the server refused
// (412): someone else changed the item since this mount saw it, so it is
// not deleted. Its current version shows again in the mount, and an
// EventNotDeleted names it. path is the item's path here, for when the
// item cannot be reloaded now (a later delta brings it back then).
func (fs *FS) keepChanged(ctx context.Context, id, path string) {
	it, err := fs.remote.Get(ctx, id)
	if err == nil {
		err = fs.updateNS(func(tx *meta.Tx) error {
			parentKey, err := tx.KeyForRemote(it.ParentID)
			if err != nil {
				return nil // under a folder not known here: shown when it is listed
			}
			return fs.applyItemLocked(tx, it, parentKey, "")
		})
	}
	if err != nil {
		fs.noteErr(err)
		fs.log.Warn("reload an item whose delete was refused", "id", id, "err", err)
	}
	if key, ok := fs.keyForRemote(id); ok {
		path = fs.pathOf(key)
	}
	fs.log.Warn("delete refused: the item changed on the server; the other version is kept", "id", id)
	fs.ev.emit(Event{Kind: EventNotDeleted, Path: path, Err: NotDeletedReason, Time: fs.clock.Now()})
}

// keyForRemote returns the key of the record of remote item id.
func (fs *FS) keyForRemote(id string) (string, bool) {
	var key string
	err := fs.store.View(func(tx *meta.Tx) error {
		var err error
		key, err = tx.KeyForRemote(id)
		return err
	})
	return key, err == nil
}

// moveOnServer moves remote item id into parentID as name, guarded by
// eTag, the version last seen here. A 412 means someone changed the item
// meanwhile; a move destroys no content, so the item is fetched again
// and, unless it already sits at the target (another writer's identical
// move, or ours whose answer was lost), moved under its fresh eTag. The
// caller compares the returned item's content with what it holds
// (recordMoved).
func (fs *FS) moveOnServer(ctx context.Context, id, parentID, name, eTag string) (Item, error) {
	for attempt := 0; ; attempt++ {
		it, err := fs.remote.Move(ctx, id, parentID, name, eTag)
		if !errors.Is(err, ErrPreconditionFailed) || attempt == maxMoveRetries {
			return it, err
		}
		fs.log.Info("item changed on the server before its move; moving its current version", "id", id)
		if it, err = fs.remote.Get(ctx, id); err != nil {
			return it, fmt.Errorf("reload item changed before its move: %w", err)
		}
		if it.ParentID == parentID && it.Name == name {
			return it, nil
		}
		eTag = it.ETag
	}
}

// recordMoved records in r the item a move on the server returned. When
// its content is the version r holds, only the eTag moves on. When
// someone else changed the content meanwhile, r takes their version
// (the mount then shows it), unless a local edit awaits upload: r then
// keeps the eTag that edit was made against, so that its upload fails its
// If-Match and keeps both versions (a conflict copy) instead of replacing
// theirs.
func (fs *FS) recordMoved(r *meta.Record, it Item) {
	r.RemoteName = it.Name
	switch {
	case r.IsDir || (r.Size == it.Size && r.QuickXorHash == it.QuickXorHash):
		r.ETag = it.ETag
		if it.CTag != "" {
			r.CTag = it.CTag
		}
	case !fs.localChanges(r.Key):
		setItemMeta(r, it)
	}
}
