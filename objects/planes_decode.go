package objects

import (
	"encoding/binary"
	"fmt"
	"hash"
	"hash/crc32"

	"github.com/klauspost/compress/huff0"
	"github.com/klauspost/compress/zstd"
)

// Decoding the grouped and delta stored forms (design §6) stripe by
// stripe: the planes' bytes of huffBlock elements are decoded (a Huffman
// plane's block, a slice of a raw plane, of a zstd plane decoded whole
// beforehand), then interleaved into the object, XORed with the delta base
// and added to the checksum a sub-stripe at a time, while they are still
// in the processor's cache. Decoding every plane whole and then
// interleaving and checksumming 4 MiB pieces went to memory three times
// for each byte: a third of the time of reading a merge's inputs.

// subStripe is how many elements are interleaved and checksummed at once:
// 64 KiB of F32 output, which stays in the first-level cache for the
// checksum.
const subStripe = 16 << 10

// planeSrc is one plane of a grouped or delta payload.
type planeSrc struct {
	mode  byte
	body  []byte // raw: the plane; zstd: the decoded plane; Huffman: its blocks still to decode
	plane []byte // the current stripe's bytes of the plane
}

// parsePlanes checks the plane list of a payload of s planes and returns
// them with their common length n. zstd planes are decoded into scratch
// (taken when nil; returned, possibly grown); Huffman planes are checked block by block
// for their structure (kinds and lengths), their blocks decoded later.
func parsePlanes(payload []byte, s int, scratch []byte) ([]planeSrc, int, []byte, error) {
	_, dec := codecs()
	planes := make([]planeSrc, s)
	type span struct{ lo, hi int }
	zs := make([]span, s)
	n := -1
	for j := 0; j < s; j++ {
		if len(payload) < 1 {
			return nil, 0, scratch, fmt.Errorf("plane %d: truncated", j)
		}
		mode := payload[0]
		m, k := binary.Uvarint(payload[1:])
		if k <= 0 || m > uint64(len(payload)-1-k) {
			return nil, 0, scratch, fmt.Errorf("plane %d: bad length", j)
		}
		body := payload[1+k : 1+k+int(m)]
		payload = payload[1+k+int(m):]
		got := 0
		switch mode {
		case planeRaw:
			got = len(body)
		case planeZstd:
			if scratch == nil {
				scratch = getBuf(0)
			}
			before := len(scratch)
			var err error
			if scratch, err = dec.DecodeAll(body, scratch); err != nil {
				return nil, 0, scratch, fmt.Errorf("plane %d: %v", j, err)
			}
			zs[j] = span{before, len(scratch)}
			got = len(scratch) - before
		case planeHuff:
			p, blocks, err := checkHuff(body)
			if err != nil {
				return nil, 0, scratch, fmt.Errorf("plane %d: %v", j, err)
			}
			body, got = blocks, p
		default:
			return nil, 0, scratch, fmt.Errorf("plane %d: unknown mode %d", j, mode)
		}
		if n >= 0 && got != n {
			return nil, 0, scratch, fmt.Errorf("plane %d has %d bytes, plane 0 %d", j, got, n)
		}
		n = got
		if n*s > MaxObjectSize {
			return nil, 0, scratch, fmt.Errorf("more than %d bytes", MaxObjectSize)
		}
		planes[j] = planeSrc{mode: mode, body: body}
	}
	if len(payload) != 0 {
		return nil, 0, scratch, fmt.Errorf("%d trailing bytes after the planes", len(payload))
	}
	for j := range planes {
		if planes[j].mode == planeZstd {
			planes[j].body = scratch[zs[j].lo:zs[j].hi]
		}
	}
	return planes, n, scratch, nil
}

// zstdPlanesSize returns the room the zstd planes of a payload of s planes
// take decoded, from their frame headers' content sizes: 0 when there are
// none, -1 when a frame does not say (or the payload is malformed, which
// parsePlanes refuses).
func zstdPlanesSize(payload []byte, s int) int {
	total := 0
	for j := 0; j < s && len(payload) > 0; j++ {
		mode := payload[0]
		m, k := binary.Uvarint(payload[1:])
		if k <= 0 || m > uint64(len(payload)-1-k) {
			return -1
		}
		body := payload[1+k : 1+k+int(m)]
		payload = payload[1+k+int(m):]
		if mode != planeZstd {
			continue
		}
		var h zstd.Header
		if h.Decode(body) != nil || !h.HasFCS || h.FrameContentSize > MaxObjectSize {
			return -1
		}
		total += int(h.FrameContentSize)
	}
	if total > MaxObjectSize {
		return -1
	}
	return total
}

// checkHuff checks the structure of a planeHuff payload (design §6: the
// plane's length, then its blocks) and returns the plane's length and the
// blocks.
func checkHuff(b []byte) (int, []byte, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > MaxObjectSize {
		return 0, nil, fmt.Errorf("bad Huffman plane length")
	}
	b = b[k:]
	blocks := b
	for done := uint64(0); done < n; {
		size := int(min(uint64(huffBlock), n-done))
		if len(b) < 1 {
			return 0, nil, fmt.Errorf("truncated Huffman plane")
		}
		kind := b[0]
		b = b[1:]
		switch kind {
		case 0:
			if len(b) < size {
				return 0, nil, fmt.Errorf("truncated raw block")
			}
			b = b[size:]
		case 1:
			if len(b) < 1 {
				return 0, nil, fmt.Errorf("truncated run block")
			}
			b = b[1:]
		case 2:
			m, k := binary.Uvarint(b)
			if k <= 0 || m > uint64(len(b)-k) {
				return 0, nil, fmt.Errorf("bad Huffman block length")
			}
			b = b[k+int(m):]
		default:
			return 0, nil, fmt.Errorf("unknown Huffman block kind %d", kind)
		}
		done += uint64(size)
	}
	if len(b) != 0 {
		return 0, nil, fmt.Errorf("%d trailing bytes in a Huffman plane", len(b))
	}
	return int(n), blocks, nil
}

