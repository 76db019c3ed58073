package store

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/mapdrive/mapdrive/shared/quickxorhash"
)

// ErrTooLarge is returned by WriteBlob when the content exceeds the limit.
var ErrTooLarge = errors.New("content exceeds the size limit")

// BlobInfo describes stored content.
type BlobInfo struct {
	Name string
	Size int64
	Hash string // quickXorHash, base64
	// Data is the content of a small blob that lives in the database
	// rather than in a file; the caller stores it with Tx.PutBlob in the
	// transaction that commits the metadata naming it.
	Data []byte
}

// InlineMax is the largest content kept in the database instead of a blob
// file. Creating many small files is what makes seeding "10,000 files of
// 4 KiB" slow on a busy disk; small content in bbolt costs one batched
// transaction instead. Large content always goes to files.
const InlineMax = 64 << 10

// headPool holds the buffers WriteBlob reads a blob's first InlineMax+1
// bytes into.
var headPool = sync.Pool{New: func() any { b := make([]byte, InlineMax+1); return &b }}

// inlinePrefix marks the names of blobs kept in the database.
const inlinePrefix = "~"

// IsInline reports whether the blob called name lives in the database.
func IsInline(name string) bool { return strings.HasPrefix(name, inlinePrefix) }

func (s *Store) blobPath(name string) string {
	return filepath.Join(s.blob, name[:2], name)
}

// TempFile creates a staging file (for upload sessions) in the store's tmp
// directory. The caller removes it or imports it with ImportBlob.
func (s *Store) TempFile() (*os.File, error) {
	f, err := os.CreateTemp(s.tmp, "stage-*")
	if err != nil {
		return nil, fmt.Errorf("create staging file: %w", err)
	}
	return f, nil
}

// WriteBlob streams r into a new blob, hashing it on the way. With limit
// >= 0, content longer than limit gives ErrTooLarge; with want >= 0, content
// of another length gives io.ErrUnexpectedEOF. Content up to InlineMax is
// returned in BlobInfo.Data for the caller to store (Tx.PutBlob); larger
// content is written in place to a file under a fresh name: nothing refers
// to it until the caller commits metadata naming it, so no temporary file
// and rename are needed.
func (s *Store) WriteBlob(r io.Reader, limit, want int64) (BlobInfo, error) {
	src := r
	if limit >= 0 {
		src = io.LimitReader(r, limit+1)
	}
	bp := headPool.Get().(*[]byte)
	defer headPool.Put(bp)
	head := *bp
	n, err := io.ReadFull(src, head)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		info := BlobInfo{Name: inlinePrefix + NewToken(20), Size: int64(n), Data: bytes.Clone(head[:n])}
		switch {
		case limit >= 0 && info.Size > limit:
			return BlobInfo{}, fmt.Errorf("write blob: %w", ErrTooLarge)
		case want >= 0 && info.Size != want:
			return BlobInfo{}, fmt.Errorf("write blob: %w", io.ErrUnexpectedEOF)
		}
		h := quickxorhash.New()
		h.Write(info.Data)
		info.Hash = h.String()
		return info, nil
	}
	if err != nil {
		return BlobInfo{}, fmt.Errorf("write blob: %w", err)
	}
	name := NewToken(20)
	dst, err := s.newBlobFile(name)
	if err != nil {
		return BlobInfo{}, err
	}
	h := quickxorhash.New()
	w := io.MultiWriter(dst, h)
	_, err = w.Write(head)
	var rest int64
	if err == nil {
		rest, err = io.CopyBuffer(w, src, make([]byte, 256<<10))
	}
	total := int64(len(head)) + rest
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	switch {
	case err != nil:
	case limit >= 0 && total > limit:
		err = ErrTooLarge
	case want >= 0 && total != want:
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		os.Remove(dst.Name())
		return BlobInfo{}, fmt.Errorf("write blob: %w", err)
	}
	return BlobInfo{Name: name, Size: total, Hash: h.String()}, nil
}

// newBlobFile creates the file of a new blob, making its fan-out
// directory the first time.
func (s *Store) newBlobFile(name string) (*os.File, error) {
	p := s.blobPath(name)
	d := filepath.Dir(p)
	if _, ok := s.dirs.Load(d); !ok {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("create blob dir: %w", err)
		}
		s.dirs.Store(d, true)
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create blob: %w", err)
	}
	return f, nil
}

