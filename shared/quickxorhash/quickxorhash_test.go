package quickxorhash

import (
	"bytes"
	"encoding/base64"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
)

type vector struct {
	size int
	in   []byte
	want string
}

func loadVectors(t testing.TB) []vector {
	t.Helper()
	data, err := os.ReadFile("testdata/vectors.txt")
	if err != nil {
		t.Fatal(err)
	}
	var out []vector
	for line := range strings.Lines(string(data)) {
		line = strings.TrimRight(line, "\n")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 3 {
			t.Fatalf("bad vector line %q", line)
		}
		size, err := strconv.Atoi(f[0])
		if err != nil {
			t.Fatal(err)
		}
		in, err := base64.StdEncoding.DecodeString(f[1])
		if err != nil {
			t.Fatalf("vector %d: %v", size, err)
		}
		if len(in) != size {
			t.Fatalf("vector %d decodes to %d bytes", size, len(in))
		}
		out = append(out, vector{size, in, f[2]})
	}
	return out
}

// reference is the algorithm written out bit by bit, as the contract states it.
func reference(data []byte) string {
	var bits [160]bool
	for i, b := range data {
		off := (11 * i) % 160
		for j := range 8 {
			if b>>j&1 == 1 {
				p := (off + j) % 160
				bits[p] = !bits[p]
			}
		}
	}
	var reg [20]byte
	for p, set := range bits {
		if set {
			reg[p/8] |= 1 << (p % 8)
		}
	}
	n := uint64(len(data))
	for i := range 8 {
		reg[12+i] ^= byte(n >> (8 * i))
	}
	return base64.StdEncoding.EncodeToString(reg[:])
}

func TestPublishedVectors(t *testing.T) {
	vs := loadVectors(t)
	if len(vs) < 30 {
		t.Fatalf("only %d vectors loaded", len(vs))
	}
	for _, v := range vs {
		if got := Sum(v.in); got != v.want {
			t.Errorf("Sum(%d bytes) = %s, want %s", v.size, got, v.want)
		}
		if got := reference(v.in); got != v.want {
			t.Errorf("reference(%d bytes) = %s, want %s", v.size, got, v.want)
		}
	}
}

func TestContractVectors(t *testing.T) {
	for _, tc := range []struct {
		in   []byte
		want string
	}{
		{nil, "AAAAAAAAAAAAAAAAAAAAAAAAAAA="},
		{[]byte{0x4a}, "SgAAAAAAAAAAAAAAAQAAAAAAAAA="},
	} {
		if got := Sum(tc.in); got != tc.want {
			t.Errorf("Sum(%x) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestMatchesReferenceOnEveryLength(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := range 1000 {
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(r.Uint32())
		}
		if got, want := Sum(data), reference(data); got != want {
			t.Fatalf("Sum(len %d) = %s, want %s", n, got, want)
		}
	}
}

func TestChunkedWritesEqualOneWrite(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	data := make([]byte, 100_003)
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	want := Sum(data)
	for _, sizes := range [][]int{{1}, {7}, {8}, {159}, {160}, {161}, {1, 159, 160, 161}, {3, 300, 13, 2}, {4096}, {65536}} {
		d := New()
		at, i := 0, 0
		for at < len(data) {
			n := min(sizes[i%len(sizes)], len(data)-at)
			if w, err := d.Write(data[at : at+n]); w != n || err != nil {
				t.Fatalf("Write = %d, %v", w, err)
			}
			at += n
			i++
		}
		if got := d.String(); got != want {
			t.Errorf("chunks %v: %s, want %s", sizes, got, want)
		}
	}
}

func TestSumDoesNotChangeStateAndResetClears(t *testing.T) {
	d := New()
	d.Write([]byte("hello "))
	_ = d.Sum(nil)
	d.Write([]byte("world"))
	if got, want := d.String(), Sum([]byte("hello world")); got != want {
		t.Errorf("after Sum mid-stream: %s, want %s", got, want)
	}
	prefix := []byte("x")
	if got := d.Sum(prefix); !bytes.HasPrefix(got, prefix) || len(got) != 1+Size {
		t.Errorf("Sum(prefix) = %x, want prefix + 20 bytes", got)
	}
	d.Reset()
	if got := d.String(); got != "AAAAAAAAAAAAAAAAAAAAAAAAAAA=" {
		t.Errorf("after Reset: %s", got)
	}
	if d.Size() != 20 || d.BlockSize() != 64 {
		t.Errorf("Size, BlockSize = %d, %d; want 20, 64", d.Size(), d.BlockSize())
	}
}

func FuzzChunkingInvariance(f *testing.F) {
	f.Add([]byte("The quick brown fox jumps over the lazy dog"), uint16(3))
	f.Add(bytes.Repeat([]byte{0xff}, 500), uint16(161))
	f.Add([]byte{0x4a}, uint16(0))
	f.Fuzz(func(t *testing.T, data []byte, chunk uint16) {
		want := reference(data)
		if got := Sum(data); got != want {
			t.Fatalf("Sum = %s, want %s", got, want)
		}
		step := int(chunk)%300 + 1
		d := New()
		for at := 0; at < len(data); at += step {
			d.Write(data[at:min(at+step, len(data))])
		}
		if got := d.String(); got != want {
			t.Fatalf("chunks of %d: %s, want %s", step, got, want)
		}
	})
}

func BenchmarkWrite(b *testing.B) {
	buf := make([]byte, 1<<20)
	r := rand.New(rand.NewPCG(5, 6))
	for i := range buf {
		buf[i] = byte(r.Uint32())
	}
	b.SetBytes(int64(len(buf)))
	d := New()
	for b.Loop() {
		d.Write(buf)
	}
	_ = d.Sum(nil)
}
