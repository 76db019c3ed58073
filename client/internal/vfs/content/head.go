package content

import (
	"encoding/binary"

	"github.com/mapdrive/mapdrive/client/internal/vfs/meta"
)

// HeadSize is how much of a file's start the header cache keeps.
const HeadSize = 8 << 10

// maxHeads bounds the header cache: 4096 × 8 KiB = 32 MiB at most in the
// metadata store, outside CacheMaxBytes.
const maxHeads = 4096

// Head returns the cached first bytes of key's content at version.
func (c *Content) Head(key, version string) ([]byte, bool) {
	var sealed []byte
	_ = c.store.View(func(tx *meta.Tx) error {
		sealed = tx.Head(key)
		return nil
	})
	if len(sealed) < 2 {
		return nil, false
	}
	vl := int(binary.BigEndian.Uint16(sealed))
	if len(sealed) < 2+vl || string(sealed[2:2+vl]) != version {
		return nil, false
	}
	plain, err := c.open(sealed[2+vl:], []byte("head:"+key+":"+version))
	if err != nil {
		return nil, false
	}
	return plain, true
}

func (c *Content) putHead(key, version string, data []byte) {
	sealed := make([]byte, 2, 2+len(version)+nonceSize+len(data)+tagSize)
	binary.BigEndian.PutUint16(sealed, uint16(len(version)))
	sealed = append(sealed, version...)
	sealed = append(sealed, c.seal(data, []byte("head:"+key+":"+version))...)
	err := c.store.Update(func(tx *meta.Tx) error {
		return tx.PutHead(key, sealed, maxHeads)
	})
	if err != nil {
		c.log.Warn("save header cache", "err", err)
	}
}

func (f *File) saveHeadLocked() {
	if !f.e.has(0) || f.e.Dirty {
		return
	}
	b, err := f.readBlockLocked(0)
	if err != nil {
		return
	}
	n := min(int64(HeadSize), f.e.Size)
	f.c.putHead(f.key, f.e.Version, b[:n])
}
