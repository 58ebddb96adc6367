package npy

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/fed-vcs/fed/codec"
	"github.com/fed-vcs/fed/objects"
)

// ErrInvalid is wrapped by every *FormatError: the file carries the npy
// (or npz) signature but is damaged.
var ErrInvalid = errors.New("npy: invalid file")

// Magic starts every .npy file.
const Magic = "\x93NUMPY"

// MaxHeaderLen is the largest header accepted, in bytes. numpy itself
// refuses headers above 10,000 bytes unless told otherwise.
const MaxHeaderLen = 1 << 20

// ArrayName is the tensor name of the one array of an .npy file.
const ArrayName = "array"

// FormatError reports why a file is not a valid .npy or .npz file.
type FormatError struct {
	File string // file name as given to Parse
	Msg  string
}

func (e *FormatError) Error() string { return "npy: " + e.File + ": " + e.Msg }

// Unwrap returns ErrInvalid.
func (e *FormatError) Unwrap() error { return ErrInvalid }

// Header is the parsed header of one .npy array.
type Header struct {
	Major, Minor byte
	// Len is the length of everything before the data: magic, version,
	// header length and the header literal with its padding.
	Len     int64
	Descr   string // numpy's dtype string, e.g. "<f4"; "" for structured dtypes
	Fortran bool
	Shape   []uint64
	// DType is fed's dtype for Descr, or objects.Unknown with Unsupported
	// telling why the data cannot be a tensor (big-endian, strings,
	// objects, structured, complex128, …).
	DType       objects.DType
	Unsupported string
	// DataLen is the byte length of the data when DType is known.
	DataLen int64
}

// descrTypes maps the kind and size of a numpy dtype to fed's dtype.
var descrTypes = map[string]objects.DType{
	"b1": objects.Bool, "i1": objects.I8, "u1": objects.U8,
	"i2": objects.I16, "u2": objects.U16, "f2": objects.F16,
	"i4": objects.I32, "u4": objects.U32, "f4": objects.F32,
	"i8": objects.I64, "u8": objects.U64, "f8": objects.F64,
	"c8": objects.C64,
}

// DescrOf returns numpy's descr for a fed dtype, or "" when numpy has none.
func DescrOf(d objects.DType) string {
	for k, v := range descrTypes {
		if v == d {
			if size, _ := d.Size(); size == 1 {
				return "|" + k
			}
			return "<" + k
		}
	}
	return ""
}

// ReadHeader reads the header of the .npy array that starts at off in r,
// within the size bytes from off. Errors are plain messages for the caller
// to wrap (FormatError) or read errors.
func ReadHeader(r io.ReaderAt, off, size int64) (*Header, error) {
	if size < 10 {
		return nil, fmt.Errorf("truncated: %d bytes cannot hold an npy header", size)
	}
	var pre [12]byte
	n := min(size, 12)
	if err := readFull(r, pre[:n], off); err != nil {
		return nil, err
	}
	if string(pre[:6]) != Magic {
		return nil, fmt.Errorf("no %q magic", Magic)
	}
	h := &Header{Major: pre[6], Minor: pre[7]}
	var hlen int64
	switch h.Major {
	case 1:
		hlen, h.Len = int64(binary.LittleEndian.Uint16(pre[8:])), 10
	case 2, 3:
		if n < 12 {
			return nil, fmt.Errorf("truncated: %d bytes cannot hold an npy %d.%d header", size, h.Major, h.Minor)
		}
		hlen, h.Len = int64(binary.LittleEndian.Uint32(pre[8:])), 12
	default:
		return nil, fmt.Errorf("unsupported npy version %d.%d", h.Major, h.Minor)
	}
	if hlen > MaxHeaderLen {
		return nil, fmt.Errorf("header of %d bytes exceeds the limit of %d", hlen, MaxHeaderLen)
	}
	if hlen > size-h.Len {
		return nil, fmt.Errorf("truncated: header of %d bytes runs past the end", hlen)
	}
	raw := make([]byte, hlen)
	if err := readFull(r, raw, off+h.Len); err != nil {
		return nil, err
	}
	h.Len += hlen
	if h.Major == 3 && !utf8.Valid(raw) {
		return nil, fmt.Errorf("npy 3.x header is not valid UTF-8")
	}
	if err := h.decode(string(bytes.TrimRight(raw, " \t\r\n\x00"))); err != nil {
		return nil, err
	}
	return h, nil
}

