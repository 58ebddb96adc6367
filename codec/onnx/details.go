package onnx

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/fed-vcs/fed/codec"
)

// ModelProto's string fields that are metadata, by number, and the
// metadata key each is known by; metadata_props entries are known as
// PropPrefix + their key.
var metaFields = map[protowire.Number]string{
	2: "producer_name", 3: "producer_version", 4: "domain", 6: "doc_string",
}

const (
	modelMetadataProps = 14
	// PropPrefix starts the metadata key of a metadata_props entry.
	PropPrefix = "metadata_props/"
	// maxMeta bounds one metadata field's bytes.
	maxMeta = 16 << 20
)

// Describer is the codec.Describer of ONNX models: their metadata is
// ModelProto's producer_name, producer_version, domain, doc_string and
// metadata_props entries; Content is every raw byte of the file but
// those fields', then the offset in those bytes where each tensor sits
// (u64 little-endian each).
type Describer struct{}

var _ codec.Describer = Describer{}

func init() { codec.RegisterDescriber(codec.FormatONNX, Describer{}) }

// topFields returns ModelProto's fields in file order, the metadata
// among them, and the metadata's values.
func topFields(r io.ReaderAt, size int64) (all []field, meta map[string]string, err error) {
	s := &src{r: r, size: size}
	meta = map[string]string{}
	err = s.message(0, size, func(f field) error {
		all = append(all, f)
		key, isMeta := metaFields[f.num]
		switch {
		case isMeta && f.typ == protowire.BytesType:
			b, err := s.bytes(f, maxMeta)
			if err != nil {
				return err
			}
			meta[key] = string(b)
		case f.num == modelMetadataProps && f.typ == protowire.BytesType:
			var k, v string
			err := s.message(f.off, f.end(), func(e field) error {
				if e.typ != protowire.BytesType || e.num != 1 && e.num != 2 {
					return nil
				}
				b, err := s.bytes(e, maxMeta)
				if e.num == 1 {
					k = string(b)
				} else {
					v = string(b)
				}
				return err
			})
			if err != nil {
				return err
			}
			meta[PropPrefix+k] = v
		}
		return nil
	})
	if err != nil {
		var ioe *ioError
		if errors.As(err, &ioe) {
			return nil, nil, ioe.err
		}
		return nil, nil, &FormatError{Msg: err.Error()}
	}
	return all, meta, nil
}

func isMetaField(f field) bool {
	_, ok := metaFields[f.num]
	return f.typ == protowire.BytesType && (ok || f.num == modelMetadataProps)
}

// Describe implements codec.Describer.
func (Describer) Describe(r io.ReaderAt, l *codec.Layout) (*codec.Details, error) {
	all, meta, err := topFields(r, l.Size)
	if err != nil {
		return nil, err
	}
	var cut [][2]int64
	for _, f := range all {
		if isMetaField(f) {
			cut = append(cut, [2]int64{f.start, f.stop})
		}
	}
	// the raw bytes kept, then where the tensors sit among them
	var content, at []byte
	for _, s := range l.Segments {
		if s.Tensor != nil {
			at = binary.LittleEndian.AppendUint64(at, uint64(len(content)))
			continue
		}
		b := make([]byte, s.Length)
		if n, err := r.ReadAt(b, s.Offset); n < len(b) {
			return nil, fmt.Errorf("read raw bytes at %d: %w", s.Offset, err)
		}
		var kept []byte
		pos := s.Offset
		for _, c := range cut {
			lo, hi := max(c[0], s.Offset), min(c[1], s.Offset+s.Length)
			if lo >= hi {
				continue
			}
			kept = append(kept, b[pos-s.Offset:lo-s.Offset]...)
			pos = hi
		}
		kept = append(kept, b[pos-s.Offset:]...)
		content = append(content, kept...)
	}
	return &codec.Details{Meta: meta, Content: append(content, at...)}, nil
}

// SetMeta implements codec.Describer: the metadata fields are removed and
// written again, each before the first other ModelProto field with a
// higher number (as protobuf serializers order fields): producer_name,
// producer_version, domain, doc_string, then metadata_props entries
// sorted by key, each with its key then its value.
func (Describer) SetMeta(r io.ReaderAt, l *codec.Layout, meta map[string]string) ([]codec.Edit, error) {
	all, _, err := topFields(r, l.Size)
	if err != nil {
		return nil, err
	}
	var edits []codec.Edit
	var others []field
	for _, f := range all {
		if isMetaField(f) {
			edits = append(edits, codec.Edit{Off: f.start, Len: f.stop - f.start})
		} else {
			others = append(others, f)
		}
	}
	at := func(num protowire.Number) int64 {
		for _, f := range others {
			if f.num > num {
				return f.start
			}
		}
		return l.Size
	}
	ins := map[int64][]byte{}
	for _, num := range slices.Sorted(maps.Keys(metaFields)) {
		if v, ok := meta[metaFields[num]]; ok {
			off := at(num)
			ins[off] = protowire.AppendString(protowire.AppendTag(ins[off], num, protowire.BytesType), v)
		}
	}
	var props []string
	for k := range meta {
		if p, ok := strings.CutPrefix(k, PropPrefix); ok {
			props = append(props, p)
		} else if !slices.Contains(slices.Collect(maps.Values(metaFields)), k) {
			return nil, fmt.Errorf("onnx: metadata key %q is neither a ModelProto field nor %s<key>", k, PropPrefix)
		}
	}
	slices.Sort(props)
	for _, p := range props {
		var e []byte
		e = protowire.AppendString(protowire.AppendTag(e, 1, protowire.BytesType), p)
		e = protowire.AppendString(protowire.AppendTag(e, 2, protowire.BytesType), meta[PropPrefix+p])
		off := at(modelMetadataProps)
		ins[off] = protowire.AppendBytes(protowire.AppendTag(ins[off], modelMetadataProps, protowire.BytesType), e)
	}
	for off, b := range ins {
		edits = append(edits, codec.Edit{Off: off, Data: b})
	}
	slices.SortStableFunc(edits, func(a, b codec.Edit) int {
		return cmp.Or(cmp.Compare(a.Off, b.Off), cmp.Compare(b.Len, a.Len)) // a deletion before an insertion at its start
	})
	return edits, nil
}