// nextHuffBlock decodes the first block (size bytes) of blocks, whose
// structure checkHuff accepted, into buf (cap ≥ size) or, for a raw block,
// returns it in place; it returns the rest of the blocks.
func nextHuffBlock(blocks []byte, size int, buf []byte, hs *huff0.Scratch) (out, rest []byte, err error) {
	kind := blocks[0]
	blocks = blocks[1:]
	switch kind {
	case 0:
		return blocks[:size], blocks[size:], nil
	case 1:
		out = buf[:size]
		c := blocks[0]
		for i := range out {
			out[i] = c
		}
		return out, blocks[1:], nil
	}
	m, k := binary.Uvarint(blocks)
	src := blocks[k : k+int(m)]
	rest = blocks[k+int(m):]
	hs.MaxDecodedSize = size
	s2, tail, err := huff0.ReadTable(src, hs)
	if err != nil {
		return nil, nil, fmt.Errorf("bad Huffman table: %v", err)
	}
	out, err = s2.Decoder().Decompress4X(buf[:0:size], tail)
	if err != nil || len(out) != size {
		return nil, nil, fmt.Errorf("bad Huffman block: %v (%d bytes, want %d)", err, len(out), size)
	}
	return out, rest, nil
}

// decodePlanes decodes the payload of a grouped or delta form (element
// size s) into dst's backing array when large enough, else a new one,
// rebuilding the chunk header; a delta is XORed with getBase's bytes. With
// sum set it also returns the CRC-32C of the object's bytes; h, when not
// nil, is given the object's bytes too, a sub-stripe at a time (a
// receiver hashes what it decodes while it is in cache).
func decodePlanes(si storedInfo, getBase func(ID) ([]byte, error), dst []byte, sum bool, h hash.Hash) ([]byte, uint32, error) {
	s := si.elemSize
	// scratch holds the zstd planes, taken only when there is one (the
	// low planes of a piece are raw or Huffman-coded), sized by their
	// frame headers: a small piece's decode took (and, with many in
	// flight, allocated and zeroed) a piece-sized buffer, most of the CPU
	// time of a merge of thousands of small tensors; a frame that does
	// not say: parsePlanes takes a piece-sized one
	var scratch []byte
	if z := zstdPlanesSize(si.payload, s); z > 0 {
		scratch = getBuf(z)[:0]
	}
	defer func() {
		if scratch != nil {
			putBuf(scratch)
		}
	}()
	planes, n, scratch, err := parsePlanes(si.payload, s, scratch)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %v", errStored, err)
	}
	size := HeaderSize + n*s
	if size > MaxObjectSize {
		return nil, 0, fmt.Errorf("%w: object of %d bytes is too large", errStored, size)
	}
	var out []byte
	if cap(dst) >= size {
		out = dst[:size]
	} else {
		out = make([]byte, size)
	}
	PutChunkHeader(out)
	var base []byte
	if si.enc == encDelta {
		b, err := getBase(si.base)
		if err != nil {
			return nil, 0, fmt.Errorf("delta base %s: %w", si.base.Short(), err)
		}
		if len(b) != len(out) {
			return nil, 0, fmt.Errorf("%w: delta of %d bytes against base of %d", errStored, len(out), len(b))
		}
		base = b[HeaderSize:]
	}
	var crc uint32
	if sum {
		crc = crc32.Update(0, castagnoli, out[:HeaderSize])
	}
	if h != nil {
		h.Write(out[:HeaderSize])
	}
	data := out[HeaderSize:]
	stripe := min(n, huffBlock)
	var stripeBuf []byte // stripe bytes for each Huffman plane
	var hs huff0.Scratch
	var pbuf [8][]byte
	cur := pbuf[:0]
	if s > len(pbuf) {
		cur = make([][]byte, 0, s)
	}
	cur = cur[:s]
	for e := 0; e < n; e += huffBlock {
		m := min(huffBlock, n-e)
		for j := range planes {
			p := &planes[j]
			switch p.mode {
			case planeHuff:
				if stripeBuf == nil {
					stripeBuf = getBuf(s * stripe)
					defer putBuf(stripeBuf)
				}
				var err error
				p.plane, p.body, err = nextHuffBlock(p.body, m, stripeBuf[j*stripe:(j+1)*stripe], &hs)
				if err != nil {
					return nil, 0, fmt.Errorf("%w: plane %d: %v", errStored, j, err)
				}
			default:
				p.plane = p.body[e : e+m]
			}
		}
		for a := 0; a < m; a += subStripe {
			b := min(a+subStripe, m)
			for j := range planes {
				cur[j] = planes[j].plane[a:b]
			}
			o := data[(e+a)*s : (e+b)*s]
			var bs []byte
			if base != nil {
				bs = base[(e+a)*s : (e+b)*s]
			}
			ungroupPlanes(o, cur, bs, b-a)
			if sum {
				crc = crc32.Update(crc, castagnoli, o)
			}
			if h != nil {
				h.Write(o)
			}
		}
	}
	return out, crc, nil
}
