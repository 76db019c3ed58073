package fusefs

import (
	"sync"

	"github.com/mapdrive/mapdrive/client/internal/vfs"
)

// maxOpened bounds openedVersions; past it the memory is cleared, which
// costs each file one more page cache drop and nothing else.
const maxOpened = 100_000

// openedVersions remembers the content version each inode had at its
// last open. The kernel keeps a file's page cache across opens only when
// the open says keep_cache; it is safe to say so when the content is the
// version the kernel read (and wrote through) since the last open that
// dropped the cache. Anything else (a remote change, a pending local
// change, an upload that gave the file a new version) drops it.
type openedVersions struct {
	mu sync.Mutex
	m  map[uint64]string
}

// keepCache records h's content version and reports whether it is the one
// the previous open of the same inode saw.
func (o *openedVersions) keepCache(h *vfs.Handle) bool {
	at, err := h.Attr()
	if err != nil || at.IsDir {
		return false
	}
	v, clean := h.ContentVersion()
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.m == nil || len(o.m) >= maxOpened {
		o.m = map[uint64]string{}
	}
	prev, seen := o.m[at.Ino]
	if !clean {
		delete(o.m, at.Ino)
		return false
	}
	o.m[at.Ino] = v
	return seen && prev == v
}

// forget drops what is known of h's inode (a file created or truncated
// through the mount).
func (o *openedVersions) forget(h *vfs.Handle) {
	at, err := h.Attr()
	if err != nil {
		return
	}
	o.mu.Lock()
	delete(o.m, at.Ino)
	o.mu.Unlock()
}
