package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
)

// ErrEdit is wrapped by the errors of ApplyEdits: an edit that does not
// lie inside the raw bytes of the file.
var ErrEdit = errors.New("codec: edit outside the raw segments")

// Details is what a model file holds besides its tensors' data, as a
// merge sees it: free-form metadata, merged key by key, and the content
// two files must share to be merged into one container.
type Details struct {
	// Meta is the file's free-form string metadata (safetensors
	// __metadata__; ONNX producer fields, doc_string and metadata_props).
	// Empty for formats without any.
	Meta map[string]string
	// Content is what must be equal, besides the tensors' names, dtypes
	// and shapes, for two files to hold the same model: container details
	// (archive names, record order, zip fields, metadata) are left out.
	Content []byte
}

// Describer is implemented by formats whose files can differ in ways that
// are not model content: it extracts a file's Details and rewrites its
// metadata.
type Describer interface {
	// Describe reads the Details of the file r of layout l.
	Describe(r io.ReaderAt, l *Layout) (*Details, error)
	// SetMeta returns the edits that make the file r of layout l carry
	// meta as its metadata, nothing else changed. The edits touch raw
	// segments only.
	SetMeta(r io.ReaderAt, l *Layout, meta map[string]string) ([]Edit, error)
}

var describers = map[string]Describer{} // guarded by registryMu

// RegisterDescriber makes d the describer of format. Registering twice
// panics.
func RegisterDescriber(format string, d Describer) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := describers[format]; dup {
		panic("codec: RegisterDescriber called twice for format " + format)
	}
	describers[format] = d
}

// Describe returns the Details of the file r of layout l. For a format
// without a registered Describer, Meta is empty and Content is every raw
// segment's bytes (each preceded by its length as a u64 little-endian), so
// only files with the same raw bytes hold the same content.
func Describe(r io.ReaderAt, l *Layout) (*Details, error) {
	registryMu.RLock()
	d := describers[l.Format]
	registryMu.RUnlock()
	if d != nil {
		det, err := d.Describe(r, l)
		if err != nil {
			return nil, fmt.Errorf("codec: describe %s file: %w", l.Format, err)
		}
		if det.Meta == nil {
			det.Meta = map[string]string{}
		}
		return det, nil
	}
	det := &Details{Meta: map[string]string{}}
	for _, s := range l.Segments {
		if s.Tensor != nil {
			continue
		}
		det.Content = binary.LittleEndian.AppendUint64(det.Content, uint64(s.Length))
		start := len(det.Content)
		det.Content = append(det.Content, make([]byte, s.Length)...)
		if _, err := r.ReadAt(det.Content[start:], s.Offset); err != nil && !(errors.Is(err, io.EOF) && len(det.Content) == start+int(s.Length)) {
			return nil, fmt.Errorf("codec: describe %s file: read raw bytes at %d: %w", l.Format, s.Offset, err)
		}
	}
	return det, nil
}

// SetMeta returns the edits that give the file r of layout l the metadata
// meta. A format without a Describer has no metadata: asking for any is
// an error.
func SetMeta(r io.ReaderAt, l *Layout, meta map[string]string) ([]Edit, error) {
	registryMu.RLock()
	d := describers[l.Format]
	registryMu.RUnlock()
	if d == nil {
		if len(meta) == 0 {
			return nil, nil
		}
		return nil, fmt.Errorf("codec: %s files carry no metadata", l.Format)
	}
	edits, err := d.SetMeta(r, l, meta)
	if err != nil {
		return nil, fmt.Errorf("codec: set metadata of %s file: %w", l.Format, err)
	}
	return edits, nil
}

// Edit replaces the Len bytes of a file at Off with Data (an insertion
// when Len is 0, a deletion when Data is empty).
type Edit struct {
	Off, Len int64
	Data     []byte
}

// Piece is one segment of an edited file: raw bytes, or the tensor of
// segment Tensor of the original layout (Raw is then nil and unused).
type Piece struct {
	Tensor int // index in the original layout; -1 for raw bytes
	Raw    []byte
}

// ApplyEdits applies edits (non-overlapping, any order) to the file of
// layout l whose raw segment i holds raw[i] (nil for tensor segments) and
// returns the edited file's pieces in order. A replaced or deleted range
// must lie inside one raw segment; an insertion at a segment boundary goes
// into the raw segment there (after a tensor, the raw segment that follows
// it; a new raw piece when there is none). Empty raw pieces are dropped.
func ApplyEdits(l *Layout, raw [][]byte, edits []Edit) ([]Piece, error) {
	edits = slices.Clone(edits)
	slices.SortStableFunc(edits, func(a, b Edit) int { return cmpInt64(a.Off, b.Off) })
	var out []Piece
	ei := 0
	for i, s := range l.Segments {
		if s.Tensor != nil {
			if ei < len(edits) && edits[ei].Off < s.Offset+s.Length && (edits[ei].Off > s.Offset || edits[ei].Len > 0) {
				return nil, fmt.Errorf("%w: edit [%d, +%d) touches tensor %q", ErrEdit, edits[ei].Off, edits[ei].Len, s.Tensor.Name)
			}
			if ei < len(edits) && edits[ei].Off == s.Offset && edits[ei].Len == 0 && (i == 0 || l.Segments[i-1].Tensor != nil) {
				// an insertion between two tensors (or at the start)
				out = append(out, Piece{Tensor: -1, Raw: edits[ei].Data})
				ei++
			}
			out = append(out, Piece{Tensor: i})
			continue
		}
		if int64(len(raw[i])) != s.Length {
			return nil, fmt.Errorf("codec: edit: raw segment %d has %d bytes, want %d", i, len(raw[i]), s.Length)
		}
		var b []byte
		pos := s.Offset
		end := s.Offset + s.Length
		for ei < len(edits) && edits[ei].Off <= end {
			e := edits[ei]
			if e.Off == end && e.Len == 0 && i+1 < len(l.Segments) && l.Segments[i+1].Tensor == nil {
				break // goes to the next raw segment
			}
			if e.Off == end && e.Len > 0 {
				break
			}
			if e.Off < pos || e.Off+e.Len > end {
				return nil, fmt.Errorf("%w: edit [%d, +%d) crosses a segment boundary", ErrEdit, e.Off, e.Len)
			}
			b = append(b, raw[i][pos-s.Offset:e.Off-s.Offset]...)
			b = append(b, e.Data...)
			pos = e.Off + e.Len
			ei++
		}
		b = append(b, raw[i][pos-s.Offset:]...)
		if len(b) > 0 {
			out = append(out, Piece{Tensor: -1, Raw: b})
		}
	}
	for ; ei < len(edits); ei++ {
		e := edits[ei]
		if e.Off != l.Size || e.Len != 0 {
			return nil, fmt.Errorf("%w: edit [%d, +%d) lies outside the %d-byte file", ErrEdit, e.Off, e.Len, l.Size)
		}
		out = append(out, Piece{Tensor: -1, Raw: e.Data})
	}
	return out, nil
}

// NewReaderAt returns a reader of the file of layout l whose segment i is
// read from segs[i] (see Rewrite).
func NewReaderAt(l *Layout, segs []io.ReaderAt) io.ReaderAt {
	return &concatReaderAt{l: l, segs: segs}
}
