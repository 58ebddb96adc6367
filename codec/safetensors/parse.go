package safetensors

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
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

// ErrInvalid is wrapped by every *FormatError: the file is not a valid
// safetensors file.
var ErrInvalid = errors.New("safetensors: invalid file")

// MaxHeaderLen is the largest header length N accepted, the limit of the
// reference implementation.
const MaxHeaderLen = 100_000_000

// metadataKey is the header key of the free-form string metadata.
const metadataKey = "__metadata__"

// FormatError reports why a file is not valid safetensors.
type FormatError struct {
	File string // file name as given to Parse
	Msg  string // the problem, naming the tensor concerned if any
}

func (e *FormatError) Error() string {
	if e.File == "" {
		return "safetensors: " + e.Msg
	}
	return "safetensors: " + e.File + ": " + e.Msg
}

// Unwrap returns ErrInvalid.
func (e *FormatError) Unwrap() error { return ErrInvalid }

// Header is the parsed header of a safetensors file.
type Header struct {
	// Len is N, the length of the JSON header including its padding; the
	// data region starts at DataStart() = 8+Len.
	Len int64
	// Metadata is the "__metadata__" object, nil when absent or null.
	Metadata map[string]string
	// Tensors in the order of the header's JSON object.
	Tensors []Entry
}

// DataStart returns the file offset of the data region.
func (h *Header) DataStart() int64 { return 8 + h.Len }

// Entry is one tensor of a header.
type Entry struct {
	Info codec.TensorInfo
	// Begin and End are the data_offsets, relative to the data region.
	Begin, End int64
}

// Parser is the codec.Parser of safetensors files.
type Parser struct{}

var _ codec.Parser = Parser{}

func init() { codec.Register(codec.FormatSafetensors, Parser{}) }

// Parse implements codec.Parser.
func (Parser) Parse(r io.ReaderAt, size int64, name string) (*codec.Layout, error) {
	l, _, err := Parse(r, size, name)
	return l, err
}

// Parse reads and validates the header of the safetensors file r of size
// bytes, and returns its layout and header. name is used in errors only.
// Invalid files give a *FormatError; read errors are wrapped as they are.
func Parse(r io.ReaderAt, size int64, name string) (*codec.Layout, *Header, error) {
	bad := func(format string, args ...any) error {
		return &FormatError{File: name, Msg: fmt.Sprintf(format, args...)}
	}
	if size < 8 {
		return nil, nil, bad("truncated: file has %d bytes, the header length alone takes 8", size)
	}
	var prefix [8]byte
	if err := readAt(r, prefix[:], 0, name); err != nil {
		return nil, nil, err
	}
	n := binary.LittleEndian.Uint64(prefix[:])
	if n > MaxHeaderLen {
		return nil, nil, bad("header length %d exceeds the limit of %d bytes", n, MaxHeaderLen)
	}
	if n > uint64(size-8) {
		return nil, nil, bad("truncated: header length %d runs past the end of the %d-byte file", n, size)
	}
	raw := make([]byte, n)
	if err := readAt(r, raw, 8, name); err != nil {
		return nil, nil, err
	}
	h, err := decodeHeader(raw)
	if err != nil {
		return nil, nil, bad("%s", err.Error())
	}
	h.Len = int64(n)
	dataLen := size - h.DataStart()
	order, err := checkData(h.Tensors, dataLen)
	if err != nil {
		return nil, nil, bad("%s", err.Error())
	}
	l := &codec.Layout{
		Format:   codec.FormatSafetensors,
		Size:     size,
		Segments: make([]codec.Segment, 0, 1+len(order)),
	}
	l.Segments = append(l.Segments, codec.Segment{Offset: 0, Length: h.DataStart()})
	for _, i := range order {
		e := h.Tensors[i]
		info := e.Info
		info.Shape = slices.Clone(info.Shape)
		l.Segments = append(l.Segments, codec.Segment{
			Offset: h.DataStart() + e.Begin,
			Length: e.End - e.Begin,
			Tensor: &info,
		})
	}
	return l, h, nil
}

// readAt fills buf from offset off; a short read is a truncated file.
func readAt(r io.ReaderAt, buf []byte, off int64, name string) error {
	n, err := r.ReadAt(buf, off)
	if n == len(buf) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		return &FormatError{File: name, Msg: fmt.Sprintf("truncated: read %d of %d bytes at offset %d", n, len(buf), off)}
	}
	return fmt.Errorf("safetensors: read %s at offset %d: %w", name, off, err)
}

