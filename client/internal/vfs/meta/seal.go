package meta

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
)

// An upload session's URL is pre-authenticated: whoever holds it may
// write the file until the session expires, without a token. The journal
// keeps it sealed (AES-GCM under a key derived from the cache key) so
// meta.db never holds one in clear (issue #15, finding 6).

// sessionKeyInfo separates the session-URL key from the block key, both
// derived from the one cache key.
const sessionKeyInfo = "mapdrive journal upload-session url v1"

// AES-GCM's standard nonce and tag sizes, as the content cache uses.
const (
	nonceSize = 12
	tagSize   = 16
)

// Sealer seals and opens upload-session URLs for one drive's journal.
// It is immutable after construction and safe for concurrent use.
type Sealer struct {
	aead  cipher.AEAD
	drive string
}

// NewSealer returns the sealer of drive's journal under the cache key.
// drive binds every sealed URL to that drive: a journal copied into
// another drive's state does not open there.
func NewSealer(cacheKey []byte, drive string) (*Sealer, error) {
	k, err := hkdf.Key(sha256.New, cacheKey, nil, sessionKeyInfo, 32)
	if err != nil {
		return nil, fmt.Errorf("derive the journal key: %w", err)
	}
	blk, err := aes.NewCipher(k)
	if err != nil {
		return nil, fmt.Errorf("journal key: %w", err)
	}
	aead, err := cipher.NewGCM(blk)
	if err != nil {
		return nil, fmt.Errorf("journal cipher: %w", err)
	}
	return &Sealer{aead: aead, drive: drive}, nil
}

// ad binds a sealed URL to the drive and the journal entry (item key).
// Each part is length-prefixed, so no two (drive, key) pairs share one.
func (s *Sealer) ad(key string) []byte {
	var b []byte
	for _, p := range []string{"session-url", s.drive, key} {
		b = binary.AppendUvarint(b, uint64(len(p)))
		b = append(b, p...)
	}
	return b
}

func (s *Sealer) seal(url, key string) []byte {
	out := make([]byte, nonceSize, nonceSize+len(url)+tagSize)
	if _, err := rand.Read(out); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err)) // never fails on supported platforms
	}
	return s.aead.Seal(out, out[:nonceSize], []byte(url), s.ad(key))
}

func (s *Sealer) open(sealed []byte, key string) (string, error) {
	if len(sealed) < nonceSize+tagSize {
		return "", errors.New("sealed session url too short")
	}
	p, err := s.aead.Open(nil, sealed[:nonceSize], sealed[nonceSize:], s.ad(key))
	if err != nil {
		return "", fmt.Errorf("open sealed session url: %w", err)
	}
	return string(p), nil
}
