package objects

import (
	"bytes"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"math/bits"
	"runtime"
	"sync"

	"github.com/klauspost/compress/huff0"
	"github.com/klauspost/compress/zstd"
)

// The stored form of an object: how a DiskStore keeps it in a file. See
// doc/design.md, "Stored form".
//
//	offset size field
//	0      2    magic "FZ"
//	2      1    encoding
//	encoding 0 (raw):      canonical bytes
//	encoding 1 (zstd):     one zstd frame of the canonical bytes
//	encoding 2 (grouped):  1 byte element size s; one zstd frame of the
//	                       chunk's data with its bytes grouped by position
//	                       in the element (Group)
//	encoding 3 (delta):    1 byte s; 1 byte depth; 32 bytes base id; one
//	                       zstd frame of Group(data XOR base data)
//
// An encoding byte with bit 7 (flagSum) set marks a form that ends with 4
// more bytes: the CRC-32C of the canonical bytes, little-endian. Forms a
// DiskStore writes carry it, so that a local read checks a checksum instead
// of hashing the object again (design §6); forms on the wire do not.
const (
	encRaw     = 0
	encZstd    = 1
	encGrouped = 2
	encDelta   = 3

	// MaxDeltaDepth caps delta chains: a piece whose base is already this
	// deep is stored whole, so a read decodes at most MaxDeltaDepth+1
	// objects.
	MaxDeltaDepth = 8

	storedMagic0, storedMagic1 = 'F', 'Z'
	deltaHeader                = 3 + 2 + IDSize

	flagSum = 0x80
	sumSize = 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// objSum is the checksum a stored form carries: CRC-32C of the canonical
// bytes.
func objSum(obj []byte) uint32 { return crc32.Checksum(obj, castagnoli) }

// withSum appends obj's checksum to a stored form without one.
func withSum(stored, obj []byte) []byte {
	return appendSum(stored, objSum(obj))
}

// appendSum appends the checksum sum to a stored form without one.
func appendSum(stored []byte, sum uint32) []byte {
	stored[2] |= flagSum
	return binary.LittleEndian.AppendUint32(stored, sum)
}

// stripSum returns a stored form without its checksum (the wire form),
// modifying b's encoding byte in place.
func stripSum(b []byte) []byte {
	if len(b) >= 3+sumSize && b[2]&flagSum != 0 {
		b[2] &^= flagSum
		return b[:len(b)-sumSize]
	}
	return b
}

var (
	zenc     *zstd.Encoder
	zdec     *zstd.Decoder
	zstdOnce sync.Once
)

func codecs() (*zstd.Encoder, *zstd.Decoder) {
	zstdOnce.Do(func() {
		var err error
		zenc, err = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest),
			zstd.WithEncoderCRC(false), zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)), zstd.WithLowerEncoderMem(true))
		if err != nil {
			panic(err) // only on invalid options, fixed above
		}
		zdec, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0),
			zstd.WithDecoderMaxMemory(MaxObjectSize+HeaderSize), zstd.WithDecoderMaxWindow(MaxObjectSize))
		if err != nil {
			panic(err)
		}
	})
	return zenc, zdec
}

// Group writes the bytes of data grouped by their position within each
// element of size s into dst: all bytes at position 0 of every element,
// then all bytes at position 1, and so on. len(data) must be a multiple
// of s. It is the inverse of Ungroup.
func Group(dst, data []byte, s int) { groupXor(dst, data, nil, s) }

// groupXor is Group of data XOR base (base nil: of data), in one pass.
func groupXor(dst, data, base []byte, s int) {
	n := len(data) / s
	done := groupFast(dst, data, base, s, n)
	if base != nil && done < n {
		// the scalar rest works on the XOR, made here
		x := getBuf(n * s)
		defer putBuf(x)
		subtle.XORBytes(x[done*s:], data[done*s:n*s], base[done*s:n*s])
		data = x
	}
	switch s {
	case 1:
		copy(dst, data[:n])
	case 2:
		p0, p1 := dst[:n], dst[n:2*n]
		for i := done; i < n; i++ {
			p0[i], p1[i] = data[2*i], data[2*i+1]
		}
	case 4:
		p0, p1, p2, p3 := dst[:n], dst[n:2*n], dst[2*n:3*n], dst[3*n:4*n]
		d := data[:4*n]
		for i := done; i < n; i++ {
			v := binary.LittleEndian.Uint32(d[4*i:])
			p0[i], p1[i], p2[i], p3[i] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
		}
	default:
		for j := 0; j < s; j++ {
			p := dst[j*n : (j+1)*n]
			for i := 0; i < n; i++ {
				p[i] = data[i*s+j]
			}
		}
	}
}

