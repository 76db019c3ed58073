package vfs

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/mapdrive/mapdrive/client/internal/vfs/content"
	"github.com/mapdrive/mapdrive/client/internal/vfs/meta"
	"github.com/mapdrive/mapdrive/client/internal/vfs/writeback"
	"github.com/mapdrive/mapdrive/shared/quickxorhash"
)

// errWaitParent delays a job until its folder exists on the server.
var errWaitParent = errors.New("folder not yet created on the server")

// put is the writeback's callback: it runs key's journaled job. ctx ends
// when a delete or rename cancels the job (writeback.ErrCancelled) or the
// filesystem closes.
func (fs *FS) put(ctx context.Context, key string) {
	if j, ok := fs.queue.Claim(key); ok {
		fs.runJob(ctx, j)
	}
}

// commitCtx returns ctx without the job's own cancel, for a request that
// changes the server (a simple upload, a last fragment, a delete, a
// move): once sent it completes, so that the job knows what the server
// did. Only Close ends it. Content transfer (a fragment before the last)
// keeps ctx, so that a cancel stops it at once.
func (fs *FS) commitCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	c, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(fs.ctx, cancel)
	return c, func() { stop(); cancel() }
}

// jobCancelled reports whether ctx, a job's, was cancelled by a delete or
// rename (not by Close).
func (fs *FS) jobCancelled(ctx context.Context) bool {
	return errors.Is(context.Cause(ctx), writeback.ErrCancelled) && fs.ctx.Err() == nil
}

// cancelSession cancels j's journaled upload session on the server (its
// item was deleted or renamed: the session must never commit) and
// journals that it is gone. On failure the session stays journaled, and
// the job's next run cancels it.
func (fs *FS) cancelSession(ctx context.Context, j *meta.Job) error {
	if j.Session == nil {
		return nil
	}
	// The URL is pre-authenticated: CancelUpload sends no Authorization
	// (graph-contract.md, "Upload session").
	err := fs.remote.CancelUpload(ctx, UploadSession{URL: j.Session.URL})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("cancel the upload session of %s: %w", j.Key, err)
	}
	j.Session = nil
	if err := fs.queue.Save(*j); err != nil {
		return fmt.Errorf("journal the cancelled upload session of %s: %w", j.Key, err)
	}
	return nil
}