// decode interprets the header dict.
func (h *Header) decode(txt string) error {
	v, err := parseLiteral(txt)
	if err != nil {
		return err
	}
	d, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("header is not a dict")
	}
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if !slices.Equal(keys, []string{"descr", "fortran_order", "shape"}) {
		return fmt.Errorf("header keys are %q, want descr, fortran_order and shape", keys)
	}
	if h.Fortran, ok = d["fortran_order"].(bool); !ok {
		return fmt.Errorf("fortran_order is not a bool")
	}
	shape, ok := d["shape"].(pyTuple)
	if !ok {
		return fmt.Errorf("shape is not a tuple")
	}
	h.Shape = make([]uint64, len(shape))
	for i, x := range shape {
		n, ok := x.(int64)
		if !ok || n < 0 {
			return fmt.Errorf("shape %v: dimension %d is not a non-negative integer", shape, i)
		}
		h.Shape[i] = uint64(n)
	}
	count, err := objects.NumElements(h.Shape)
	if err != nil {
		return fmt.Errorf("shape %v overflows", h.Shape)
	}
	switch descr := d["descr"].(type) {
	case string:
		h.Descr = descr
	case pyList:
		h.Unsupported = "structured dtype"
		return nil
	default:
		return fmt.Errorf("descr is neither a string nor a list")
	}
	if len(h.Descr) < 2 {
		return fmt.Errorf("bad descr %q", h.Descr)
	}
	order, kind := h.Descr[0], h.Descr[1:]
	dt, known := descrTypes[kind]
	switch {
	case !strings.ContainsRune("<>|=", rune(order)):
		return fmt.Errorf("bad descr %q: no byte order", h.Descr)
	case !known:
		h.Unsupported = "dtype " + strconv.Quote(h.Descr) + " has no fed dtype"
		return nil
	}
	size, _ := dt.Size()
	if size > 1 && order != '<' {
		h.Unsupported = "dtype " + strconv.Quote(h.Descr) + " is not little-endian"
		return nil
	}
	h.DType = dt
	if count > uint64(1<<62)/uint64(size) {
		return fmt.Errorf("shape %v of %s overflows", h.Shape, h.Descr)
	}
	h.DataLen = int64(count) * int64(size)
	return nil
}

// TensorShape returns the shape under which the data is stored as a
// tensor: the array's shape for C order, and the element count (1-d) for
// Fortran order, whose bytes are not the row-major data of the array.
func (h *Header) TensorShape() []uint64 {
	if !h.Fortran || len(h.Shape) < 2 {
		return slices.Clone(h.Shape)
	}
	n, _ := objects.NumElements(h.Shape)
	return []uint64{n}
}

// readFull fills buf from r at off; a short read is a truncated file.
func readFull(r io.ReaderAt, buf []byte, off int64) error {
	n, err := r.ReadAt(buf, off)
	if n == len(buf) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		return fmt.Errorf("truncated: cannot read %d bytes at offset %d", len(buf), off)
	}
	return &ioError{err}
}

// ioError marks an error of the underlying reader, as opposed to a
// problem with the file's content.
type ioError struct{ err error }

func (e *ioError) Error() string { return e.err.Error() }
func (e *ioError) Unwrap() error { return e.err }

// NPYParser is the codec.Parser of .npy files.
type NPYParser struct{}

var _ codec.Parser = NPYParser{}

func init() {
	codec.Register(codec.FormatNPY, NPYParser{})
	codec.RegisterDetector(codec.FormatNPY, codec.Detector{
		Content:  func(head []byte) bool { return bytes.HasPrefix(head, []byte(Magic)) },
		Suffixes: []string{".npy"},
	})
}

// Parse implements codec.Parser. Its layout is the raw header, the array
// data as one tensor named ArrayName, and any bytes after the data raw.
// A file without the magic (detected by name only) or whose dtype fed
// cannot store as a tensor gives a *codec.OpaqueError.
func (NPYParser) Parse(r io.ReaderAt, size int64, name string) (*codec.Layout, error) {
	var magic [len(Magic)]byte
	if size < int64(len(magic)) || readFull(r, magic[:], 0) != nil || string(magic[:]) != Magic {
		return nil, &codec.OpaqueError{File: name, Format: codec.FormatNPY, Reason: "no NUMPY magic; not an .npy file"}
	}
	h, err := ReadHeader(r, 0, size)
	if err != nil {
		return nil, wrapErr(name, err)
	}
	if h.DType == objects.Unknown {
		return nil, &codec.OpaqueError{File: name, Format: codec.FormatNPY, Reason: h.Unsupported}
	}
	if h.DataLen > size-h.Len {
		return nil, &FormatError{File: name, Msg: fmt.Sprintf("truncated: %s %v needs %d data bytes, file has %d",
			h.Descr, h.Shape, h.DataLen, size-h.Len)}
	}
	l := &codec.Layout{Format: codec.FormatNPY, Size: size, Segments: []codec.Segment{
		{Offset: 0, Length: h.Len},
		{Offset: h.Len, Length: h.DataLen, Tensor: &codec.TensorInfo{Name: ArrayName, DType: h.DType, Shape: h.TensorShape()}},
	}}
	if end := h.Len + h.DataLen; end < size {
		l.Segments = append(l.Segments, codec.Segment{Offset: end, Length: size - end})
	}
	return l, nil
}

// wrapErr turns a header message into a FormatError and passes read
// errors through.
func wrapErr(name string, err error) error {
	var ioe *ioError
	if errors.As(err, &ioe) {
		return fmt.Errorf("npy: read %s: %w", name, ioe.err)
	}
	return &FormatError{File: name, Msg: err.Error()}
}