// Ungroup is the inverse of Group.
func Ungroup(dst, grouped []byte, s int) { ungroupXor(dst, grouped, nil, s) }

// ungroupXor is Ungroup followed by dst ^= base when base is not nil
// (one pass over memory for a delta).
func ungroupXor(dst, grouped, base []byte, s int) {
	n := len(grouped) / s
	var buf [8][]byte
	planes := buf[:0]
	if s > len(buf) {
		planes = make([][]byte, 0, s)
	}
	for j := 0; j < s; j++ {
		planes = append(planes, grouped[j*n:(j+1)*n])
	}
	ungroupPlanes(dst, planes, base, n)
}

// ungroupPlanes interleaves planes (one per byte of the element, each n
// bytes) into dst, XORed with base when base is not nil.
func ungroupPlanes(dst []byte, planes [][]byte, base []byte, n int) {
	s := len(planes)
	done := ungroupFast(dst, planes, base, n)
	switch s {
	case 1:
		copy(dst, planes[0][:n])
	case 2:
		p0, p1 := planes[0][:n], planes[1][:n]
		for i := done; i < n; i++ {
			dst[2*i], dst[2*i+1] = p0[i], p1[i]
		}
	case 4:
		p0, p1, p2, p3 := planes[0][:n], planes[1][:n], planes[2][:n], planes[3][:n]
		d := dst[:4*n]
		for i := done; i < n; i++ {
			binary.LittleEndian.PutUint32(d[4*i:], uint32(p0[i])|uint32(p1[i])<<8|uint32(p2[i])<<16|uint32(p3[i])<<24)
		}
	default:
		for j, p := range planes {
			p = p[:n]
			for i := 0; i < n; i++ {
				dst[i*s+j] = p[i]
			}
		}
	}
	if base != nil {
		if s != 2 && s != 4 {
			done = 0
		}
		subtle.XORBytes(dst[done*s:n*s], dst[done*s:n*s], base[done*s:n*s])
	}
}

var errStored = errors.New("bad stored form")

// storedInfo is the parsed header of a stored form.
type storedInfo struct {
	enc      byte
	hasSum   bool // the form carries sum, the canonical bytes' checksum
	sum      uint32
	elemSize int
	depth    int
	base     ID
	payload  []byte
}

func parseStored(b []byte) (storedInfo, error) {
	var si storedInfo
	if len(b) < 3 || b[0] != storedMagic0 || b[1] != storedMagic1 {
		return si, fmt.Errorf("%w: bad magic", errStored)
	}
	si.enc = b[2]
	if si.enc&flagSum != 0 {
		if len(b) < 3+sumSize {
			return si, fmt.Errorf("%w: truncated checksum", errStored)
		}
		si.enc &^= flagSum
		si.hasSum = true
		si.sum = binary.LittleEndian.Uint32(b[len(b)-sumSize:])
		b = b[:len(b)-sumSize]
	}
	switch si.enc {
	case encRaw, encZstd:
		si.payload = b[3:]
	case encGrouped:
		if len(b) < 4 {
			return si, fmt.Errorf("%w: truncated header", errStored)
		}
		si.elemSize = int(b[3])
		si.payload = b[4:]
	case encDelta:
		if len(b) < deltaHeader {
			return si, fmt.Errorf("%w: truncated delta header", errStored)
		}
		si.elemSize = int(b[3])
		si.depth = int(b[4])
		copy(si.base[:], b[5:5+IDSize])
		si.payload = b[deltaHeader:]
		if si.depth < 1 || si.depth > MaxDeltaDepth {
			return si, fmt.Errorf("%w: delta depth %d", errStored, si.depth)
		}
	default:
		return si, fmt.Errorf("%w: unknown encoding %d (a newer fed release may be needed)", errStored, si.enc)
	}
	if (si.enc == encGrouped || si.enc == encDelta) && (si.elemSize < 1 || si.elemSize > 8) {
		return si, fmt.Errorf("%w: element size %d", errStored, si.elemSize)
	}
	return si, nil
}