// runJob applies one item's queued operations and finishes the job. ctx
// ends when the job is cancelled: only content transfer heeds that;
// requests that change the server use commitCtx.
func (fs *FS) runJob(ctx context.Context, j meta.Job) {
	cctx, stop := fs.commitCtx(ctx)
	defer stop()
	var done meta.Op
	kept := "" // a delete the server refused: someone else changed the item
	err := func() error {
		if j.Session != nil && j.Ops&meta.OpUpload == 0 {
			// Dropped while it uploaded (meta.Queue.Drop).
			if err := fs.cancelSession(cctx, &j); err != nil {
				return err
			}
		}
		if j.Ops&meta.OpDelete != 0 {
			err := fs.remote.Delete(cctx, j.RemoteID, j.IfMatch)
			switch {
			case errors.Is(err, ErrPreconditionFailed) && !fs.deleteOverOwnUpload(cctx, j.RemoteID):
				kept = j.RemoteID
			case err != nil && !errors.Is(err, ErrNotFound):
				return fmt.Errorf("delete %s: %w", j.RemoteID, err)
			}
			done |= meta.OpDelete
		}
		rec, err := fs.get(j.Key)
		if errors.Is(err, ErrNotFound) {
			// Deleted here (a crash may have come before its job was
			// dropped): an upload it had begun must not commit.
			if err := fs.cancelSession(cctx, &j); err != nil {
				return err
			}
			done = j.Ops
			return nil
		}
		if err != nil {
			return err
		}
		if j.Ops&meta.OpMkdir != 0 {
			if err := fs.pushMkdir(cctx, rec); err != nil {
				return err
			}
			done |= meta.OpMkdir
			if rec, err = fs.get(j.Key); err != nil {
				return err
			}
		}
		if j.Ops&meta.OpMove != 0 {
			if err := fs.pushMove(cctx, rec); err != nil {
				return err
			}
			done |= meta.OpMove
			if rec, err = fs.get(j.Key); err != nil {
				return err
			}
		}
		setTime, userSet := fs.userSetTime(j.Key)
		checkIn := j.Ops&meta.OpCheckIn != 0
		if j.Ops&meta.OpUpload != 0 {
			held, err := fs.uploadCheckedOut(ctx, cctx, j, rec)
			if err != nil {
				return err
			}
			done |= meta.OpUpload
			checkIn = checkIn || held
			if rec, err = fs.get(j.Key); errors.Is(err, ErrNotFound) {
				// Deleted while it uploaded: the upload removed what it
				// created (finishUpload found no record); nothing is left.
				done = j.Ops
				return nil
			} else if err != nil {
				return err
			}
		}
		// A time the user set goes after the upload, whose answer
		// replaced the record's time with the server's. A file set
		// before its first upload (cp -p sets it before closing the
		// copy) gets it here too: its OpTouch found nothing to set.
		if j.Ops&meta.OpTouch != 0 || (userSet && j.Ops&meta.OpUpload != 0) {
			t := rec.ModTime
			if userSet {
				t = setTime
			}
			if err := fs.pushModTime(cctx, j.Key, t); err != nil {
				return err
			}
			done |= j.Ops & meta.OpTouch
		}
		if checkIn {
			if err := fs.checkIn(cctx, rec); err != nil {
				return err
			}
			done |= j.Ops & meta.OpCheckIn
		}
		return nil
	}()
	if err == nil {
		fs.noteOnline()
		if err := fs.queue.Done(j, done); err != nil {
			fs.log.Error("journal job completion", "key", j.Key, "err", err)
		}
		if kept != "" {
			// After Done: a record the job's key still has is no longer
			// held back as a local change when the item is reloaded.
			fs.keepChanged(cctx, kept, "")
		}
		return
	}
	if fs.jobCancelled(ctx) {
		// A delete or rename stopped it: not a failure. What is left
		// runs again at once (for a deleted item: nothing, or the
		// cancel of its session).
		fs.log.Debug("job cancelled", "key", j.Key, "err", err)
		if err := fs.queue.Cancelled(j, done); err != nil {
			fs.log.Error("journal cancelled job", "key", j.Key, "err", err)
		}
		return
	}
	if fs.ctx.Err() != nil {
		// Shutting down: the job stays journaled as it was.
		_ = fs.queue.Retry(j, done, err, true)
		return
	}
	fs.noteErr(err)
	offline := errors.Is(err, ErrOffline)
	if errors.Is(err, ErrQuotaExceeded) && !fs.quotaFull.Swap(true) {
		fs.log.Warn("drive quota full: uploads wait for space")
		fs.ev.emit(Event{Kind: EventQuotaFull, Path: fs.pathOf(j.Key), Err: err.Error(), Time: fs.clock.Now()})
	}
	if !offline && !errors.Is(err, errWaitParent) {
		fs.log.Warn("remote operation failed; will retry", "key", j.Key, "attempt", j.Attempts+1, "err", err)
		fs.ev.emit(Event{Kind: EventError, Path: fs.pathOf(j.Key), Err: err.Error(), Time: fs.clock.Now()})
	}
	if rerr := fs.queue.Retry(j, done, err, offline); rerr != nil {
		fs.log.Error("journal job retry", "key", j.Key, "err", rerr)
	}
}

// pushModTime sends t as key's modification time and records the
// server's answer (a new eTag; same content).
func (fs *FS) pushModTime(ctx context.Context, key string, t time.Time) error {
	rec, err := fs.get(key)
	if errors.Is(err, ErrNotFound) || (err == nil && (rec.RemoteID == "" || IsLocalOnly(rec.Name))) {
		return nil // deleted, or never reaches the server
	}
	if err != nil {
		return err
	}
	it, err := fs.remote.SetModTime(ctx, rec.RemoteID, t)
	if errors.Is(err, ErrNotFound) {
		return nil // gone on the server: delta says so
	}
	if err != nil {
		return fmt.Errorf("set time of %s: %w", key, err)
	}
	fs.noteOwn(it.ID, it.ETag)
	fs.nsMu.Lock()
	defer fs.nsMu.Unlock()
	return fs.store.Update(func(tx *meta.Tx) error {
		r, err := tx.Get(key)
		if err != nil || r.RemoteID != it.ID {
			return nil
		}
		r.ETag, r.ModTime = it.ETag, it.ModTime
		return tx.Put(r)
	})
}

