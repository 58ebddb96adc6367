package objects

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Format version and header of every canonical object encoding.
//
//	offset  size  field
//	0       3     magic "FED"
//	3       1     format version (FormatVersion)
//	4       1     kind (Kind)
//	5       ...   body, kind-specific (see doc/design.md)
const (
	FormatVersion = 1
	HeaderSize    = 5
)

var magic = [3]byte{'F', 'E', 'D'}

// Errors returned by the decoders.
var (
	// ErrMalformed reports object bytes that do not follow the canonical
	// encoding of doc/design.md.
	ErrMalformed = errors.New("objects: malformed object")
	// ErrUnsupportedVersion reports an object written by a newer format.
	ErrUnsupportedVersion = errors.New("objects: unsupported object format version")
)

// writer appends the primitive encodings of doc/design.md.
type writer struct{ b []byte }

func (w *writer) uvarint(v uint64) { w.b = binary.AppendUvarint(w.b, v) }
func (w *writer) varint(v int64)   { w.b = binary.AppendVarint(w.b, v) }
func (w *writer) byte1(v byte)     { w.b = append(w.b, v) }
func (w *writer) id(id ID)         { w.b = append(w.b, id[:]...) }
func (w *writer) bytes(p []byte) {
	w.uvarint(uint64(len(p)))
	w.b = append(w.b, p...)
}
func (w *writer) str(s string) {
	w.uvarint(uint64(len(s)))
	w.b = append(w.b, s...)
}

// reader consumes the primitive encodings; the first error sticks. Its
// errors wrap malformed (ErrMalformed when nil) and start with prefix.
type reader struct {
	b         []byte
	err       error
	malformed error
	prefix    string
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		sentinel := r.malformed
		if sentinel == nil {
			sentinel = ErrMalformed
		}
		r.err = fmt.Errorf("%w: %s%s", sentinel, r.prefix, fmt.Sprintf(format, args...))
	}
}

func (r *reader) uvarint(what string) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("bad varint in %s", what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint(what string) int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("bad varint in %s", what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

// count reads a length that announces n items of at least min bytes each,
// and refuses counts the remaining bytes cannot hold (no huge allocations
// from hostile input).
func (r *reader) count(what string, min int) int {
	n := r.uvarint(what)
	if r.err != nil {
		return 0
	}
	if min < 1 {
		min = 1
	}
	if n > uint64(len(r.b)/min) {
		r.fail("%s: count %d exceeds the remaining bytes", what, n)
		return 0
	}
	return int(n)
}

func (r *reader) byte1(what string) byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) < 1 {
		r.fail("truncated %s", what)
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

// take returns the next n bytes.
func (r *reader) take(n int, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || len(r.b) < n {
		r.fail("truncated %s", what)
		return nil
	}
	p := r.b[:n:n]
	r.b = r.b[n:]
	return p
}

func (r *reader) id(what string) ID {
	var id ID
	if r.err != nil {
		return id
	}
	if len(r.b) < IDSize {
		r.fail("truncated %s", what)
		return id
	}
	copy(id[:], r.b)
	r.b = r.b[IDSize:]
	return id
}

func (r *reader) bytes(what string) []byte {
	n := r.uvarint(what)
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.fail("truncated %s", what)
		return nil
	}
	p := r.b[:n:n]
	r.b = r.b[n:]
	return p
}

func (r *reader) str(what string) string {
	p := r.bytes(what)
	if r.err == nil && !utf8.Valid(p) {
		r.fail("%s is not UTF-8", what)
	}
	return string(p)
}

func (r *reader) end(what string) {
	if r.err == nil && len(r.b) != 0 {
		r.fail("%d trailing bytes after %s", len(r.b), what)
	}
}

func header(k Kind, sizeHint int) writer {
	w := writer{b: make([]byte, 0, HeaderSize+sizeHint)}
	w.b = append(w.b, magic[:]...)
	w.b = append(w.b, FormatVersion, byte(k))
	return w
}

// PeekKind returns the kind of canonical object bytes after checking the
// header (magic and version).
func PeekKind(b []byte) (Kind, error) {
	if len(b) < HeaderSize || b[0] != magic[0] || b[1] != magic[1] || b[2] != magic[2] {
		return 0, fmt.Errorf("%w: bad header", ErrMalformed)
	}
	if b[3] != FormatVersion {
		return 0, fmt.Errorf("%w %d (this fed reads version %d; a newer fed release is needed)", ErrUnsupportedVersion, b[3], FormatVersion)
	}
	k := Kind(b[4])
	if !k.valid() {
		return 0, fmt.Errorf("%w: unknown kind %d (a newer fed release is needed)", ErrMalformed, b[4])
	}
	return k, nil
}
