// Package crypto owns Mapdrive's keys: the key-encryption-key (KEK)
// providers (a local key file for development, Azure Key Vault for
// production), per-tenant data keys (DEKs) and the AES-256-GCM field
// cipher, the server secret's derived keys (seat keys, blind indexes,
// audit pseudonyms, the lease-signing key).
//
// It is the equivalent for an ORM-based service of SQL Server Always
// Encrypted (shared/reference/graph-contract.md, last section): the
// database only ever holds wrapped keys, ciphertext and blind indexes.
package crypto

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
)

// KEK is a key-encryption-key provider. Implementations are safe for
// concurrent use.
type KEK interface {
	// Wrap encrypts a data key under the current KEK version and returns
	// the identifier of that version with the wrapped bytes.
	Wrap(ctx context.Context, dek []byte) (kekID string, wrapped []byte, err error)
	// Unwrap decrypts a data key wrapped by KEK version kekID.
	Unwrap(ctx context.Context, kekID string, wrapped []byte) ([]byte, error)
	// Rotate makes a new KEK version current, where the provider can
	// (the local file); Key Vault keys are rotated in Key Vault, and Wrap
	// then uses the newest version.
	Rotate(ctx context.Context) error
	// Name describes the provider for logs ("local", "azurekv").
	Name() string
}

// KeySize is the size of data keys and of the server secret.
const KeySize = 32

const cipherVersion = 1

// Errors.
var (
	ErrDecrypt   = errors.New("decrypt: authentication failed")
	ErrMalformed = errors.New("decrypt: malformed ciphertext")
)

// NewKey returns KeySize random bytes.
func NewKey() ([]byte, error) {
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	return k, nil
}

// DataKey is one version of a tenant's data key. Immutable; safe for
// concurrent use.
type DataKey struct {
	version uint32
	aead    cipher.AEAD
}

// NewDataKey returns the field cipher of a data key version.
func NewDataKey(version uint32, key []byte) (*DataKey, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("data key: %d bytes, want %d", len(key), KeySize)
	}
	blk, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("data key: %w", err)
	}
	aead, err := cipher.NewGCM(blk)
	if err != nil {
		return nil, fmt.Errorf("data key: %w", err)
	}
	return &DataKey{version: version, aead: aead}, nil
}

// Version is the key's version number.
func (k *DataKey) Version() uint32 { return k.version }

// Cell names the database cell a value belongs to. It is bound into the
// ciphertext as associated data, so a ciphertext copied to another
// tenant, table, column or row does not decrypt.
type Cell struct {
	Tenant, Table, Column, Row string
}

func (c Cell) ad(version uint32) []byte {
	b := make([]byte, 0, 96)
	b = append(b, "mapdrive.cell.v1"...)
	for _, s := range []string{c.Tenant, c.Table, c.Column, c.Row} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	return binary.BigEndian.AppendUint32(b, version)
}

// Seal encrypts plain for cell. The result is
// version byte (1) | key version (4, big endian) | nonce (12) | sealed.
func (k *DataKey) Seal(plain []byte, cell Cell) ([]byte, error) {
	out := make([]byte, 5, 5+k.aead.NonceSize()+len(plain)+k.aead.Overhead())
	out[0] = cipherVersion
	binary.BigEndian.PutUint32(out[1:5], k.version)
	nonce := make([]byte, k.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	out = append(out, nonce...)
	return k.aead.Seal(out, nonce, plain, cell.ad(k.version)), nil
}

// CiphertextVersion returns the data key version a ciphertext was sealed
// with.
func CiphertextVersion(ct []byte) (uint32, error) {
	if len(ct) < 5 || ct[0] != cipherVersion {
		return 0, ErrMalformed
	}
	return binary.BigEndian.Uint32(ct[1:5]), nil
}

// Open decrypts ct for cell. k must be the version CiphertextVersion
// reports.
func (k *DataKey) Open(ct []byte, cell Cell) ([]byte, error) {
	v, err := CiphertextVersion(ct)
	if err != nil {
		return nil, err
	}
	if v != k.version {
		return nil, fmt.Errorf("open: ciphertext has key version %d, key is %d", v, k.version)
	}
	ns := k.aead.NonceSize()
	if len(ct) < 5+ns+k.aead.Overhead() {
		return nil, ErrMalformed
	}
	plain, err := k.aead.Open(nil, ct[5:5+ns], ct[5+ns:], cell.ad(v))
	if err != nil {
		return nil, ErrDecrypt
	}
	return plain, nil
}

// LooksSealed reports whether b has the shape of a Seal result: the
// version byte and room for a key version, nonce and tag.
func LooksSealed(b []byte) bool {
	return len(b) >= 5+12+16 && b[0] == cipherVersion
}