func (fs *FS) parentRemote(rec meta.Record) (string, error) {
	p, err := fs.get(rec.ParentKey)
	if err != nil {
		return "", err
	}
	if p.RemoteID == "" {
		return "", errWaitParent
	}
	return p.RemoteID, nil
}

func (fs *FS) pushMkdir(ctx context.Context, rec meta.Record) error {
	if rec.RemoteID != "" {
		return nil
	}
	pid, err := fs.parentRemote(rec)
	if err != nil {
		return err
	}
	it, err := fs.remote.Mkdir(ctx, pid, rec.Name)
	if errors.Is(err, ErrExist) {
		// Created meanwhile (by us before a crash, or elsewhere): use it.
		items, lerr := fs.remote.List(ctx, pid)
		if lerr != nil {
			return lerr
		}
		err = fmt.Errorf("mkdir %s: %w", rec.Key, err)
		for _, x := range items {
			if x.Name == rec.Name && x.IsDir {
				it, err = x, nil
			}
		}
	}
	if err != nil {
		return err
	}
	return fs.setRemote(rec.Key, it)
}

// finishUpload records in one transaction that key is it on the server
// and that generation gen of its content is clean. found is false when
// the record no longer exists; invalidate is true when the server's
// rewritten version must replace the clean local copy.
// uploadCheckedOut uploads rec's content, checking it out first when it
// needs it, and once more after a refusal that check-out may lift
// (checkOutAfterRefusal). held reports a file now checked out by us: the
// job checks it in after the upload.
// ctx is the job's, cctx the same without its cancel (commitCtx).
func (fs *FS) uploadCheckedOut(ctx, cctx context.Context, j meta.Job, rec meta.Record) (held bool, err error) {
	if err := fs.checkOutForUpload(cctx, rec); err != nil {
		return false, err
	}
	err = fs.upload(ctx, j, rec)
	if errors.Is(err, ErrLocked) {
		if cerr := fs.checkOutAfterRefusal(cctx, rec); cerr != nil {
			return false, errors.Join(err, cerr)
		}
		if rec, err = fs.get(j.Key); err != nil {
			return false, err
		}
		err = fs.upload(ctx, j, rec)
	}
	if err != nil {
		return false, err
	}
	if fs.co.holds(rec.Key) {
		return true, nil
	}
	// A library that requires check-out leaves a file we created checked
	// out to us (docs/checkout.md): the holder an upload's answer shows
	// can only be us.
	if now, gerr := fs.get(j.Key); gerr == nil && checkedOut(now) {
		fs.co.mu.Lock()
		fs.co.held[rec.Key] = true
		fs.co.mu.Unlock()
		if !fs.co.required.Swap(true) {
			fs.log.Info("the library requires check-out; files are checked out before they are saved")
		}
		return true, nil
	}
	return false, nil
}

func (fs *FS) finishUpload(key string, it Item, f *content.File, gen uint64, rewritten bool) (found, invalidate bool, err error) {
	fs.nsMu.Lock()
	defer fs.nsMu.Unlock()
	cleanW, apply := f.PrepareClean(gen, itemVersion(it))
	err = fs.store.Update(func(tx *meta.Tx) error {
		r, err := tx.Get(key)
		if err != nil {
			return nil
		}
		found = true
		r.RemoteID, r.RemoteName, r.ETag, r.CTag = it.ID, it.Name, it.ETag, it.CTag
		r.Size, r.QuickXorHash = it.Size, it.QuickXorHash
		r.HolderID, r.HolderName = it.CheckedOutBy.ID, it.CheckedOutBy.Name
		if err := tx.Put(r); err != nil {
			return err
		}
		if cleanW != nil {
			return cleanW(tx)
		}
		return nil
	})
	if err != nil {
		return found, false, err
	}
	return found, apply() && rewritten, nil
}

