package auth

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/cache"

	"github.com/mapdrive/mapdrive/client/internal/keyring"
)

// keyringCache keeps MSAL's serialized token cache in the OS keyring. It
// implements cache.ExportReplace; MSAL calls Replace before it reads the
// cache and Export after it changes it.
type keyringCache struct {
	// Immutable after construction.
	store *keyring.Store
	name  string

	mu sync.Mutex // serialises keyring access for this cache
}

var _ cache.ExportReplace = (*keyringCache)(nil)

// Replace loads the stored cache into MSAL's memory. With nothing stored
// (first run, after logout) MSAL's cache is emptied.
func (k *keyringCache) Replace(ctx context.Context, c cache.Unmarshaler, _ cache.ReplaceHints) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	data, err := k.store.Get(k.name)
	if errors.Is(err, keyring.ErrNotFound) {
		data = []byte("{}")
	} else if err != nil {
		return fmt.Errorf("load the token cache: %w", err)
	}
	if err := c.Unmarshal(data); err != nil {
		return fmt.Errorf("load the token cache: %w", err)
	}
	return nil
}

// Export stores MSAL's cache in the keyring.
func (k *keyringCache) Export(ctx context.Context, c cache.Marshaler, _ cache.ExportHints) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	data, err := c.Marshal()
	if err != nil {
		return fmt.Errorf("save the token cache: %w", err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.store.Set(k.name, data); err != nil {
		return fmt.Errorf("save the token cache: %w", err)
	}
	return nil
}

// remove deletes the stored cache.
func (k *keyringCache) remove() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.store.Delete(k.name)
}
