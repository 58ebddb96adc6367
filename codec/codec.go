package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/fed-vcs/fed/objects"
)

var (
	// ErrNotModel is returned by Parse for files that are not in a model
	// format fed understands; the storage layer keeps them as opaque bytes.
	ErrNotModel = errors.New("codec: not a model file")
	// ErrNoParser is returned by Parse when the file's format was detected
	// but no Parser for it is registered (its package was not imported).
	ErrNoParser = errors.New("codec: no parser registered")
	// ErrInvalidLayout is wrapped by the errors of Layout.Validate.
	ErrInvalidLayout = errors.New("codec: invalid layout")
)

// Format names returned by Detect.
const (
	FormatSafetensors = "safetensors"
)

// HeadLen is the number of leading bytes Detect needs to recognise every
// format it knows; Parse reads at most this many bytes to detect. It is
// large enough to hold a zip local file header with the first entry's
// name, which tells a PyTorch checkpoint from a NumPy .npz archive.
const HeadLen = 512

// TensorInfo names a tensor and gives its element type and shape. An empty
// Shape is a 0-d tensor of one element.
type TensorInfo struct {
	Name  string
	DType objects.DType
	Shape []uint64
}

// ByteLen returns the number of bytes of the tensor's data. known is false
// when the dtype has no element size known to fed (the data is then opaque
// and may have any length); err reports a shape that overflows or that does
// not fill whole bytes for a sub-byte dtype.
func (t TensorInfo) ByteLen() (n int64, known bool, err error) {
	if !KnownSize(t.DType) {
		return 0, false, nil
	}
	u, err := objects.ByteLen(t.DType, t.Shape)
	if err != nil {
		return 0, true, err
	}
	return int64(u), true, nil // objects.ByteLen caps at 2^62
}

// KnownSize reports whether fed knows the element size of d, whole-byte or
// sub-byte (F4, F6_*), and so can check a tensor's byte length.
func KnownSize(d objects.DType) bool {
	if _, ok := d.Size(); ok {
		return true
	}
	switch d {
	case objects.F4, objects.F6E2M3, objects.F6E3M2:
		return true
	}
	return false
}

// Segment is a byte range of a model file: raw bytes when Tensor is nil,
// otherwise the data of that tensor.
type Segment struct {
	Offset, Length int64
	Tensor         *TensorInfo
}

// Layout is the byte layout of one model file.
type Layout struct {
	Format   string // as returned by Detect, e.g. "safetensors"
	Size     int64  // file size in bytes
	Segments []Segment
}

// Validate checks the invariants listed in the package documentation.
func (l *Layout) Validate() error {
	if l.Size < 0 {
		return fmt.Errorf("%w: negative size %d", ErrInvalidLayout, l.Size)
	}
	names := make(map[string]struct{})
	var pos int64
	for i, s := range l.Segments {
		if s.Offset != pos {
			return fmt.Errorf("%w: segment %d starts at %d, want %d", ErrInvalidLayout, i, s.Offset, pos)
		}
		if s.Length < 0 {
			return fmt.Errorf("%w: segment %d has negative length %d", ErrInvalidLayout, i, s.Length)
		}
		if s.Length > l.Size-pos {
			return fmt.Errorf("%w: segment %d [%d, +%d) runs past the end of the %d-byte file",
				ErrInvalidLayout, i, s.Offset, s.Length, l.Size)
		}
		pos += s.Length
		t := s.Tensor
		if t == nil {
			continue
		}
		if _, dup := names[t.Name]; dup {
			return fmt.Errorf("%w: duplicate tensor %q", ErrInvalidLayout, t.Name)
		}
		names[t.Name] = struct{}{}
		if t.DType == objects.Unknown {
			return fmt.Errorf("%w: tensor %q has no dtype", ErrInvalidLayout, t.Name)
		}
		n, known, err := t.ByteLen()
		if err != nil {
			return fmt.Errorf("%w: tensor %q: %w", ErrInvalidLayout, t.Name, err)
		}
		if known && n != s.Length {
			return fmt.Errorf("%w: tensor %q: %s %v has %d bytes, segment has %d",
				ErrInvalidLayout, t.Name, t.DType, t.Shape, n, s.Length)
		}
	}
	if pos != l.Size {
		return fmt.Errorf("%w: segments end at %d, file size is %d", ErrInvalidLayout, pos, l.Size)
	}
	return nil
}

// Tensors returns the tensors of the layout in file order.
func (l *Layout) Tensors() []TensorInfo {
	var ts []TensorInfo
	for _, s := range l.Segments {
		if s.Tensor != nil {
			ts = append(ts, *s.Tensor)
		}
	}
	return ts
}

// Detect names the model format of a file from its first bytes (head; up
// to HeadLen are looked at) and its name, or returns "" for a file fed
// treats as opaque.
//
// safetensors is recognised from content: an 8-byte little-endian header
// length between 2 and 100,000,000 followed by '{' and then '"', '}' or
// JSON whitespace. A file whose name ends in ".safetensors" is reported as
// safetensors whatever its content, so that a damaged model is rejected by
// its parser with a reason instead of being stored as opaque bytes.
//
// Other formats are recognised by the detectors their packages register
// with RegisterDetector (see detect_formats.go), consulted only after the
// safetensors rules: first their content signatures, then their file-name
// suffixes.
func Detect(head []byte, name string) string {
	if len(head) >= 10 {
		n := binary.LittleEndian.Uint64(head[:8])
		if n >= 2 && n <= 100_000_000 && head[8] == '{' {
			switch head[9] {
			case '"', '}', ' ', '\t', '\n', '\r':
				return FormatSafetensors
			}
		}
	}
	if strings.HasSuffix(strings.ToLower(name), ".safetensors") {
		return FormatSafetensors
	}
	return detectRegistered(head, name)
}

// Parser parses the layout of a file of one format. name is used in error
// messages only. Implementations read only what they need (headers), never
// the tensor data, so memory stays bounded for files of any size.
type Parser interface {
	Parse(r io.ReaderAt, size int64, name string) (*Layout, error)
}

var (
	registryMu sync.RWMutex
	registry   = map[string]Parser{}
)

// Register makes p the parser of format. Format packages call it from their
// init functions; registering a format twice panics, as that is a program
// error, not bad input.
func Register(format string, p Parser) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[format]; dup {
		panic("codec: Register called twice for format " + format)
	}
	registry[format] = p
}

// Parse detects the format of the file and returns its layout. It returns
// an error wrapping ErrNotModel for opaque files and ErrNoParser when the
// format's package is not linked in; a parser's own errors are returned
// unchanged (for safetensors they wrap safetensors.ErrInvalid).
func Parse(r io.ReaderAt, size int64, name string) (*Layout, error) {
	head := make([]byte, min(size, HeadLen))
	if len(head) > 0 {
		n, err := r.ReadAt(head, 0)
		if n < len(head) {
			if err == nil || errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("codec: read head of %s: %w", name, err)
		}
	}
	format := Detect(head, name)
	if format == "" {
		return nil, fmt.Errorf("codec: %s: %w", name, ErrNotModel)
	}
	registryMu.RLock()
	p := registry[format]
	registryMu.RUnlock()
	if p == nil {
		return nil, fmt.Errorf("codec: %s is %s: %w", name, format, ErrNoParser)
	}
	return p.Parse(r, size, name)
}