// setRemote records that key is it on the server; found is false when
// the record no longer exists.
func (fs *FS) setRemote(key string, it Item) error {
	_, err := fs.setRemoteFound(key, it)
	return err
}

func (fs *FS) setRemoteFound(key string, it Item) (found bool, err error) {
	fs.nsMu.Lock()
	defer fs.nsMu.Unlock()
	return found, fs.store.Update(func(tx *meta.Tx) error {
		r, err := tx.Get(key)
		if err != nil {
			return nil
		}
		found = true
		r.RemoteID, r.RemoteName, r.ETag, r.CTag = it.ID, it.Name, it.ETag, it.CTag
		if !r.IsDir {
			r.Size, r.QuickXorHash = it.Size, it.QuickXorHash
		}
		return tx.Put(r)
	})
}

func (fs *FS) pushMove(ctx context.Context, rec meta.Record) error {
	if rec.RemoteID == "" {
		return nil // the upload creates it under its current name
	}
	pid, err := fs.parentRemote(rec)
	if err != nil {
		return err
	}
	it, err := fs.moveOnServer(ctx, rec.RemoteID, pid, rec.Name, rec.ETag)
	if errors.Is(err, ErrNotFound) {
		// Gone on the server: upload the local copy as a new file.
		fs.nsMu.Lock()
		defer fs.nsMu.Unlock()
		return fs.store.Update(func(tx *meta.Tx) error {
			r, err := tx.Get(rec.Key)
			if err != nil {
				return nil
			}
			r.RemoteID, r.RemoteName, r.ETag = "", "", ""
			return tx.Put(r)
		})
	}
	if err != nil {
		return fmt.Errorf("move %s: %w", rec.Key, err)
	}
	fs.nsMu.Lock()
	defer fs.nsMu.Unlock()
	return fs.store.Update(func(tx *meta.Tx) error {
		r, err := tx.Get(rec.Key)
		if err != nil {
			return nil
		}
		fs.recordMoved(&r, it)
		return tx.Put(r)
	})
}

