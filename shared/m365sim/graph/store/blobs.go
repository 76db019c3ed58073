package store

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/mapdrive/mapdrive/shared/quickxorhash"
)

// ErrTooLarge is returned by WriteBlob when the content exceeds the limit.
var ErrTooLarge = errors.New("content exceeds the size limit")

// BlobInfo describes stored content.
type BlobInfo struct {
	Name string
	Size int64
	Hash string // quickXorHash, base64
}

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

// TempPath is where a named staging file lives.
func (s *Store) TempPath(name string) string { return filepath.Join(s.tmp, filepath.Base(name)) }

// WriteBlob streams r into a new blob, hashing it on the way. With limit
// >= 0, content longer than limit gives ErrTooLarge; with want >= 0, content
// of another length gives io.ErrUnexpectedEOF. The blob is written in
// place under a fresh name: nothing refers to it until the caller commits
// metadata naming it, so no temporary file and rename are needed.
func (s *Store) WriteBlob(r io.Reader, limit, want int64) (BlobInfo, error) {
	name := NewToken(20)
	dst, err := s.newBlobFile(name)
	if err != nil {
		return BlobInfo{}, err
	}
	h := quickxorhash.New()
	src := r
	if limit >= 0 {
		src = io.LimitReader(r, limit+1)
	}
	var n int64
	if sr, ok := r.(*strings.Reader); ok && sr.Len() < 64<<10 {
		n, err = io.Copy(io.MultiWriter(dst, h), src)
	} else {
		n, err = io.CopyBuffer(io.MultiWriter(dst, h), src, make([]byte, 256<<10))
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	switch {
	case err != nil:
	case limit >= 0 && n > limit:
		err = ErrTooLarge
	case want >= 0 && n != want:
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		os.Remove(dst.Name())
		return BlobInfo{}, fmt.Errorf("write blob: %w", err)
	}
	return BlobInfo{Name: name, Size: n, Hash: h.String()}, nil
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

// CloneBlob returns a new blob with the same content (a hard link when the
// file system allows, since blobs are never modified in place).
func (s *Store) CloneBlob(name string) (string, error) {
	if name == "" {
		return "", nil
	}
	nn := NewToken(20)
	dst := s.blobPath(nn)
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return "", fmt.Errorf("clone blob: %w", err)
	}
	if err := os.Link(s.blobPath(name), dst); err == nil {
		return nn, nil
	}
	src, err := os.Open(s.blobPath(name))
	if err != nil {
		return "", fmt.Errorf("clone blob: %w", err)
	}
	defer src.Close()
	out, err := os.Create(dst)
	if err != nil {
		return "", fmt.Errorf("clone blob: %w", err)
	}
	if _, err := io.Copy(out, src); err != nil {
		out.Close()
		os.Remove(dst)
		return "", fmt.Errorf("clone blob: %w", err)
	}
	return nn, out.Close()
}

// OpenBlob opens a blob for reading. An empty name is empty content.
func (s *Store) OpenBlob(name string) (*os.File, error) {
	if name == "" {
		return nil, ErrNotFound
	}
	f, err := os.Open(s.blobPath(name))
	if err != nil {
		return nil, fmt.Errorf("open blob: %w", err)
	}
	return f, nil
}

// RemoveBlob deletes a blob; readers that have it open keep reading.
func (s *Store) RemoveBlob(name string) {
	if name != "" {
		os.Remove(s.blobPath(name))
	}
}
