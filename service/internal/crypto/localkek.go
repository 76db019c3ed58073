package crypto

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// LocalKEK keeps key-encryption keys in a local file (mode 0600), for
// development and single-machine installs. The file holds every version so
// that data keys wrapped before a rotation still unwrap.
type LocalKEK struct {
	path string

	mu      sync.Mutex // guards current and keys
	current string
	keys    map[string]cipher.AEAD
}

type localKEKFile struct {
	Current string            `json:"current"`
	Keys    map[string][]byte `json:"keys"` // version id → 32-byte key
}

// OpenLocalKEK loads the key file at path, creating it with a first key
// (mode 0600) when it does not exist.
func OpenLocalKEK(path string) (*LocalKEK, error) {
	k := &LocalKEK{path: path}
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("create key dir: %w", err)
		}
		f := localKEKFile{Keys: map[string][]byte{}}
		if err := addLocalKey(&f); err != nil {
			return nil, err
		}
		if err := writeLocalKEK(path, &f, true); err != nil {
			return nil, err
		}
		return k, k.load(&f)
	case err != nil:
		return nil, fmt.Errorf("read key file %s: %w", path, err)
	}
	if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("key file %s: mode %v is readable by others; chmod 600 it", path, st.Mode().Perm())
	}
	var f localKEKFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("parse key file %s: %w", path, err)
	}
	return k, k.load(&f)
}

func addLocalKey(f *localKEKFile) error {
	key, err := NewKey()
	if err != nil {
		return err
	}
	id := fmt.Sprintf("local-%d", len(f.Keys)+1)
	f.Keys[id] = key
	f.Current = id
	return nil
}

func writeLocalKEK(path string, f *localKEKFile, create bool) error {
	out, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	target := path
	if !create {
		target = path + ".tmp"
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	fh, err := os.OpenFile(target, flags, 0o600)
	if err != nil {
		return fmt.Errorf("write key file: %w", err)
	}
	if _, err := fh.Write(out); err != nil {
		fh.Close()
		return fmt.Errorf("write key file: %w", err)
	}
	if err := fh.Sync(); err != nil {
		fh.Close()
		return fmt.Errorf("sync key file: %w", err)
	}
	if err := fh.Close(); err != nil {
		return fmt.Errorf("close key file: %w", err)
	}
	if !create {
		if err := os.Rename(target, path); err != nil {
			return fmt.Errorf("replace key file: %w", err)
		}
	}
	return nil
}

func (k *LocalKEK) load(f *localKEKFile) error {
	keys := map[string]cipher.AEAD{}
	for id, raw := range f.Keys {
		if len(raw) != KeySize {
			return fmt.Errorf("key file %s: key %s has %d bytes", k.path, id, len(raw))
		}
		blk, err := aes.NewCipher(raw)
		if err != nil {
			return err
		}
		a, err := cipher.NewGCM(blk)
		if err != nil {
			return err
		}
		keys[id] = a
	}
	if _, ok := keys[f.Current]; !ok {
		return fmt.Errorf("key file %s: current key %q missing", k.path, f.Current)
	}
	k.mu.Lock()
	k.current, k.keys = f.Current, keys
	k.mu.Unlock()
	return nil
}

// Name implements KEK.
func (k *LocalKEK) Name() string { return "local" }

// Wrap implements KEK: AES-256-GCM under the current key, the key id bound
// as associated data.
func (k *LocalKEK) Wrap(_ context.Context, dek []byte) (string, []byte, error) {
	k.mu.Lock()
	id, a := k.current, k.keys[k.current]
	k.mu.Unlock()
	nonce := make([]byte, a.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", nil, fmt.Errorf("wrap: %w", err)
	}
	return id, a.Seal(nonce, nonce, dek, []byte("mapdrive.kek|"+id)), nil
}

// Unwrap implements KEK.
func (k *LocalKEK) Unwrap(_ context.Context, kekID string, wrapped []byte) ([]byte, error) {
	k.mu.Lock()
	a, ok := k.keys[kekID]
	k.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("unwrap: unknown local key %q", kekID)
	}
	if len(wrapped) < a.NonceSize() {
		return nil, ErrMalformed
	}
	dek, err := a.Open(nil, wrapped[:a.NonceSize()], wrapped[a.NonceSize():], []byte("mapdrive.kek|"+kekID))
	if err != nil {
		return nil, fmt.Errorf("unwrap with %s: %w", kekID, ErrDecrypt)
	}
	return dek, nil
}

// Rotate implements KEK: it adds a new key to the file and makes it
// current. Old keys stay so existing wrapped keys still unwrap until
// re-wrapped.
func (k *LocalKEK) Rotate(_ context.Context) error {
	data, err := os.ReadFile(k.path)
	if err != nil {
		return fmt.Errorf("rotate: read key file: %w", err)
	}
	var f localKEKFile
	if err := json.Unmarshal(data, &f); err != nil {
		return fmt.Errorf("rotate: parse key file: %w", err)
	}
	if err := addLocalKey(&f); err != nil {
		return err
	}
	if err := writeLocalKEK(k.path, &f, false); err != nil {
		return err
	}
	return k.load(&f)
}

// Current returns the id of the key Wrap uses.
func (k *LocalKEK) Current() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.current
}
