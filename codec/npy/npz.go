package npy

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/fed-vcs/fed/codec"
	"github.com/fed-vcs/fed/codec/internal/zipfmt"
)

// NPZParser is the codec.Parser of .npz files.
type NPZParser struct{}

var _ codec.Parser = NPZParser{}

func init() {
	codec.Register(codec.FormatNPZ, NPZParser{})
	codec.RegisterDetector(codec.FormatNPZ, codec.Detector{Content: isNPZHead, Suffixes: []string{".npz"}})
	codec.RegisterFixer(codec.FormatNPZ, zipfmt.Fixer)
	codec.RegisterDescriber(codec.FormatNPZ, zipfmt.Describer{})
}

// isNPZHead reports a zip whose first entry is an .npy member.
func isNPZHead(head []byte) bool {
	name, ok := zipfmt.IsLocalHeader(head)
	return ok && strings.HasSuffix(name, ".npy")
}

// Parse implements codec.Parser. The layout of an .npz archive keeps the
// zip structure and each member's npy header raw, and makes the data of
// each member "<name>.npy" a tensor "<name>" when its dtype is one fed
// stores (see Header); other members and their data stay raw. A file
// that is not a zip (detected by name only), an archive with compressed
// members (np.savez_compressed) or one without any storable array gives a
// *codec.OpaqueError: a compressed member's bytes are not its array's.
func (NPZParser) Parse(r io.ReaderAt, size int64, name string) (*codec.Layout, error) {
	var head [4]byte
	if size < 4 || readFull(r, head[:], 0) != nil {
		return nil, &codec.OpaqueError{File: name, Format: codec.FormatNPZ, Reason: "not a zip archive"}
	}
	if _, ok := zipfmt.IsLocalHeader(head[:]); !ok {
		return nil, &codec.OpaqueError{File: name, Format: codec.FormatNPZ, Reason: "not a zip archive"}
	}
	a, err := zipfmt.Read(r, size)
	if err != nil {
		if errors.Is(err, zipfmt.ErrInvalid) {
			return nil, &FormatError{File: name, Msg: err.Error()}
		}
		return nil, fmt.Errorf("npy: read %s: %w", name, err)
	}
	l := &codec.Layout{Format: codec.FormatNPZ, Size: size}
	var pos int64
	for i := range a.Entries {
		e := &a.Entries[i]
		if !e.Stored() {
			return nil, &codec.OpaqueError{File: name, Format: codec.FormatNPZ,
				Reason: fmt.Sprintf("member %q is compressed or encrypted (np.savez_compressed)", e.Name)}
		}
		if !strings.HasSuffix(e.Name, ".npy") {
			continue
		}
		h, err := ReadHeader(r, e.DataOffset, e.CompressedSize)
		if err != nil {
			var ioe *ioError
			if errors.As(err, &ioe) {
				return nil, fmt.Errorf("npy: read %s: %w", name, ioe.err)
			}
			return nil, &FormatError{File: name, Msg: fmt.Sprintf("member %q: %v", e.Name, err)}
		}
		if h.DType == "" {
			continue
		}
		if h.DataLen > e.CompressedSize-h.Len {
			return nil, &FormatError{File: name, Msg: fmt.Sprintf("member %q: truncated: %s %v needs %d data bytes, member has %d",
				e.Name, h.Descr, h.Shape, h.DataLen, e.CompressedSize-h.Len)}
		}
		start := e.DataOffset + h.Len
		l.Segments = append(l.Segments,
			codec.Segment{Offset: pos, Length: start - pos},
			codec.Segment{Offset: start, Length: h.DataLen, Tensor: &codec.TensorInfo{
				Name: strings.TrimSuffix(e.Name, ".npy"), DType: h.DType, Shape: h.TensorShape()}})
		pos = start + h.DataLen
	}
	if len(l.Segments) == 0 {
		return nil, &codec.OpaqueError{File: name, Format: codec.FormatNPZ, Reason: "no member holds an array fed can store as a tensor"}
	}
	l.Segments = append(l.Segments, codec.Segment{Offset: pos, Length: size - pos})
	return l, nil
}
