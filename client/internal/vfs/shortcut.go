package vfs

// Shortcuts ("Add shortcut to My files") are items of the mounted drive
// with a remoteItem facet and no folder facet (graph-contract.md, Delta).
// They show as folders whose children are listed from the target drive
// with the user's own rights. Their content is read-only here: writes
// inside them would go to another drive, with that drive's quota, names
// and conflicts, and the upload queue knows one drive. The shortcut item
// itself is an ordinary item of the mounted drive: renaming or deleting it
// renames or deletes the shortcut, never the target.

import (
	"fmt"
	"path"

	"github.com/mapdrive/mapdrive/client/internal/vfs/meta"
)

// ShortcutReadOnly is the message of the EventRefused sent for a write
// inside a shortcut.
const ShortcutReadOnly = "inside a shortcut to another library, which is read-only here: map the library itself to edit"

// ShortcutUnreachable is the message of the EventError sent when a
// shortcut's target cannot be listed.
const ShortcutUnreachable = "shortcut target is unreachable (no access, or deleted): shown empty"

// remoteOf returns the Remote of drive ("" for the mounted one), or nil
// when the mounted Remote cannot open other drives.
func (fs *FS) remoteOf(drive string) Remote {
	if drive == "" {
		return fs.remote
	}
	op, ok := fs.remote.(DriveOpener)
	if !ok {
		return nil
	}
	fs.drivesMu.Lock()
	defer fs.drivesMu.Unlock()
	if r, ok := fs.drives[drive]; ok {
		return r
	}
	if fs.drives == nil {
		fs.drives = map[string]Remote{}
	}
	r := op.OpenDrive(drive)
	fs.drives[drive] = r
	return r
}

// listSource returns where folder dir's children are listed: the Remote,
// the folder's id in it, and the drive id its children belong to ("" for
// the mounted drive). remote is nil when that drive cannot be opened.
func (fs *FS) listSource(dir meta.Record) (remote Remote, folderID, drive string) {
	if dir.LinkID != "" {
		return fs.remoteOf(dir.LinkDrive), dir.LinkID, dir.LinkDrive
	}
	return fs.remoteOf(dir.Drive), dir.RemoteID, dir.Drive
}

// shortcutUnreachable reports a shortcut (or a folder inside one) whose
// target the server refused to list.
func (fs *FS) shortcutUnreachable(dir meta.Record, err error) {
	p := fs.pathOf(dir.Key)
	fs.log.Warn("shortcut target unreachable: shown empty", "key", dir.Key, "err", err)
	fs.ev.emit(Event{Kind: EventError, Path: p, Err: ShortcutUnreachable, Time: fs.clock.Now()})
}

// checkShortcutWrite refuses a change to p when p's folder is a shortcut
// or inside one, with ErrReadOnly and an EventRefused naming the
// shortcut. It reads the store only: a path below a shortcut can only be
// reached through records the store already has.
func (fs *FS) checkShortcutWrite(op, p string) error {
	dir := path.Dir(path.Clean("/" + p))
	shortcut := ""
	_ = fs.store.View(func(tx *meta.Tx) error {
		cur, err := tx.Get(fs.rootKey)
		for _, name := range splitPath(dir) {
			if err != nil || !cur.IsDir {
				return nil
			}
			if cur, err = fs.lookup(tx, cur.Key, name); err != nil {
				return nil
			}
			if cur.LinkID != "" && shortcut == "" {
				shortcut = fs.pathOfLocked(tx, cur.Key)
			}
		}
		return nil
	})
	if shortcut == "" {
		return nil
	}
	fs.log.Info("refused a write inside a shortcut", "op", op)
	fs.ev.emit(Event{Kind: EventRefused, Path: shortcut, Err: ShortcutReadOnly, Time: fs.clock.Now()})
	return fmt.Errorf("%s %s: %s: %w", op, p, ShortcutReadOnly, ErrReadOnly)
}