// upload sends a file's local content, resuming a journaled session.
func (fs *FS) upload(ctx context.Context, j meta.Job, rec meta.Record) error {
	if rec.IsDir || IsLocalOnly(rec.Name) {
		return nil
	}
	pid, err := fs.parentRemote(rec)
	if err != nil {
		return err
	}
	f := fs.content.Acquire(rec.Key, rec.Version(), rec.Size)
	defer f.Release()
	e := f.Entry()
	if !e.Dirty {
		return nil
	}
	gen, size := e.Gen, e.Size
	if size > 0 {
		last := (size - 1) / content.BlockSize
		if err := fs.dl.fetch(ctx, f, 0, last, last); err != nil {
			return fmt.Errorf("complete local copy before upload: %w", err)
		}
	}
	ifMatch := ""
	if rec.RemoteID != "" {
		ifMatch = rec.ETag
	}
	path := fs.pathOf(rec.Key)
	tid := "up:" + rec.Key
	defer fs.ev.finish(tid)
	fs.ev.progress(tid, Transfer{Path: path, Upload: true, Total: size}, fs.clock.Now())
	var h *quickxorhash.Digest
	var it Item
	for attempt := 0; ; attempt++ {
		h = quickxorhash.New()
		if size <= SimpleUploadMax {
			data := make([]byte, size)
			if _, err := f.ReadAt(data, 0); err != nil {
				return fmt.Errorf("read local copy: %w", err)
			}
			h.Write(data)
			cctx, stop := fs.commitCtx(ctx)
			it, err = fs.remote.PutSmall(cctx, pid, rec.Name, data, ifMatch)
			stop()
		} else {
			it, err = fs.uploadSession(ctx, j, rec, f, pid, ifMatch, gen, size, h, path, tid)
		}
		if ifMatch != "" || !errors.Is(err, ErrExist) || attempt >= 3 {
			break
		}
		// A new file whose name exists on the server, but not yet here:
		// never replace it. The same bytes (our own upload whose answer
		// was lost) are adopted; anything else is kept beside ours.
		h = quickxorhash.New()
		var same bool
		if it, same, err = fs.sameOnServer(ctx, pid, rec.Name, f, size, h); err != nil || same {
			break
		}
		if rec, err = fs.takeConflictName(rec); err != nil {
			return err
		}
		j.Session = nil
	}
	if errors.Is(err, ErrPreconditionFailed) {
		return fs.conflict(ctx, rec, f)
	}
	if err == nil {
		fs.noteOwn(it.ID, it.ETag)
	}
	if err != nil {
		return fmt.Errorf("upload %s: %w", rec.Key, err)
	}
	sum := base64.StdEncoding.EncodeToString(h.Sum(nil))
	rewritten := false
	if it.Size != size || (it.QuickXorHash != "" && it.QuickXorHash != sum) {
		if !IsOfficeDocument(rec.Name) {
			// The item now holds content that is not ours. It is ours to
			// replace: the retry sends the local copy over it (If-Match
			// its eTag), never as a new file beside it.
			if err := fs.setRemote(rec.Key, it); err != nil {
				return fmt.Errorf("upload %s: record the item after a hash mismatch: %w", rec.Key, err)
			}
			return fmt.Errorf("upload %s: server hash %s (size %d) differs from sent %s (size %d)", rec.Key, it.QuickXorHash, it.Size, sum, size)
		}
		// SharePoint embedded its properties: the server's version wins,
		// and since the local copy is now clean nothing re-uploads.
		fs.log.Info("server rewrote an uploaded Office document; using its version", "key", rec.Key)
		rewritten = true
	}
	fs.quotaFull.Store(false)
	found, rewrittenClean, err := fs.finishUpload(rec.Key, it, f, gen, rewritten)
	if err != nil {
		return err
	}
	fs.log.Debug("uploaded", "key", rec.Key, "id", it.ID, "found", found)
	if !found {
		// Deleted or renamed over another item while uploading: the
		// copy just created on the server must not linger.
		// Our own item, just created: deleted whatever its eTag.
		cctx, stop := fs.commitCtx(ctx)
		defer stop()
		if err := fs.remote.Delete(cctx, it.ID, ""); err != nil && !errors.Is(err, ErrNotFound) {
			// This job was dropped with its record: retry the delete as
			// a job of its own.
			fs.log.Warn("remove orphaned upload; queued", "err", err)
			return fs.queue.Add(newLocalKey(), meta.OpDelete, it.ID, "")
		}
		return nil
	}
	if rewrittenClean {
		f.Invalidate(itemVersion(it), it.Size)
	}
	fs.ev.emit(Event{Kind: EventUploaded, Path: path, Time: fs.clock.Now()})
	return nil
}

