package vfs

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/mapdrive/mapdrive/client/internal/vfs/meta"
)

// Check-out and check-in (docs/checkout.md). A file is checked out before
// it is opened for writing when the mapping asks for exclusive editing,
// when its library is known to require check-out, or when the server
// shows it checked out (ours, or someone else's: then the open fails with
// EACCES). It is checked in by the upload job (meta.OpCheckIn), after
// the upload of the last close: a pending upload keeps the check-out, and
// a failed check-in is retried like any job.

// CheckoutRemote is implemented by a Remote whose files can be checked out
// and in (Graph's checkout and checkin). CheckOut of a file someone else
// holds returns ErrLocked.
type CheckoutRemote interface {
	CheckOut(ctx context.Context, id string) error
	CheckIn(ctx context.Context, id, comment string) error
}

// checkouts is the mount's check-out state.
type checkouts struct {
	mu      sync.Mutex      // guards the maps
	writers map[string]int  // key -> open write handles
	held    map[string]bool // key -> this mount checked the file out
	// required is learned: the library refused a save that was not
	// checked out, or left a new file checked out to us.
	required atomic.Bool
}

func (c *checkouts) init() {
	c.writers = map[string]int{}
	c.held = map[string]bool{}
}

func (c *checkouts) holds(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.held[key]
}

func (c *checkouts) writing(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writers[key] > 0
}

// checkoutRemote returns the remote's check-out interface for r, or nil
// when r cannot be checked out (not on the server yet, in a shortcut's
// drive, or a remote without check-out).
func (fs *FS) checkoutRemote(r meta.Record) CheckoutRemote {
	cr, ok := fs.remote.(CheckoutRemote)
	if !ok || r.RemoteID == "" || r.IsDir || r.Foreign() || IsLocalOnly(r.Name) {
		return nil
	}
	return cr
}

// needsCheckout reports whether a write to r must check it out first.
func (fs *FS) needsCheckout(r meta.Record) bool {
	return fs.opt.ExclusiveEditing || fs.co.required.Load() || checkedOut(r)
}

// checkedOut reports whether the server showed r checked out (by anyone).
func checkedOut(r meta.Record) bool { return r.HolderID != "" || r.HolderName != "" }

// beginWrite counts a write handle on r and checks r out when it needs
// it. A file someone else holds fails with ErrLocked; offline, the open
// goes ahead and the upload checks out before it sends.
func (fs *FS) beginWrite(ctx context.Context, p string, r meta.Record) error {
	fs.co.mu.Lock()
	fs.co.writers[r.Key]++
	held := fs.co.held[r.Key]
	fs.co.mu.Unlock()
	cr := fs.checkoutRemote(r)
	if cr == nil || held || !fs.needsCheckout(r) {
		return nil
	}
	err := fs.checkOut(ctx, cr, r)
	if err == nil || errors.Is(err, ErrOffline) {
		return nil
	}
	fs.endWrite(r.Key, false)
	return fmt.Errorf("open %s for writing: %w", p, err)
}

// endWrite uncounts a write handle; the last one queues the check-in of a
// file this mount holds, after any upload its flush queued.
func (fs *FS) endWrite(key string, checkIn bool) {
	fs.co.mu.Lock()
	fs.co.writers[key]--
	last := fs.co.writers[key] <= 0
	if last {
		delete(fs.co.writers, key)
	}
	held := fs.co.held[key]
	fs.co.mu.Unlock()
	if !last || !held || !checkIn {
		return
	}
	if j, ok := fs.queue.Get(key); ok && j.Ops&meta.OpCheckIn != 0 {
		return // journaled with the upload; adding it again would hurry the upload past its write-back delay
	}
	if err := fs.queue.Add(key, meta.OpCheckIn, "", ""); err != nil {
		fs.log.Error("journal check-in", "key", key, "err", err)
	}
}

// checkOut checks r out. When someone else holds it, the holder is
// recorded and reported (EventCheckedOut) and the error is ErrLocked.
func (fs *FS) checkOut(ctx context.Context, cr CheckoutRemote, r meta.Record) error {
	err := cr.CheckOut(ctx, r.RemoteID)
	if errors.Is(err, ErrLocked) {
		name := fs.reportHolder(ctx, r)
		return fmt.Errorf("check out %s: held by %s: %w", r.RemoteID, name, ErrLocked)
	}
	if err != nil {
		return fmt.Errorf("check out %s: %w", r.RemoteID, err)
	}
	fs.co.mu.Lock()
	fs.co.held[r.Key] = true
	fs.co.mu.Unlock()
	fs.log.Debug("checked out", "key", r.Key)
	fs.adoptServerMeta(ctx, r.Key, r.RemoteID)
	return nil
}