// encodeStored picks the smallest stored form of canonical bytes obj.
// base, when not nil, is the canonical bytes of the delta base (a chunk of
// the same length) at depth baseDepth.
func encodeStored(obj []byte, opts PutOptions, base []byte, baseDepth int) []byte {
	return withSum(encodeStoredForm(obj, opts, base, baseDepth), obj)
}

// encodeStoredForm is encodeStored without the checksum.
func encodeStoredForm(obj []byte, opts PutOptions, base []byte, baseDepth int) []byte {
	enc, _ := codecs()
	raw := func() []byte {
		out := make([]byte, 3+len(obj))
		out[0], out[1], out[2] = storedMagic0, storedMagic1, encRaw
		copy(out[3:], obj)
		return out
	}
	if len(obj) < 64 {
		return raw()
	}
	// the grouped forms rebuild the canonical chunk header: only an
	// object that has exactly that header may use them
	var hdr [HeaderSize]byte
	PutChunkHeader(hdr[:])
	isChunk := bytes.Equal(obj[:HeaderSize], hdr[:])
	s := opts.ElemSize
	if !isChunk || s < 1 || s > 8 || (len(obj)-HeaderSize)%s != 0 {
		hdr := make([]byte, 3, 3+len(obj)+len(obj)/64+64)
		hdr[0], hdr[1], hdr[2] = storedMagic0, storedMagic1, encZstd
		out := enc.EncodeAll(obj, hdr)
		if len(out) >= len(obj)+3 {
			return raw()
		}
		return out
	}
	data := obj[HeaderSize:]
	scratch := getBuf(len(data))
	defer putBuf(scratch)
	var out []byte
	if base != nil && len(base) == len(obj) && baseDepth < MaxDeltaDepth {
		bd := base[HeaderSize:]
		groupXor(scratch, data, bd, s)
		hdr := getBuf(deltaHeader + len(data) + len(data)/64 + 64)[:deltaHeader]
		hdr[0], hdr[1], hdr[2], hdr[3], hdr[4] = storedMagic0, storedMagic1, encDelta, byte(s), byte(baseDepth+1)
		copy(hdr[5:], opts.DeltaBase[:])
		out = encodePlanes(hdr, scratch, s)
	} else {
		Group(scratch, data, s)
		hdr := getBuf(4 + len(data) + len(data)/64 + 64)[:4]
		hdr[0], hdr[1], hdr[2], hdr[3] = storedMagic0, storedMagic1, encGrouped, byte(s)
		out = encodePlanes(hdr, scratch, s)
	}
	if len(out) >= len(obj)+3 {
		return raw()
	}
	return out
}

// decodeStored returns the canonical bytes of a stored form. getBase
// returns the canonical bytes of a delta base.
func decodeStored(b []byte, getBase func(ID) ([]byte, error)) ([]byte, error) {
	return decodeStoredInto(b, getBase, nil)
}

// decodeStoredInto is decodeStored writing the object into dst's backing
// array when it is large enough (else into a new one); the result never
// aliases b.
func decodeStoredInto(b []byte, getBase func(ID) ([]byte, error), dst []byte) ([]byte, error) {
	obj, _, err := decodeStoredSum(b, getBase, dst)
	if err != nil {
		return nil, err
	}
	return obj, nil
}

// decodeStoredSum is decodeStoredInto that also reports whether the form
// carried a checksum (which the result then matches).
func decodeStoredSum(b []byte, getBase func(ID) ([]byte, error), dst []byte) ([]byte, bool, error) {
	si, err := parseStored(b)
	if err != nil {
		return nil, false, err
	}
	out, got, err := decodeParsed(si, getBase, dst, si.hasSum)
	if err != nil || !si.hasSum {
		return out, false, err
	}
	if got != si.sum {
		return out, false, &sumError{got: got, want: si.sum}
	}
	return out, true, nil
}

// sumError is a decoded object that does not match its form's checksum;
// decodeStoredSum returns the object with it.
type sumError struct{ got, want uint32 }