func (fs *FS) uploadSession(ctx context.Context, j meta.Job, rec meta.Record, f *content.File, pid, ifMatch string,
	gen uint64, size int64, h *quickxorhash.Digest, path, tid string) (Item, error) {
	var s UploadSession
	off := int64(0)
	if js := j.Session; js != nil && js.Gen == gen && js.Size == size && js.ParentID == pid && js.Name == rec.Name &&
		fs.clock.Now().Before(js.Expiration) {
		st, err := fs.remote.UploadStatus(ctx, UploadSession{URL: js.URL, Expiration: js.Expiration})
		switch {
		case err == nil && st.Received:
			// Every byte arrived and the commit failed (a full quota, a
			// name taken): commit the kept session, never send from 0
			// into a session that answers 416 to every byte.
			if st.URL == "" {
				st.URL = js.URL
			}
			if it, done, err := fs.commitKept(ctx, j, rec, f, st, pid, ifMatch, size, h); done || err != nil {
				return it, err
			}
			fs.log.Info("upload session cannot be committed here; restarting", "key", rec.Key)
		case err == nil:
			s, off = st, st.NextOffset
			if s.URL == "" {
				s.URL = js.URL
			}
			fs.log.Info("resuming upload session", "key", rec.Key, "offset", off)
		case errors.Is(err, ErrNotFound):
			fs.log.Info("upload session expired; restarting", "key", rec.Key)
		default:
			return Item{}, err
		}
	} else if js != nil {
		_ = fs.remote.CancelUpload(ctx, UploadSession{URL: js.URL})
	}
	if s.URL == "" {
		var err error
		s, err = fs.remote.CreateUploadSession(ctx, pid, rec.Name, size, ifMatch)
		if err != nil {
			return Item{}, err
		}
		off = 0
	}
	j.Session = &meta.Session{URL: s.URL, Expiration: s.Expiration, Size: size, Gen: gen, Next: off, ParentID: pid, Name: rec.Name}
	if err := fs.queue.Save(j); err != nil {
		return Item{}, fmt.Errorf("journal upload session: %w", err)
	}
	buf := make([]byte, FragmentSize)
	// The hash covers the whole content, including what a previous run sent.
	for pos := int64(0); pos < off; pos += FragmentSize {
		n := min(FragmentSize, off-pos)
		if _, err := f.ReadAt(buf[:n], pos); err != nil {
			return Item{}, fmt.Errorf("read local copy: %w", err)
		}
		h.Write(buf[:n])
	}
	// The next fragment is read (and decrypted) from the cache while one
	// is sent, so the two overlap instead of taking turns.
	type fragment struct {
		data []byte
		err  error
	}
	read := func(buf []byte, at int64) chan fragment {
		ch := make(chan fragment, 1)
		go func() {
			data := buf[:min(FragmentSize, size-at)]
			_, err := f.ReadAt(data, at)
			ch <- fragment{data, err}
		}()
		return ch
	}
	bufs, cur := [2][]byte{buf, nil}, 0
	var next chan fragment
	if off < size {
		next = read(bufs[cur], off)
	}
	defer func() {
		if next != nil {
			<-next // f stays in use until its read ends
		}
	}()
	for off < size {
		if ctx.Err() != nil {
			return Item{}, fs.abandonSession(ctx, j, ctx.Err())
		}
		fr := <-next
		next = nil
		if fr.err != nil {
			return Item{}, fmt.Errorf("read local copy: %w", fr.err)
		}
		buf, n := fr.data, int64(len(fr.data))
		if off+n < size {
			cur ^= 1
			if bufs[cur] == nil {
				bufs[cur] = make([]byte, FragmentSize)
			}
			next = read(bufs[cur], off+n)
		}
		fctx := ctx
		if off+n == size {
			// The last fragment commits the file: once sent, its answer
			// is awaited whatever happens to the job meanwhile.
			var stop context.CancelFunc
			fctx, stop = fs.commitCtx(ctx)
			defer stop()
		}
		it, err := fs.remote.UploadFragment(fctx, s, off, size, buf[:n])
		if err != nil && fs.jobCancelled(ctx) && off+n < size {
			return Item{}, fs.abandonSession(ctx, j, err)
		}
		if errors.Is(err, ErrNotFound) {
			j.Session = nil
			_ = fs.queue.Save(j)
			return Item{}, fmt.Errorf("upload session vanished: %w", ErrOffline)
		}
		if err != nil && off+n == size && keptAfterFailedCommit(err) {
			// The last fragment arrived but the commit failed: the server
			// keeps the session and its bytes. Journal that nothing is left
			// to send, so that a retry commits instead of resending.
			j.Session.Next = size
			if serr := fs.queue.Save(j); serr != nil {
				return Item{}, fmt.Errorf("journal upload progress: %w", serr)
			}
			if errors.Is(err, ErrExist) {
				h.Write(buf[:n])
				s.Received = true
				if it, done, cerr := fs.commitKept(ctx, j, rec, f, s, pid, ifMatch, size, nil); done || cerr != nil {
					return it, cerr
				}
			}
			return Item{}, err
		}
		if err != nil {
			return Item{}, err
		}
		h.Write(buf[:n])
		off += n
		j.Session.Next = off
		if err := fs.queue.Save(j); err != nil {
			return Item{}, fmt.Errorf("journal upload progress: %w", err)
		}
		fs.ev.progress(tid, Transfer{Path: path, Upload: true, Done: off, Total: size}, fs.clock.Now())
		if it != nil {
			return *it, nil
		}
	}
	return Item{}, errors.New("upload session ended without an item")
}