// ImportBlob hashes a staging file and moves it into the blob store.
func (s *Store) ImportBlob(tmp string) (BlobInfo, error) {
	f, err := os.Open(tmp)
	if err != nil {
		return BlobInfo{}, fmt.Errorf("import blob: %w", err)
	}
	h := quickxorhash.New()
	n, err := io.CopyBuffer(h, f, make([]byte, 1<<20))
	f.Close()
	if err != nil {
		return BlobInfo{}, fmt.Errorf("hash staged content: %w", err)
	}
	name := NewToken(20)
	dst := s.blobPath(name)
	if _, ok := s.dirs.Load(filepath.Dir(dst)); !ok {
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			return BlobInfo{}, fmt.Errorf("import blob: %w", err)
		}
		s.dirs.Store(filepath.Dir(dst), true)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return BlobInfo{}, fmt.Errorf("import blob: %w", err)
	}
	return BlobInfo{Name: name, Size: n, Hash: h.String()}, nil
}

// UnimportBlob undoes ImportBlob: the file blob name goes back to tmp, so
// that a commit that failed leaves its staged content where it was.
func (s *Store) UnimportBlob(name, tmp string) error {
	if err := os.Rename(s.blobPath(name), tmp); err != nil {
		return fmt.Errorf("return blob to staging: %w", err)
	}
	return nil
}

// CloneBlob returns a new blob with the same content. A file blob is hard
// linked where the file system allows (blobs are never modified in place);
// a database blob comes back with its Data for the caller to store with
// Tx.PutBlob.
func (s *Store) CloneBlob(name string) (BlobInfo, error) {
	if name == "" {
		return BlobInfo{}, nil
	}
	if IsInline(name) {
		var data []byte
		err := s.View(func(tx *Tx) error {
			v := tx.tx.Bucket(bInline).Get([]byte(name))
			if v == nil {
				return ErrNotFound
			}
			data = bytes.Clone(v)
			return nil
		})
		if err != nil {
			return BlobInfo{}, fmt.Errorf("clone blob: %w", err)
		}
		return BlobInfo{Name: inlinePrefix + NewToken(20), Size: int64(len(data)), Data: data}, nil
	}
	nn := NewToken(20)
	dst := s.blobPath(nn)
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return BlobInfo{}, fmt.Errorf("clone blob: %w", err)
	}
	if err := os.Link(s.blobPath(name), dst); err == nil {
		return BlobInfo{Name: nn}, nil
	}
	src, err := os.Open(s.blobPath(name))
	if err != nil {
		return BlobInfo{}, fmt.Errorf("clone blob: %w", err)
	}
	defer src.Close()
	out, err := os.Create(dst)
	if err != nil {
		return BlobInfo{}, fmt.Errorf("clone blob: %w", err)
	}
	if _, err := io.Copy(out, src); err != nil {
		out.Close()
		os.Remove(dst)
		return BlobInfo{}, fmt.Errorf("clone blob: %w", err)
	}
	return BlobInfo{Name: nn}, out.Close()
}

// Blob is open content: a file, or a database blob read into memory.
type Blob interface {
	io.ReadSeekCloser
}

type memBlob struct{ *bytes.Reader }

func (memBlob) Close() error { return nil }

// OpenBlob opens a blob for reading.
func (s *Store) OpenBlob(name string) (Blob, error) {
	if name == "" {
		return nil, ErrNotFound
	}
	if IsInline(name) {
		var data []byte
		err := s.View(func(tx *Tx) error {
			v := tx.tx.Bucket(bInline).Get([]byte(name))
			if v == nil {
				return ErrNotFound
			}
			data = bytes.Clone(v)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("open blob: %w", err)
		}
		return memBlob{bytes.NewReader(data)}, nil
	}
	f, err := os.Open(s.blobPath(name))
	if err != nil {
		return nil, fmt.Errorf("open blob: %w", err)
	}
	return f, nil
}

// RemoveBlob deletes a file blob; readers that have it open keep reading.
// It is for content no committed metadata names, or that a committed
// transaction dropped (Tx.DropBlob).
func (s *Store) RemoveBlob(name string) {
	// A database blob exists only once a transaction stored it with its
	// metadata, and goes with Tx.DropBlob; there is nothing to undo here.
	if name != "" && !IsInline(name) {
		os.Remove(s.blobPath(name))
	}
}

// PutBlob stores the Data of a database blob; it does nothing for files.
func (t *Tx) PutBlob(info BlobInfo) error {
	if !IsInline(info.Name) {
		return nil
	}
	return t.tx.Bucket(bInline).Put([]byte(info.Name), info.Data)
}

// DropBlob deletes a database blob in the transaction and reports whether
// name is a file blob, which the caller removes with RemoveBlob once the
// transaction has committed.
func (t *Tx) DropBlob(name string) (isFile bool, err error) {
	if name == "" {
		return false, nil
	}
	if IsInline(name) {
		return false, t.tx.Bucket(bInline).Delete([]byte(name))
	}
	return true, nil
}
