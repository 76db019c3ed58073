package keyring

import "sync"

// Memory is an in-memory Backend for tests of packages that need a Store
// where no OS keyring runs. It never persists anything.
type Memory struct {
	mu sync.Mutex
	m  map[string]string // guarded by mu; key service + "\x00" + user
}

// NewMemory returns an empty in-memory Backend.
func NewMemory() *Memory { return &Memory{m: map[string]string{}} }

// Set implements Backend.
func (k *Memory) Set(service, user, secret string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.m[service+"\x00"+user] = secret
	return nil
}

// Get implements Backend.
func (k *Memory) Get(service, user string) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	v, ok := k.m[service+"\x00"+user]
	if !ok {
		return "", ErrNotFound
	}
	return v, nil
}

// Delete implements Backend.
func (k *Memory) Delete(service, user string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.m[service+"\x00"+user]; !ok {
		return ErrNotFound
	}
	delete(k.m, service+"\x00"+user)
	return nil
}

// Len reports how many entries the keyring holds.
func (k *Memory) Len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.m)
}