// abandonSession ends an upload session whose job a delete or rename
// cancelled (cause is why the upload stopped): the session is cancelled
// on the server, so that nothing of it commits. Close only stops it: the
// session stays journaled and resumes on the next start.
func (fs *FS) abandonSession(ctx context.Context, j meta.Job, cause error) error {
	if !fs.jobCancelled(ctx) {
		return cause
	}
	cctx, stop := fs.commitCtx(ctx)
	defer stop()
	if err := fs.cancelSession(cctx, &j); err != nil {
		fs.log.Debug("cancel an abandoned upload session; the job retries it", "key", j.Key, "err", err)
	}
	return fmt.Errorf("upload of %s stopped: %w", j.Key, cause)
}

// keptAfterFailedCommit reports whether err, from a last fragment, is a
// failed commit after which Graph keeps the session (graph-contract.md,
// "Upload session": name conflict, quota; a changed eTag alike).
func keptAfterFailedCommit(err error) bool {
	return errors.Is(err, ErrExist) || errors.Is(err, ErrQuotaExceeded) || errors.Is(err, ErrPreconditionFailed)
}

// commitKept commits a session that holds every byte but whose commit
// failed. done is false when the remote cannot commit kept sessions or the
// session expired: the caller starts a new one. A name taken meanwhile on
// the server by a file not known here (ErrExist on a new file) is
// resolved as a conflict: the local file is renamed to a conflict name and
// committed under it, so both versions stay. A full quota returns
// ErrQuotaExceeded: the job waits with backoff and commits later, the
// bytes staying on the server. h, when non-nil, gets the whole content.
func (fs *FS) commitKept(ctx context.Context, j meta.Job, rec meta.Record, f *content.File, s UploadSession,
	pid, ifMatch string, size int64, h *quickxorhash.Digest) (it Item, done bool, err error) {
	sc, ok := fs.remote.(SessionCommitter)
	if !ok {
		return Item{}, false, nil
	}
	if h != nil {
		if err := hashLocal(f, size, h); err != nil {
			return Item{}, true, err
		}
	}
	conflict := "fail"
	if ifMatch != "" {
		conflict = "replace"
	}
	name := rec.Name
	now := fs.clock.Now()
	for n := 0; ; n++ {
		if n > 0 {
			if ifMatch != "" || n > 100 {
				return Item{}, true, fmt.Errorf("commit kept upload of %s: %w", rec.Key, ErrExist)
			}
			name = ConflictName(rec.Name, fs.opt.Host, now, n)
			if _, err := fs.child(rec.ParentKey, name); !errors.Is(err, ErrNotFound) {
				continue
			}
		}
		cctx, stop := fs.commitCtx(ctx)
		it, err = sc.CommitUpload(cctx, s, pid, name, conflict, ifMatch)
		stop()
		switch {
		case errors.Is(err, ErrExist):
			continue
		case errors.Is(err, ErrNotFound):
			j.Session = nil
			_ = fs.queue.Save(j)
			return Item{}, false, nil
		case err != nil:
			return Item{}, true, fmt.Errorf("commit kept upload of %s: %w", rec.Key, err)
		}
		break
	}
	if name != rec.Name {
		if err := fs.renameForConflict(rec, name); err != nil {
			return Item{}, true, err
		}
	}
	return it, true, nil
}

// takeConflictName renames a new local file whose name is taken on the
// server to the first free conflict name, and returns its record.
func (fs *FS) takeConflictName(rec meta.Record) (meta.Record, error) {
	now := fs.clock.Now()
	for n := 1; ; n++ {
		name := ConflictName(rec.Name, fs.opt.Host, now, n)
		if _, err := fs.child(rec.ParentKey, name); errors.Is(err, ErrNotFound) {
			if err := fs.renameForConflict(rec, name); err != nil {
				return rec, err
			}
			rec.Name = name
			return rec, nil
		}
	}
}

// renameForConflict renames the local record of a file not yet on the
// server to name, the name its content goes to the server under, so that
// the server's file of the old name shows beside it.
func (fs *FS) renameForConflict(rec meta.Record, name string) error {
	orig := fs.pathOf(rec.Key)
	fs.nsMu.Lock()
	err := fs.store.Update(func(tx *meta.Tx) error {
		r, err := tx.Get(rec.Key)
		if err != nil {
			return nil
		}
		r.Name = name
		return tx.Put(r)
	})
	fs.nsMu.Unlock()
	if err != nil {
		return fmt.Errorf("rename %s to a conflict name: %w", rec.Key, err)
	}
	now := fs.clock.Now()
	c := Conflict{Path: orig, ConflictPath: fs.pathOf(rec.Key), Time: now}
	fs.log.Warn("conflict: a new file's name was taken on the server; the local file is kept under a conflict name", "key", rec.Key)
	fs.ev.emit(Event{Kind: EventConflict, Path: c.Path, Conflict: &c, Time: now})
	return nil
}