func (e *sumError) Error() string {
	return fmt.Sprintf("%v: checksum %08x, stored %08x", errStored, e.got, e.want)
}

func (e *sumError) Unwrap() error { return errStored }

// decodeParsed decodes a parsed stored form; with sum set it also returns
// the checksum of the canonical bytes (objSum), computed as they are made.
func decodeParsed(si storedInfo, getBase func(ID) ([]byte, error), dst []byte, sum bool) ([]byte, uint32, error) {
	_, dec := codecs()
	var out []byte
	switch si.enc {
	case encRaw:
		if len(si.payload) > MaxObjectSize {
			return nil, 0, fmt.Errorf("%w: object of %d bytes is too large", errStored, len(si.payload))
		}
		out = append(dst[:0], si.payload...)
	case encZstd:
		var err error
		out, err = dec.DecodeAll(si.payload, dst[:0])
		if err != nil {
			return nil, 0, fmt.Errorf("%w: %v", errStored, err)
		}
		if len(out) > MaxObjectSize {
			return nil, 0, fmt.Errorf("%w: object of %d bytes is too large", errStored, len(out))
		}
	default:
		return decodePlanes(si, getBase, dst, sum, nil)
	}
	if !sum {
		return out, 0, nil
	}
	return out, objSum(out), nil
}

// bufFree keeps a few piece-sized buffers for reuse: decoding and
// encoding a 4 MiB piece needs several, and a sync.Pool would lose them at
// every collection (frequent under fed's soft memory limit).
var bufFree = make(chan []byte, 16)

// getBuf returns a buffer of length n, its contents undefined. Under
// smallBuf: from minPooled to maxPooled one of the power-of-two size
// class that holds n, reused from smallFree, else a new one of exactly
// that size (a tiny
// tensor's piece took a piece-sized buffer from the pool, and when the
// pool ran dry allocated and zeroed 4 MiB for a few KiB: a tenth of the
// CPU time of adding 2,000 small tensors; allocating and zeroing each
// small piece's buffers anew was still a tenth of what fed add and fed
// merge spent on such a model beside creating files). From smallBuf on: a
// reused one or a new one of bufCap. getBuf(0) is a buffer to append to:
// piece-sized.
func getBuf(n int) []byte {
	if n > 0 && n < smallBuf {
		if n < minPooled || n > maxPooled {
			return make([]byte, n)
		}
		c := smallClass(n)
		if p, ok := smallFree[c].Get().(*[]byte); ok {
			return (*p)[:n]
		}
		return make([]byte, n, minPooled<<c)
	}
	select {
	case b := <-bufFree:
		if cap(b) >= n {
			return b[:n]
		}
	default:
	}
	return make([]byte, n, max(n, bufCap))
}

// bufCap is the capacity of a new reused buffer: a piece with its header,
// or a piece's stored form with its headers and Group's worst case, so
// that decoding or encoding a piece finds the buffer large enough instead
// of allocating another.
const bufCap = DefaultPieceSize + 128<<10

// smallBuf is the size under which getBuf draws from the size classes
// of smallFree rather than from bufFree.
const smallBuf = 1 << 20

// minPooled and maxPooled are the smallest and the largest size class of
// smallFree: smaller buffers are cheap to allocate (no large-object
// allocation, little to zero).
const (
	minPooled = 16 << 10
	maxPooled = smallBuf / 2
)

// smallFree holds released buffers of capacity minPooled<<c in class c. A
// sync.Pool suits them: losing them to a collection costs little, and
// unlike piece-sized ones they hold no memory worth bounding.
var smallFree [6]sync.Pool // 16 KiB … 512 KiB

// smallClass returns the size class of a buffer of n bytes, minPooled <=
// n <= maxPooled: the smallest c with minPooled<<c >= n.
func smallClass(n int) int {
	return bits.Len(uint(n-1)) - bits.Len(uint(minPooled-1))
}

// putBuf releases a buffer from getBuf (or one its caller owns outright:
// nothing may use b afterwards).
func putBuf(b []byte) {
	switch c := cap(b); {
	case c >= smallBuf && c <= 8<<20:
		select {
		case bufFree <- b[:0]:
		default:
		}
	case c >= minPooled && c <= maxPooled && c&(c-1) == 0:
		b = b[:c]
		smallFree[smallClass(c)].Put(&b)
	}
}

