package objects

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// planeModes returns the mode byte of each plane of a grouped or delta
// stored form.
func planeModes(t *testing.T, stored []byte) []byte {
	t.Helper()
	si, err := parseStored(stored)
	if err != nil {
		t.Fatal(err)
	}
	if si.enc != encGrouped && si.enc != encDelta {
		t.Fatalf("encoding %d, want grouped or delta", si.enc)
	}
	var modes []byte
	p := si.payload
	for len(p) > 0 {
		m, k := binary.Uvarint(p[1:])
		if k <= 0 || m > uint64(len(p)-1-k) {
			t.Fatalf("bad plane length after modes %v", modes)
		}
		modes = append(modes, p[0])
		p = p[1+k+int(m):]
	}
	return modes
}

// TestSmallPlaneModes checks the coder encodePlanes picks for the planes of
// small pieces (under sampledPlane bytes a plane) from their byte
// histograms, and that every form decodes to the same bytes.
func TestSmallPlaneModes(t *testing.T) {
	for _, n := range []int{1024, 4096, 18 << 10, 60 << 10} { // elements: planes of 1 KiB to 60 KiB
		base := EncodeChunk(floats(n, 7))
		next := EncodeChunk(nudge(base[HeaderSize:], 0.001, 3))
		zeros := EncodeChunk(make([]byte, 4*n))
		for _, c := range []struct {
			name      string
			obj, base []byte
			// random mantissa bytes raw, the sign-and-exponent byte
			// Huffman-coded; a delta's nearly zero high bytes zstd
			want []byte
		}{
			{"weights", next, nil, []byte{planeRaw, planeRaw, planeRaw, planeHuff}},
			{"delta", next, base, []byte{planeRaw, planeHuff, planeZstd, planeZstd}},
			{"zeros", zeros, nil, []byte{planeZstd, planeZstd, planeZstd, planeZstd}},
		} {
			t.Run(fmt.Sprintf("%s-%d", c.name, n), func(t *testing.T) {
				opts := PutOptions{ElemSize: 4}
				if c.base != nil {
					opts.DeltaBase = Sum(c.base)
				}
				stored := encodeStoredForm(c.obj, opts, c.base, 0)
				if got := planeModes(t, stored); !bytes.Equal(got, c.want) {
					t.Errorf("plane modes %v, want %v", got, c.want)
				}
				got, err := decodeStored(stored, func(ID) ([]byte, error) { return c.base, nil })
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, c.obj) {
					t.Fatal("decoded object differs")
				}
				if len(stored) >= len(c.obj) {
					t.Errorf("stored form of %d bytes for %d", len(stored), len(c.obj))
				}
			})
		}
	}
}

// TestSmallPlaneZstdWhenSmaller checks that a plane Huffman coding shrinks
// to a quarter or less is also tried with zstd, and the smaller kept: a
// plane of long runs (zstd's matches win) and one of scattered values.
func TestSmallPlaneZstdWhenSmaller(t *testing.T) {
	const n = 8 << 10
	hs := getHuffScratch()
	defer putHuffScratch(hs)
	r := rand.New(rand.NewPCG(1, 2))
	runs := make([]byte, n)
	for i := range runs {
		runs[i] = byte(i / 512 % 3) // runs of 512 bytes of 3 values: 1.58 bits a byte
	}
	scattered := make([]byte, n) // 0 at 60%, 1 to 4 at 10% each: 1.77 bits a byte
	for i := range scattered {
		if r.IntN(10) >= 6 {
			scattered[i] = byte(1 + r.IntN(4))
		}
	}
	for _, c := range []struct {
		name  string
		plane []byte
		want  byte
	}{{"runs", runs, planeZstd}, {"scattered", scattered, 0}} {
		h := byteEntropy(c.plane)
		if h < 1 || h >= 2 {
			t.Fatalf("%s: entropy %.2f bits a byte, the test wants 1 to 2 (Huffman then shrinks it to a quarter or less)", c.name, h)
		}
		out := appendSmallPlane(nil, c.plane, hs)
		if c.want != 0 && out[0] != c.want {
			t.Errorf("%s: mode %d, want %d", c.name, out[0], c.want)
		}
		huff := appendPlane(nil, c.plane, planeHuff, hs)
		zstd := appendPlane(nil, c.plane, planeZstd, nil)
		if len(out) != min(len(huff), len(zstd)) {
			t.Errorf("%s: %d bytes, Huffman %d, zstd %d", c.name, len(out), len(huff), len(zstd))
		}
		// as the one plane of a grouped form of 1-byte elements
		stored := append([]byte{storedMagic0, storedMagic1, encGrouped, 1}, out...)
		got, err := decodeStored(stored, nil)
		if err != nil || !bytes.Equal(got[HeaderSize:], c.plane) {
			t.Errorf("%s: decoded plane differs (%v)", c.name, err)
		}
	}
}

