package objects

import (
	"crypto/sha256"
	"encoding/binary"
)

// Content-defined chunking of opaque files (FastCDC-style, with
// normalised chunking). Every client must cut the same way, so the
// parameters below are part of the format (doc/design.md, "Blobs").
const (
	CDCMinSize = 256 << 10                    // no cut before this many bytes
	CDCAvgSize = 1 << 20                      // below it the strict mask is used, above it the loose one
	CDCMaxSize = 4 << 20                      // forced cut
	cdcMaskS   = uint64(1<<22-1) << (64 - 22) // top 22 bits
	cdcMaskL   = uint64(1<<18-1) << (64 - 18) // top 18 bits
)

// gear is the rolling hash table: gear[i] is the first 8 bytes, read as
// little-endian, of SHA-256("fed-cdc-gear" || byte(i)).
var gear = func() (t [256]uint64) {
	for i := range t {
		h := sha256.Sum256(append([]byte("fed-cdc-gear"), byte(i)))
		t[i] = binary.LittleEndian.Uint64(h[:8])
	}
	return t
}()

// CutPoint returns the length of the first chunk of data. When data is
// shorter than CDCMaxSize and final is false, it may return 0: more data
// is needed to decide. With final true it always returns a length > 0
// for non-empty data.
func CutPoint(data []byte, final bool) int {
	n := len(data)
	if n <= CDCMinSize {
		if final {
			return n
		}
		return 0
	}
	limit := n
	if limit > CDCMaxSize {
		limit = CDCMaxSize
	}
	var h uint64
	i := CDCMinSize
	normal := CDCAvgSize
	if normal > limit {
		normal = limit
	}
	for ; i < normal; i++ {
		h = (h << 1) + gear[data[i]]
		if h&cdcMaskS == 0 {
			return i + 1
		}
	}
	for ; i < limit; i++ {
		h = (h << 1) + gear[data[i]]
		if h&cdcMaskL == 0 {
			return i + 1
		}
	}
	if limit == CDCMaxSize || final {
		return limit
	}
	return 0
}