// reportHolder reads who holds r's check-out, records it and emits
// EventCheckedOut naming them; it returns their display name.
func (fs *FS) reportHolder(ctx context.Context, r meta.Record) string {
	name := r.HolderName
	if it, err := fs.remote.Get(ctx, r.RemoteID); err == nil {
		name = it.CheckedOutBy.Name
		fs.setHolder(r.Key, it.CheckedOutBy)
	}
	if name == "" {
		name = "another user"
	}
	fs.ev.emit(Event{Kind: EventCheckedOut, Path: fs.pathOf(r.Key), Err: "checked out by " + name, Time: fs.clock.Now()})
	return name
}

// setHolder records who holds key's check-out.
func (fs *FS) setHolder(key string, h Holder) {
	fs.nsMu.Lock()
	defer fs.nsMu.Unlock()
	err := fs.store.Update(func(tx *meta.Tx) error {
		r, err := tx.Get(key)
		if err != nil {
			return nil
		}
		r.HolderID, r.HolderName = h.ID, h.Name
		return tx.Put(r)
	})
	if err != nil {
		fs.log.Warn("record check-out holder", "key", key, "err", err)
	}
}

// adoptServerMeta takes the eTag and holder the server shows for remoteID
// after a check-out or check-in changed them, when its content is still
// the one key describes: the next upload's If-Match must not mistake our
// own check-out for someone else's change.
func (fs *FS) adoptServerMeta(ctx context.Context, key, remoteID string) {
	it, err := fs.remote.Get(ctx, remoteID)
	if err != nil {
		fs.log.Debug("read item after check-out change", "key", key, "err", err)
		return
	}
	fs.nsMu.Lock()
	defer fs.nsMu.Unlock()
	err = fs.store.Update(func(tx *meta.Tx) error {
		r, err := tx.Get(key)
		if err != nil || r.RemoteID != it.ID {
			return nil
		}
		r.HolderID, r.HolderName = it.CheckedOutBy.ID, it.CheckedOutBy.Name
		if r.Size == it.Size && r.QuickXorHash == it.QuickXorHash {
			r.ETag = it.ETag
			if it.CTag != "" {
				r.CTag = it.CTag
			}
			fs.noteOwn(it.ID, it.ETag)
		}
		return tx.Put(r)
	})
	if err != nil {
		fs.log.Warn("record item after check-out change", "key", key, "err", err)
	}
}

// checkOutForUpload checks rec out before its upload when it needs it and
// this mount does not hold it yet (an open made offline, a restart).
func (fs *FS) checkOutForUpload(ctx context.Context, rec meta.Record) error {
	cr := fs.checkoutRemote(rec)
	if cr == nil || fs.co.holds(rec.Key) || !fs.needsCheckout(rec) {
		return nil
	}
	return fs.checkOut(ctx, cr, rec)
}

// checkOutAfterRefusal handles an upload refused with ErrLocked: a library
// that requires check-out refuses a save that is not checked out, as it
// refuses one over someone else's check-out. Checking out tells the two
// apart: it succeeds in the first case (the library is then known to
// require check-out) and reports the holder in the second.
func (fs *FS) checkOutAfterRefusal(ctx context.Context, rec meta.Record) error {
	cr := fs.checkoutRemote(rec)
	if cr == nil || fs.co.holds(rec.Key) {
		return ErrLocked
	}
	if err := fs.checkOut(ctx, cr, rec); err != nil {
		return err
	}
	if !fs.co.required.Swap(true) {
		fs.log.Info("the library requires check-out; files are checked out before they are saved")
	}
	return nil
}

// checkIn checks key in unless a write handle is still open (the last
// release queues it again). A check-in whose answer was lost is retried
// and meets a file nobody holds: that counts as done.
func (fs *FS) checkIn(ctx context.Context, rec meta.Record) error {
	if fs.co.writing(rec.Key) {
		return nil
	}
	cr := fs.checkoutRemote(rec)
	if cr == nil {
		return nil
	}
	if err := cr.CheckIn(ctx, rec.RemoteID, ""); err != nil {
		it, gerr := fs.remote.Get(ctx, rec.RemoteID)
		if gerr != nil || it.CheckedOutBy != (Holder{}) {
			return fmt.Errorf("check in %s: %w", rec.RemoteID, err)
		}
	}
	fs.co.mu.Lock()
	delete(fs.co.held, rec.Key)
	fs.co.mu.Unlock()
	fs.log.Debug("checked in", "key", rec.Key)
	fs.adoptServerMeta(ctx, rec.Key, rec.RemoteID)
	return nil
}
