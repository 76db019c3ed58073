// Package quickxorhash implements QuickXorHash, the content hash that
// OneDrive for Business and SharePoint report as file.hashes.quickXorHash.
//
// The algorithm (https://learn.microsoft.com/onedrive/developer/code-snippets/quickxorhash):
// a 160-bit register starts at zero; byte i of the input is XORed into the
// register at bit offset 11*i mod 160, wrapping round the 160 bits; the
// register is serialized as 20 little-endian bytes and the input length, as
// a little-endian uint64, is XORed into bytes 12..19.
//
// Because 11*160 is a multiple of 160, every byte whose index has the same
// residue k = i mod 160 lands at the same bit offset. This implementation
// therefore XORs the input into a 160-byte accumulator, eight bytes at a
// time, and spreads the accumulator into the register only when the sum is
// taken. That makes Write a plain word-wise XOR loop.
package quickxorhash

import (
	"encoding/base64"
	"encoding/binary"
	"hash"
)

// Size is the size of a QuickXorHash in bytes.
const Size = 20

// BlockSize is the block size reported by hash.Hash. Write accepts any
// length; 160 bytes is the algorithm's natural period.
const BlockSize = 64

const period = 160 // bytes after which the bit offsets repeat

// Digest is a streaming QuickXorHash. The zero value is ready to use. A
// Digest is not safe for concurrent use.
type Digest struct {
	acc [period / 8]uint64 // acc byte k holds the XOR of every input byte i with i%160 == k
	n   uint64             // bytes written
}

var _ hash.Hash = (*Digest)(nil)

// New returns a new QuickXorHash digest.
func New() *Digest { return &Digest{} }

// Size returns 20.
func (d *Digest) Size() int { return Size }

// BlockSize returns 64.
func (d *Digest) BlockSize() int { return BlockSize }

// Reset sets the digest back to its initial state.
func (d *Digest) Reset() { *d = Digest{} }

// Write adds p to the running hash. It never returns an error.
func (d *Digest) Write(p []byte) (int, error) {
	total := len(p)
	k := int(d.n % period)
	d.n += uint64(total)
	// Bytewise until the position is 8-aligned within the period.
	for k%8 != 0 && len(p) > 0 {
		d.acc[k>>3] ^= uint64(p[0]) << (8 * (k & 7))
		p = p[1:]
		k++
	}
	if k == period {
		k = 0
	}
	// Whole words up to the end of the current period.
	for k != 0 && len(p) >= 8 {
		d.acc[k>>3] ^= binary.LittleEndian.Uint64(p)
		p = p[8:]
		k += 8
		if k == period {
			k = 0
		}
	}
	// Whole periods.
	a := &d.acc
	for len(p) >= period && k == 0 {
		q := p[:period:period]
		a[0] ^= binary.LittleEndian.Uint64(q[0:])
		a[1] ^= binary.LittleEndian.Uint64(q[8:])
		a[2] ^= binary.LittleEndian.Uint64(q[16:])
		a[3] ^= binary.LittleEndian.Uint64(q[24:])
		a[4] ^= binary.LittleEndian.Uint64(q[32:])
		a[5] ^= binary.LittleEndian.Uint64(q[40:])
		a[6] ^= binary.LittleEndian.Uint64(q[48:])
		a[7] ^= binary.LittleEndian.Uint64(q[56:])
		a[8] ^= binary.LittleEndian.Uint64(q[64:])
		a[9] ^= binary.LittleEndian.Uint64(q[72:])
		a[10] ^= binary.LittleEndian.Uint64(q[80:])
		a[11] ^= binary.LittleEndian.Uint64(q[88:])
		a[12] ^= binary.LittleEndian.Uint64(q[96:])
		a[13] ^= binary.LittleEndian.Uint64(q[104:])
		a[14] ^= binary.LittleEndian.Uint64(q[112:])
		a[15] ^= binary.LittleEndian.Uint64(q[120:])
		a[16] ^= binary.LittleEndian.Uint64(q[128:])
		a[17] ^= binary.LittleEndian.Uint64(q[136:])
		a[18] ^= binary.LittleEndian.Uint64(q[144:])
		a[19] ^= binary.LittleEndian.Uint64(q[152:])
		p = p[period:]
	}
	// Remaining whole words, then bytes.
	for len(p) >= 8 {
		d.acc[k>>3] ^= binary.LittleEndian.Uint64(p)
		p = p[8:]
		k += 8
		if k == period {
			k = 0
		}
	}
	for _, b := range p {
		d.acc[k>>3] ^= uint64(b) << (8 * (k & 7))
		k++
	}
	return total, nil
}

// Sum appends the current hash to b and returns the result. It does not
// change the underlying state.
func (d *Digest) Sum(b []byte) []byte {
	var reg [Size]byte
	for k := range period {
		v := byte(d.acc[k>>3] >> (8 * (k & 7)))
		if v == 0 {
			continue
		}
		bit := (11 * k) % (period)
		w := uint16(v) << (bit & 7)
		reg[bit>>3] ^= byte(w)
		reg[((bit>>3)+1)%Size] ^= byte(w >> 8)
	}
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], d.n)
	for i, c := range n {
		reg[Size-8+i] ^= c
	}
	return append(b, reg[:]...)
}

// Sum returns the QuickXorHash of data, base64-encoded as Graph reports it.
func Sum(data []byte) string {
	var d Digest
	_, _ = d.Write(data)
	return base64.StdEncoding.EncodeToString(d.Sum(nil))
}

// String returns the current hash base64-encoded as Graph reports it.
func (d *Digest) String() string {
	return base64.StdEncoding.EncodeToString(d.Sum(nil))
}