func TestByteEntropy(t *testing.T) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	r := rand.New(rand.NewPCG(3, 4))
	random := make([]byte, 200<<10)
	for i := range random {
		random[i] = byte(r.Uint32())
	}
	two := bytes.Repeat([]byte{1, 200}, 50000) // sampled: a period of 2 must not alias
	for _, c := range []struct {
		name string
		p    []byte
		lo   float64
		hi   float64
	}{
		{"empty", nil, 0, 0},
		{"constant", bytes.Repeat([]byte{9}, 3000), 0, 0},
		{"two values", two, 1, 1},
		{"every byte once", all, 8, 8},
		{"random, sampled", random, 7.9, 8},
		{"random 1 KiB", random[:1024], 7.76, 8}, // raw: no code of single bytes saves 3%
	} {
		h := byteEntropy(c.p)
		if h < c.lo-1e-6 || h > c.hi+1e-6 || math.IsNaN(h) {
			t.Errorf("%s: %.4f bits a byte, want %.2f–%.2f", c.name, h, c.lo, c.hi)
		}
	}
}

// TestGetBufClasses checks the buffers getBuf hands out: exactly n long,
// pooled sizes in a power-of-two class that holds n, and a released
// buffer of a class given out again only at its class's capacity.
func TestGetBufClasses(t *testing.T) {
	for _, c := range []struct{ n, class int }{
		{minPooled, 0}, {minPooled + 1, 1}, {32 << 10, 1}, {72 << 10, 3}, {maxPooled, 5},
	} {
		if got := smallClass(c.n); got != c.class {
			t.Errorf("smallClass(%d) = %d, want %d", c.n, got, c.class)
		}
	}
	for _, n := range []int{1, 4101, minPooled - 1, minPooled, 18<<10 + 5, 290 << 10, maxPooled, maxPooled + 1, smallBuf - 1, smallBuf, 4<<20 + 5} {
		b := getBuf(n)
		if len(b) != n {
			t.Fatalf("getBuf(%d): length %d", n, len(b))
		}
		switch {
		case n >= minPooled && n <= maxPooled:
			if c := cap(b); c != minPooled<<smallClass(n) {
				t.Errorf("getBuf(%d): capacity %d, want the class's %d", n, c, minPooled<<smallClass(n))
			}
		case n < smallBuf:
			if cap(b) != n {
				t.Errorf("getBuf(%d): capacity %d, want exactly n", n, cap(b))
			}
		}
		for i := range b {
			b[i] = 0xAA
		}
		putBuf(b)
		// whatever getBuf gives next for the same size is n long and of
		// the same kind
		if b2 := getBuf(n); len(b2) != n || (n >= minPooled && n <= maxPooled && cap(b2) != cap(b)) {
			t.Errorf("getBuf(%d) after putBuf: length %d capacity %d", n, len(b2), cap(b2))
		}
	}
	putBuf(make([]byte, 5, 20000)) // not a class's capacity: dropped
	if b := getBuf(20000); cap(b) != 32<<10 {
		t.Errorf("getBuf(20000) after a foreign buffer: capacity %d", cap(b))
	}
}