// sameOnServer reports whether the server's file name in parentID has the
// local content (size and quickXorHash), returning it. h gets the local
// content.
func (fs *FS) sameOnServer(ctx context.Context, parentID, name string, f *content.File, size int64, h *quickxorhash.Digest) (Item, bool, error) {
	if err := hashLocal(f, size, h); err != nil {
		return Item{}, false, err
	}
	items, err := fs.remote.List(ctx, parentID)
	if err != nil {
		return Item{}, false, fmt.Errorf("list the folder of a taken name: %w", err)
	}
	sum := base64.StdEncoding.EncodeToString(h.Sum(nil))
	for _, it := range items {
		if it.Name == name && !it.IsDir && it.Size == size && it.QuickXorHash == sum {
			return it, true, nil
		}
	}
	return Item{}, false, nil
}

// hashLocal writes the first size bytes of f into h.
func hashLocal(f *content.File, size int64, h *quickxorhash.Digest) error {
	buf := make([]byte, min(FragmentSize, max(size, 1)))
	for pos := int64(0); pos < size; pos += int64(len(buf)) {
		n := min(int64(len(buf)), size-pos)
		if _, err := f.ReadAt(buf[:n], pos); err != nil {
			return fmt.Errorf("read local copy: %w", err)
		}
		h.Write(buf[:n])
	}
	return nil
}

// conflict keeps the local version of rec beside the server's, as
// "name (conflict from HOST date).ext", and reloads the original.
func (fs *FS) conflict(ctx context.Context, rec meta.Record, f *content.File) error {
	now := fs.clock.Now()
	var cname string
	for n := 1; ; n++ {
		cname = ConflictName(rec.Name, fs.opt.Host, now, n)
		if _, err := fs.child(rec.ParentKey, cname); errors.Is(err, ErrNotFound) {
			break
		}
	}
	orig, gerr := fs.remote.Get(ctx, rec.RemoteID)
	if gerr != nil && !errors.Is(gerr, ErrNotFound) {
		return fmt.Errorf("reload conflicting item: %w", gerr)
	}
	newKey := newLocalKey()
	if err := fs.content.Rename(rec.Key, newKey); err != nil {
		return fmt.Errorf("keep conflicting copy: %w", err)
	}
	fs.nsMu.Lock()
	err := fs.store.Update(func(tx *meta.Tx) error {
		if err := tx.Put(meta.Record{Key: newKey, ParentKey: rec.ParentKey, Name: cname, ModTime: now}); err != nil {
			return err
		}
		cur, err := tx.Get(rec.Key)
		if err != nil {
			return nil
		}
		if gerr != nil {
			return tx.Delete(rec.Key)
		}
		cur.RemoteName, cur.ETag, cur.CTag, cur.Size, cur.QuickXorHash, cur.ModTime =
			orig.Name, orig.ETag, orig.CTag, orig.Size, orig.QuickXorHash, orig.ModTime
		return tx.Put(cur)
	})
	fs.nsMu.Unlock()
	if err != nil {
		return fmt.Errorf("record conflicting copy: %w", err)
	}
	if err := fs.queue.Add(newKey, meta.OpUpload, "", ""); err != nil {
		return err
	}
	c := Conflict{Path: fs.pathOf(rec.Key), ConflictPath: fs.pathOf(newKey), Time: now}
	fs.log.Warn("conflict: the server's version changed; the local version is kept beside it", "key", rec.Key)
	fs.ev.emit(Event{Kind: EventConflict, Path: c.Path, Conflict: &c, Time: now})
	return nil
}

// itemVersion is the content version of it, as meta.Record.Version.
func itemVersion(it Item) string {
	return meta.ContentVersion(it.Size, it.QuickXorHash, it.CTag, it.ETag)
}
