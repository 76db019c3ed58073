package vfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/mapdrive/mapdrive/client/internal/vfs/content"
	"github.com/mapdrive/mapdrive/client/internal/vfs/meta"
)

// downloader fills cache files with the remote content they mirror: range
// requests of Options.ChunkSize, at most Options.DownloadStreams at once,
// through a cache of download URLs, with the checks that keep all of a
// file's stored blocks of one version (checkRange, revalidate).
type downloader struct {
	fs  *FS           // records, remotes and online state; immutable
	sem chan struct{} // one token per running range request; immutable

	errs sync.Map // key -> last download error, taken by fetch

	mu   sync.Mutex        // guards the maps below
	urls map[string]string // remote id + version -> download URL
	// tags pins, per key and cached version, the ETag of the first ranged
	// response; a later range with another ETag is of a newer version.
	tags map[string]string
	// checked holds the key and version pairs revalidate found current.
	checked map[string]bool
}

func newDownloader(fs *FS, streams int) *downloader {
	return &downloader{fs: fs, sem: make(chan struct{}, streams), urls: map[string]string{}}
}

// fetch makes blocks [first, last] of f present, downloading them (and
// read-ahead up to raLast) with parallel range requests.
func (d *downloader) fetch(ctx context.Context, f *content.File, first, last, raLast int64) error {
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		for _, run := range f.Claim(first, raLast) {
			d.startDownloads(f, run[0], run[1])
		}
		if err := f.Wait(ctx, first, last); err != nil {
			return err
		}
		if !f.Missing(first, last) {
			return nil
		}
		lastErr = d.takeErr(f.Key())
		if errors.Is(lastErr, ErrOffline) {
			return lastErr
		}
	}
	if lastErr == nil {
		lastErr = errors.New("download did not complete")
	}
	return fmt.Errorf("download content: %w", lastErr)
}

// startDownloads splits a claimed run into range requests of ChunkSize.
func (d *downloader) startDownloads(f *content.File, start, end int64) {
	per := max(d.fs.opt.ChunkSize/content.BlockSize, 1)
	for s := start; s <= end; s += per {
		e := min(s+per-1, end)
		d.fs.wg.Go(func() { d.download(f, s, e) })
	}
}

func (d *downloader) takeErr(key string) error {
	if v, ok := d.errs.LoadAndDelete(key); ok {
		return v.(error)
	}
	return nil
}

// download fetches blocks [start, end] of f, already claimed.
func (d *downloader) download(f *content.File, start, end int64) {
	next := start
	defer func() {
		for ; next <= end; next++ {
			f.Abort(next)
		}
	}()
	select {
	case d.sem <- struct{}{}:
	case <-d.fs.ctx.Done():
		return
	}
	defer func() { <-d.sem }()
	key := f.Key()
	e := f.Entry()
	off := start * content.BlockSize
	n := min((end+1)*content.BlockSize, e.RemoteSize) - off
	if n <= 0 {
		return
	}
	var err error
	if f.AnyPresent() && !d.hasRangePin(key, e.Version) {
		err = d.revalidate(d.fs.ctx, key, e.Version)
	}
	if err == nil {
		err = d.readRange(d.fs.ctx, key, e.Version, e.RemoteSize, off, n, func(idx int64, data []byte) error {
			if idx != next {
				return fmt.Errorf("block %d out of order", idx)
			}
			err := f.FillOwned(idx, data)
			next++
			return err
		}, start)
	}
	if err != nil {
		d.fs.noteErr(err)
		d.errs.Store(key, err)
		d.fs.log.Warn("download failed", "key", key, "err", err)
		return
	}
	d.fs.noteOnline()
	d.fs.content.Evict()
}