// checkData checks each tensor's offsets and byte length, then that the
// tensors tile [0, dataLen) exactly. It returns the tensor indices in data
// order: by (begin, end), ties (zero-length tensors at one offset) in
// header order.
func checkData(ts []Entry, dataLen int64) ([]int, error) {
	for _, e := range ts {
		if e.End < e.Begin {
			return nil, fmt.Errorf("tensor %q: data_offsets [%d, %d] end before they begin", e.Info.Name, e.Begin, e.End)
		}
		if e.End > dataLen {
			return nil, fmt.Errorf("tensor %q: data_offsets [%d, %d] run past the end of the %d-byte data region",
				e.Info.Name, e.Begin, e.End, dataLen)
		}
		n, known, err := e.Info.ByteLen()
		if err != nil {
			return nil, fmt.Errorf("tensor %q: %w", e.Info.Name, err)
		}
		if known && n != e.End-e.Begin {
			return nil, fmt.Errorf("tensor %q: %s of shape %v has %d bytes, data_offsets [%d, %d] hold %d",
				e.Info.Name, e.Info.DType, e.Info.Shape, n, e.Begin, e.End, e.End-e.Begin)
		}
	}
	order := make([]int, len(ts))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return cmp.Or(cmp.Compare(ts[a].Begin, ts[b].Begin), cmp.Compare(ts[a].End, ts[b].End))
	})
	var pos int64
	prev := -1
	for _, i := range order {
		e := ts[i]
		switch {
		case e.Begin > pos:
			return nil, fmt.Errorf("tensor %q: data_offsets [%d, %d] leave a hole: bytes [%d, %d) belong to no tensor",
				e.Info.Name, e.Begin, e.End, pos, e.Begin)
		case e.Begin < pos:
			return nil, fmt.Errorf("tensor %q: data_offsets [%d, %d] overlap tensor %q [%d, %d]",
				e.Info.Name, e.Begin, e.End, ts[prev].Info.Name, ts[prev].Begin, ts[prev].End)
		}
		pos = e.End
		prev = i
	}
	if pos != dataLen {
		return nil, fmt.Errorf("data region has %d bytes after the last tensor (ends at %d of %d)", dataLen-pos, pos, dataLen)
	}
	return order, nil
}

// decodeHeader decodes the JSON header with a token decoder, so that
// duplicate keys are seen (encoding/json's Unmarshal keeps the last).
func decodeHeader(raw []byte) (*Header, error) {
	if !utf8.Valid(raw) {
		return nil, errors.New("header is not valid UTF-8")
	}
	if len(raw) == 0 || raw[0] != '{' {
		return nil, errors.New("header does not start with '{'")
	}
	d := &decoder{dec: json.NewDecoder(bytes.NewReader(raw))}
	d.dec.UseNumber()
	h := &Header{}
	if err := d.delim('{', "header"); err != nil {
		return nil, err
	}
	seen := make(map[string]bool)
	for d.dec.More() {
		key, err := d.key()
		if err != nil {
			return nil, err
		}
		if seen[key] {
			if key == metadataKey {
				return nil, errors.New("duplicate __metadata__")
			}
			return nil, fmt.Errorf("duplicate tensor name %q", key)
		}
		seen[key] = true
		if key == metadataKey {
			if h.Metadata, err = d.metadata(); err != nil {
				return nil, err
			}
			continue
		}
		e, err := d.tensor(key)
		if err != nil {
			return nil, err
		}
		h.Tensors = append(h.Tensors, e)
	}
	if err := d.delim('}', "header"); err != nil {
		return nil, err
	}
	end := d.dec.InputOffset()
	if rest := raw[end:]; len(strings.Trim(string(rest), " \t\r\n")) != 0 {
		return nil, fmt.Errorf("header has non-whitespace bytes after its JSON object at byte %d", end)
	}
	return h, nil
}

type decoder struct {
	dec *json.Decoder
}

func (d *decoder) token() (json.Token, error) {
	t, err := d.dec.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("header is not valid JSON (near byte %d): %w", d.dec.InputOffset(), err)
	}
	return t, nil
}

func (d *decoder) delim(want json.Delim, what string) error {
	t, err := d.token()
	if err != nil {
		return err
	}
	if t != want {
		return fmt.Errorf("%s: want %q, found %s", what, want, describe(t))
	}
	return nil
}

func (d *decoder) key() (string, error) {
	t, err := d.token()
	if err != nil {
		return "", err
	}
	return t.(string), nil // json.Decoder only yields string keys inside objects
}

func (d *decoder) metadata() (map[string]string, error) {
	t, err := d.token()
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, nil
	}
	if t != json.Delim('{') {
		return nil, fmt.Errorf("__metadata__ is %s, want an object of strings", describe(t))
	}
	m := make(map[string]string)
	for d.dec.More() {
		k, err := d.key()
		if err != nil {
			return nil, err
		}
		if _, dup := m[k]; dup {
			return nil, fmt.Errorf("__metadata__: duplicate key %q", k)
		}
		v, err := d.token()
		if err != nil {
			return nil, err
		}
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("__metadata__: value of %q is %s, want a string", k, describe(v))
		}
		m[k] = s
	}
	return m, d.delim('}', "__metadata__")
}

