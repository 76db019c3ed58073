package content

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"unsafe"
)

const (
	nonceSize = 12
	tagSize   = 16
	// sealedSize is one sealed block: nonce, ciphertext and tag.
	sealedSize = nonceSize + BlockSize + tagSize
	// legacySlot is the slot of a block in a data file of the first
	// layout, where sealed blocks follow each other.
	legacySlot = sealedSize
	// alignedSlot is the slot of a block in the aligned layout: every
	// slot starts on a 4 KiB boundary and is padded to one, so that the
	// file can be read and written with direct I/O (directIO). The
	// padding costs 3% of disk space.
	alignedSlot = BlockSize + ioAlign
	ioAlign     = 4096
)

// seal encrypts plain into a new buffer: nonce, ciphertext, tag.
func (c *Content) seal(plain, ad []byte) []byte {
	return c.sealInto(make([]byte, nonceSize, nonceSize+len(plain)+tagSize), plain, ad)
}

// sealSlot encrypts a block for a slot of the given size, into a buffer
// aligned for direct I/O: the result is the whole slot, zero padded, in
// the aligned layout. Give it back with putSlot once written.
func (c *Content) sealSlot(plain, ad []byte, slot int64) []byte {
	sealed := c.sealInto(c.slotBuf(slot)[:nonceSize], plain, ad)
	if slot == alignedSlot {
		return sealed[:slot]
	}
	return sealed
}

func (c *Content) sealInto(out, plain, ad []byte) []byte {
	if _, err := rand.Read(out[:nonceSize]); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err)) // never fails on supported platforms
	}
	return c.aead.Seal(out, out[:nonceSize], plain, ad)
}

func (c *Content) open(sealed, ad []byte) ([]byte, error) {
	if len(sealed) < nonceSize+tagSize {
		return nil, errors.New("sealed block too short")
	}
	return c.aead.Open(nil, sealed[:nonceSize], sealed[nonceSize:], ad)
}

// slotBuf returns a buffer for one sealed block, of capacity slot,
// aligned for direct I/O: a recycled one for the aligned layout.
func (c *Content) slotBuf(slot int64) []byte {
	if slot == alignedSlot {
		if b, ok := c.slots.Get().(*[]byte); ok {
			return (*b)[:slot]
		}
	}
	return sealBuf(slot)
}

// putSlot recycles a buffer slotBuf or sealSlot returned; b must not be
// used after.
func (c *Content) putSlot(b []byte) {
	if int64(cap(b)) == alignedSlot {
		b = b[:alignedSlot]
		c.slots.Put(&b)
	}
}

// sealBuf returns a buffer for one sealed block, of capacity slot, aligned
// for direct I/O.
func sealBuf(slot int64) []byte {
	b := make([]byte, slot+ioAlign)
	off := int(ioAlign-uintptr(unsafe.Pointer(unsafe.SliceData(b)))%ioAlign) % ioAlign
	return b[off : off+int(slot) : off+int(slot)]
}

func (f *File) ad(idx int64) []byte {
	ad := make([]byte, len(f.e.ID)+8)
	copy(ad, f.e.ID)
	binary.BigEndian.PutUint64(ad[len(f.e.ID):], uint64(idx))
	return ad
}
