package objects

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/klauspost/compress/huff0"
)

// handStored builds a grouped (base nil) or delta form of the chunk obj
// with one plane in each mode: plane 0 raw, 1 Huffman (its first block one
// byte repeated, so run, coded and raw blocks all occur), 2 zstd, 3 Huffman.
func handStored(t *testing.T, obj, base []byte, baseID ID) []byte {
	data := obj[HeaderSize:]
	g := make([]byte, len(data))
	if base != nil {
		x := make([]byte, len(data))
		for i := range x {
			x[i] = data[i] ^ base[HeaderSize+i]
		}
		Group(g, x, 4)
	} else {
		Group(g, data, 4)
	}
	n := len(data) / 4
	var out []byte
	if base != nil {
		out = append(out, storedMagic0, storedMagic1, encDelta, 4, 1)
		out = append(out, baseID[:]...)
	} else {
		out = append(out, storedMagic0, storedMagic1, encGrouped, 4)
	}
	enc, _ := codecs()
	var hs huff0.Scratch
	for j := 0; j < 4; j++ {
		p := g[j*n : (j+1)*n]
		var body []byte
		mode := []byte{planeRaw, planeHuff, planeZstd, planeHuff}[j]
		switch mode {
		case planeRaw:
			body = p
		case planeZstd:
			body = enc.EncodeAll(p, nil)
		case planeHuff:
			body = appendHuff(nil, p, &hs)
		}
		out = append(out, mode)
		out = binary.AppendUvarint(out, uint64(len(body)))
		out = append(out, body...)
	}
	return withSum(out, obj)
}

func TestDecodePlanesStriped(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	// not a multiple of the stripe, nor of the sub-stripe, nor of 16
	n := 2*huffBlock + subStripe + 1001
	obj := make([]byte, HeaderSize+4*n)
	PutChunkHeader(obj)
	base := make([]byte, len(obj))
	PutChunkHeader(base)
	for i := 0; i < n; i++ {
		v := float32(rng.NormFloat64() * 0.02)
		if i < huffBlock {
			v = 0.5 // plane 1's first block: one byte repeated
		}
		binary.LittleEndian.PutUint32(obj[HeaderSize+4*i:], math.Float32bits(v))
		binary.LittleEndian.PutUint32(base[HeaderSize+4*i:], math.Float32bits(v+float32(rng.NormFloat64()*1e-4)))
	}
	baseID := Sum(base)
	getBase := func(id ID) ([]byte, error) {
		if id != baseID {
			return nil, errors.New("unknown base")
		}
		return base, nil
	}
	for _, b := range [][]byte{nil, base} {
		form := handStored(t, obj, b, baseID)
		got, summed, err := decodeStoredSum(form, getBase, nil)
		if err != nil || !summed || !bytes.Equal(got, obj) {
			t.Fatalf("delta %v: decoded %d bytes, summed %v, %v; equal %v", b != nil, len(got), summed, err, bytes.Equal(got, obj))
		}
		// a damaged byte in the last Huffman plane's coded blocks
		bad := bytes.Clone(form)
		bad[len(bad)-sumSize-100] ^= 0x55
		// (a wrong checksum comes with the bytes, for naming the broken base)
		if _, _, err := decodeStoredSum(bad, getBase, nil); err == nil {
			t.Errorf("delta %v: damaged form decoded without error", b != nil)
		} else if !errors.Is(err, errStored) {
			t.Errorf("delta %v: damaged form: %v, want errStored", b != nil, err)
		}
	}
}