func (d *decoder) tensor(name string) (Entry, error) {
	e := Entry{Info: codec.TensorInfo{Name: name}}
	t, err := d.token()
	if err != nil {
		return e, err
	}
	if t != json.Delim('{') {
		return e, fmt.Errorf("tensor %q: entry is %s, want an object", name, describe(t))
	}
	var hasDType, hasShape, hasOffsets bool
	for d.dec.More() {
		field, err := d.key()
		if err != nil {
			return e, err
		}
		dup := false
		switch field {
		case "dtype":
			dup, hasDType = hasDType, true
			if !dup {
				err = d.dtype(&e)
			}
		case "shape":
			dup, hasShape = hasShape, true
			if !dup {
				e.Info.Shape, err = d.uints(name, "shape")
				if err == nil && e.Info.Shape == nil {
					e.Info.Shape = []uint64{}
				}
			}
		case "data_offsets":
			dup, hasOffsets = hasOffsets, true
			if !dup {
				err = d.offsets(&e)
			}
		default:
			err = d.skip() // unknown fields are ignored, as serde does
		}
		if dup {
			return e, fmt.Errorf("tensor %q: duplicate field %q", name, field)
		}
		if err != nil {
			return e, err
		}
	}
	if err := d.delim('}', fmt.Sprintf("tensor %q", name)); err != nil {
		return e, err
	}
	switch {
	case !hasDType:
		return e, fmt.Errorf("tensor %q: missing dtype", name)
	case !hasShape:
		return e, fmt.Errorf("tensor %q: missing shape", name)
	case !hasOffsets:
		return e, fmt.Errorf("tensor %q: missing data_offsets", name)
	}
	return e, nil
}

func (d *decoder) dtype(e *Entry) error {
	t, err := d.token()
	if err != nil {
		return err
	}
	s, ok := t.(string)
	if !ok {
		return fmt.Errorf("tensor %q: dtype is %s, want a string", e.Info.Name, describe(t))
	}
	if s == "" {
		return fmt.Errorf("tensor %q: dtype is empty", e.Info.Name)
	}
	e.Info.DType = objects.DType(s)
	return nil
}

func (d *decoder) offsets(e *Entry) error {
	v, err := d.uints(e.Info.Name, "data_offsets")
	if err != nil {
		return err
	}
	if len(v) != 2 {
		return fmt.Errorf("tensor %q: data_offsets has %d numbers, want 2", e.Info.Name, len(v))
	}
	const maxOff = 1<<63 - 1
	if v[0] > maxOff || v[1] > maxOff {
		return fmt.Errorf("tensor %q: data_offsets %v out of range", e.Info.Name, v)
	}
	e.Begin, e.End = int64(v[0]), int64(v[1])
	return nil
}

// uints decodes an array of non-negative integers.
func (d *decoder) uints(name, field string) ([]uint64, error) {
	t, err := d.token()
	if err != nil {
		return nil, err
	}
	if t != json.Delim('[') {
		return nil, fmt.Errorf("tensor %q: %s is %s, want an array of integers", name, field, describe(t))
	}
	var v []uint64
	for d.dec.More() {
		t, err := d.token()
		if err != nil {
			return nil, err
		}
		num, ok := t.(json.Number)
		if !ok {
			return nil, fmt.Errorf("tensor %q: %s[%d] is %s, want a non-negative integer", name, field, len(v), describe(t))
		}
		u, err := parseUint(num)
		if err != nil {
			return nil, fmt.Errorf("tensor %q: %s[%d] %w", name, field, len(v), err)
		}
		v = append(v, u)
	}
	return v, d.delim(']', fmt.Sprintf("tensor %q: %s", name, field))
}

// parseUint accepts only a plain decimal integer (no sign, fraction or
// exponent), as serde_json does for usize.
func parseUint(n json.Number) (uint64, error) {
	s := string(n)
	if strings.HasPrefix(s, "-") {
		return 0, fmt.Errorf("%s is negative", s)
	}
	if strings.ContainsAny(s, ".eE") {
		return 0, fmt.Errorf("%s is not an integer", s)
	}
	u, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s is out of range", s)
	}
	return u, nil
}

// skip consumes one JSON value of any depth.
func (d *decoder) skip() error {
	depth := 0
	for {
		t, err := d.token()
		if err != nil {
			return err
		}
		switch t {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 0 {
			return nil
		}
	}
}

// describe names the JSON value a token starts, for error messages.
func describe(t json.Token) string {
	switch v := t.(type) {
	case nil:
		return "null"
	case bool:
		return strconv.FormatBool(v)
	case json.Number:
		return "the number " + string(v)
	case string:
		return strconv.Quote(v)
	case json.Delim:
		switch v {
		case '{':
			return "an object"
		case '[':
			return "an array"
		}
		return strconv.Quote(string(v))
	}
	return fmt.Sprint(t)
}