// readRange streams [off, off+n) of key's remote content in blocks, each
// in a new BlockSize buffer that block may keep, refreshing an expired
// download URL once. version and size are what the
// cache holds blocks of: a response of another size or ETag is refused
// before any of its bytes is stored.
func (d *downloader) readRange(ctx context.Context, key, version string, size, off, n int64, block func(idx int64, data []byte) error, firstIdx int64) error {
	r, err := d.fs.get(key)
	if err != nil {
		return err
	}
	if r.RemoteID == "" {
		return fmt.Errorf("content of %s: %w", key, ErrNotFound)
	}
	for attempt := 0; ; attempt++ {
		remote := d.fs.remoteOf(r.Drive)
		if remote == nil {
			return fmt.Errorf("content of %s: drive %s: %w", key, r.Drive, ErrNotFound)
		}
		url, err := d.downloadURL(ctx, remote, r.RemoteID, r.Version(), attempt > 0)
		if err != nil {
			return err
		}
		rc, err := remote.ReadRange(ctx, url, off, n)
		if errors.Is(err, ErrURLExpired) && attempt == 0 {
			continue
		}
		if err != nil {
			return fmt.Errorf("read range of %s: %w", key, err)
		}
		defer rc.Close()
		if rv, ok := rc.(RangeVersion); ok {
			if err := d.checkRange(key, version, size, rv); err != nil {
				return err
			}
		}
		idx := firstIdx
		for left := n; left > 0; idx++ {
			// A new buffer per block: block (content.File.FillOwned) keeps it.
			buf := make([]byte, content.BlockSize)
			want := min(left, content.BlockSize)
			if _, err := io.ReadFull(rc, buf[:want]); err != nil {
				return fmt.Errorf("read range of %s: %w", key, err)
			}
			if err := block(idx, buf[:want]); err != nil {
				return err
			}
			left -= want
		}
		return nil
	}
}

// hasRangePin reports whether this process pinned the ETag of a ranged
// response of key at version (checkRange), or checked that version
// against the server (revalidate).
func (d *downloader) hasRangePin(key, version string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.tags[key+"\x00"+version]
	return ok || d.checked[key+"\x00"+version]
}

// revalidate runs before the first download of a version whose blocks
// this process did not pin (an earlier run of the mount cached them): the
// server may hold other content now, and its first range would be pinned
// and stored beside the old blocks. The item is fetched; if its content
// version is no longer the cached one, the record takes the server's and
// the download is refused (ErrContentChanged), so the next open drops the
// old blocks.
func (d *downloader) revalidate(ctx context.Context, key, version string) error {
	r, err := d.fs.get(key)
	if err != nil {
		return err
	}
	remote := d.fs.remoteOf(r.Drive)
	if remote == nil || r.RemoteID == "" {
		return nil
	}
	it, err := remote.Get(ctx, r.RemoteID)
	if err != nil {
		return fmt.Errorf("check the cached version of %s: %w", key, err)
	}
	if itemVersion(it) == version {
		d.mu.Lock()
		if d.checked == nil || len(d.checked) > 10000 {
			d.checked = make(map[string]bool)
		}
		d.checked[key+"\x00"+version] = true
		d.mu.Unlock()
		return nil
	}
	err = d.fs.updateNS(func(tx *meta.Tx) error {
		cur, err := tx.Get(key)
		if err != nil || cur.RemoteID != it.ID {
			return nil
		}
		return d.fs.applyItemLocked(tx, it, cur.ParentKey, cur.Drive)
	})
	if err != nil {
		return fmt.Errorf("record the new version of %s: %w", key, err)
	}
	return fmt.Errorf("content of %s changed on the server since it was cached: %w", key, ErrContentChanged)
}

// checkRange refuses a ranged response that is not of the cached
// version: its total differs from size, or its ETag from the first one
// seen for this version. A response carries its own bytes, so the bytes
// already stored stay those of one version.
func (d *downloader) checkRange(key, version string, size int64, rv RangeVersion) error {
	etag, total := rv.RangeVersion()
	if total >= 0 && total != size {
		return fmt.Errorf("read range of %s: size %d, cached version has %d: %w", key, total, size, ErrContentChanged)
	}
	if etag == "" {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.tags == nil || len(d.tags) > 10000 {
		d.tags = make(map[string]string)
	}
	k := key + "\x00" + version
	if first, ok := d.tags[k]; ok && first != etag {
		return fmt.Errorf("read range of %s: ETag changed during the download: %w", key, ErrContentChanged)
	}
	d.tags[k] = etag
	return nil
}

func (d *downloader) downloadURL(ctx context.Context, remote Remote, remoteID, version string, refresh bool) (string, error) {
	d.mu.Lock()
	u, ok := d.urls[remoteID+"\x00"+version]
	d.mu.Unlock()
	if ok && !refresh {
		return u, nil
	}
	u, err := remote.DownloadURL(ctx, remoteID)
	if err != nil {
		return "", fmt.Errorf("download URL of %s: %w", remoteID, err)
	}
	d.mu.Lock()
	if len(d.urls) > 10000 {
		clear(d.urls)
	}
	d.urls[remoteID+"\x00"+version] = u
	d.mu.Unlock()
	return u, nil
}