// Plane modes of the grouped and delta stored forms.
const (
	planeRaw  = 0
	planeZstd = 1
	planeHuff = 2
	// planeSample is how many bytes of a plane are compressed first to
	// decide how to store all of it.
	planeSample = 16 << 10
	// huffBlock is the block size of planeHuff (huff0's maximum input).
	huffBlock = 128 << 10
)

// encodePlanes appends to dst the s planes of grouped (Group's output),
// each as: byte mode, uvarint length, bytes.
//
// A plane of at least sampledPlane bytes (a large piece's) is decided on a
// sample: its first planeSample bytes are compressed with zstd and with
// Huffman coding alone (huff0, zstd's own entropy stage) and the smaller
// wins, unless neither shrinks it by 3% (the low mantissa bytes of trained
// weights): then the plane is stored raw without compressing all of it.
// Huffman coding is 4× faster than zstd on the middle bytes of float
// deltas and smaller there; zstd wins on the nearly constant bytes.
//
// A smaller plane (a small tensor's) is decided on its byte histogram
// (byteEntropy), which costs less than the sample's two trial codings did:
// those, and zstd's fixed cost per call, dominated adding thousands of
// small tensors. Order-0 entropy of at least 97% of 8 bits a byte: raw (no
// code of single bytes shrinks it by 3%); under 1 bit a byte (the high
// bytes of a delta): zstd, whose matches go below Huffman's floor of one
// bit a byte; else Huffman coding, and when that shrinks the plane to a
// quarter or less, zstd as well, the smaller kept. At these sizes zstd's
// headers cost more than its matches gain on float bytes (the
// sign-and-exponent plane of a 4 KiB vector: zstd 79% of raw, Huffman 36%).
//
// Whatever is chosen, a plane it does not shrink is stored raw.
func encodePlanes(dst, grouped []byte, s int) []byte {
	enc, _ := codecs()
	n := len(grouped) / s
	var sample []byte
	hs := getHuffScratch()
	defer putHuffScratch(hs)
	for j := 0; j < s; j++ {
		p := grouped[j*n : (j+1)*n]
		if len(p) < sampledPlane {
			dst = appendSmallPlane(dst, p, hs)
			continue
		}
		mode := byte(planeZstd)
		sample = enc.EncodeAll(p[:planeSample], sample[:0])
		zs := len(sample)
		hsz := planeSample
		if c, _, err := huff0.Compress4X(p[:planeSample], hs); err == nil {
			hsz = len(c)
		}
		switch best := min(zs, hsz); {
		case best*100 > planeSample*97:
			mode = planeRaw
		case hsz < zs:
			mode = planeHuff
		}
		dst = appendPlane(dst, p, mode, hs)
	}
	return dst
}

// sampledPlane is the size from which encodePlanes decides a plane's mode
// on a sample of it rather than on its histogram: the planes of a 4 MiB
// piece of 4-byte elements (1 MiB) and larger ones stay as before.
const sampledPlane = 256 << 10

// appendSmallPlane appends a plane under sampledPlane bytes (see
// encodePlanes).
func appendSmallPlane(dst, p []byte, hs *huff0.Scratch) []byte {
	switch h := byteEntropy(p); {
	case h >= 0.97*8:
		return appendPlane(dst, p, planeRaw, nil)
	case h < 1:
		return appendPlane(dst, p, planeZstd, nil)
	}
	start := len(dst)
	dst = appendPlane(dst, p, planeHuff, hs)
	m := len(dst) - start
	if m*4 > len(p) {
		return dst
	}
	// nearly constant: zstd may do better; coded after the Huffman
	// coding, in the same buffer, and kept if smaller
	dst = appendPlane(dst, p, planeZstd, nil)
	if z := len(dst) - start - m; z < m {
		copy(dst[start:], dst[start+m:])
		return dst[:start+z]
	}
	return dst[:start+m]
}

// byteEntropy returns the order-0 entropy of p's bytes in bits a byte: the
// floor of any code of single bytes (Huffman's included, before its
// table). A plane longer than 2·entropySample bytes is judged on
// entropySample of its bytes: blocks of entropyBlock spread evenly over it.
func byteEntropy(p []byte) float64 {
	if len(p) == 0 {
		return 0
	}
	var c0, c1, c2, c3 [256]uint32
	count := func(q []byte) {
		for len(q) >= 4 {
			c0[q[0]]++
			c1[q[1]]++
			c2[q[2]]++
			c3[q[3]]++
			q = q[4:]
		}
		for _, b := range q {
			c0[b]++
		}
	}
	n := len(p)
	if n <= 2*entropySample {
		count(p)
	} else {
		// blocks of whole runs of bytes, so that a pattern repeating
		// within a block (a row, a period of 2 or 4) is counted as it is
		const blocks = entropySample / entropyBlock
		for i := range blocks {
			at := i * (len(p) - entropyBlock) / (blocks - 1)
			count(p[at : at+entropyBlock])
		}
		n = entropySample
	}
	sum := 0.0 // Σ k·log2(k) over the byte counts k
	for b := range 256 {
		if k := c0[b] + c1[b] + c2[b] + c3[b]; k < uint32(len(kLog2k)) {
			sum += float64(kLog2k[k])
		} else {
			sum += float64(k) * math.Log2(float64(k))
		}
	}
	m := float64(n)
	return math.Log2(m) - sum/m
}

// entropySample is how many bytes of a long plane byteEntropy counts, in
// blocks of entropyBlock.
const (
	entropySample = 4 << 10
	entropyBlock  = 256
)

// kLog2k holds k·log2(k) for the byte counts of byteEntropy (math.Log2
// for each of 256 counts took longer than counting a 4 KiB plane).
var kLog2k = func() (t [2 * entropySample]float32) {
	for k := 2; k < len(t); k++ {
		t[k] = float32(float64(k) * math.Log2(float64(k)))
	}
	return t
}()

// appendPlane appends plane p in the given mode (byte mode, uvarint
// length, payload), or raw when the mode does not shrink it.
func appendPlane(dst, p []byte, mode byte, hs *huff0.Scratch) []byte {
	start := len(dst)
	if mode != planeRaw {
		enc, _ := codecs()
		// mode, a length placeholder of 5 bytes, then the payload
		dst = append(dst, mode, 0x80, 0x80, 0x80, 0x80, 0x00)
		if mode == planeZstd {
			dst = enc.EncodeAll(p, dst)
		} else {
			dst = appendHuff(dst, p, hs)
		}
		m := len(dst) - start - 6
		if m < len(p) {
			var l [binary.MaxVarintLen64]byte
			k := binary.PutUvarint(l[:], uint64(m))
			copy(dst[start+1:], l[:k])
			copy(dst[start+1+k:], dst[start+6:])
			return dst[:len(dst)-(5-k)]
		}
		dst = dst[:start] // no gain: store raw
	}
	dst = append(dst, planeRaw)
	dst = binary.AppendUvarint(dst, uint64(len(p)))
	return append(dst, p...)
}

// huffFree keeps huff0 scratch spaces (a few KiB of tables each) for reuse
// across objects.
var huffFree = sync.Pool{New: func() any {
	hs := new(huff0.Scratch)
	hs.Reuse = huff0.ReusePolicyNone
	return hs
}}

func getHuffScratch() *huff0.Scratch { return huffFree.Get().(*huff0.Scratch) }

func putHuffScratch(hs *huff0.Scratch) { huffFree.Put(hs) }

// appendHuff appends the planeHuff payload of p: uvarint len(p), then
// for every block of huffBlock bytes (the last shorter) a kind byte — 0:
// the block raw; 1: one byte repeated; 2: uvarint length and a
// self-contained huff0 4X stream (table included).
func appendHuff(dst, p []byte, hs *huff0.Scratch) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(p)))
	for k := 0; k < len(p); k += huffBlock {
		blk := p[k:min(k+huffBlock, len(p))]
		c, _, err := huff0.Compress4X(blk, hs)
		switch {
		case err == huff0.ErrUseRLE:
			dst = append(dst, 1, blk[0])
		case err != nil || len(c) >= len(blk):
			dst = append(dst, 0)
			dst = append(dst, blk...)
		default:
			dst = append(dst, 2)
			dst = binary.AppendUvarint(dst, uint64(len(c)))
			dst = append(dst, c...)
		}
	}
	return dst
}
