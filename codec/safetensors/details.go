package safetensors

import (
	"fmt"
	"io"
	"maps"

	"github.com/fed-vcs/fed/codec"
)

// Describer is the codec.Describer of safetensors files: their metadata
// is the "__metadata__" object; the rest of the header follows from the
// tensors, so Content is empty.
type Describer struct{}

var _ codec.Describer = Describer{}

func init() { codec.RegisterDescriber(codec.FormatSafetensors, Describer{}) }

// Describe implements codec.Describer.
func (Describer) Describe(r io.ReaderAt, l *codec.Layout) (*codec.Details, error) {
	_, h, err := Parse(r, l.Size, "")
	if err != nil {
		return nil, err
	}
	return &codec.Details{Meta: maps.Clone(h.Metadata)}, nil
}

// SetMeta implements codec.Describer: the header is written again with
// meta as "__metadata__" (absent when meta is empty and the file had
// none), the tensors in the header's order with their data offsets
// unchanged, compact and padded as Write pads it.
func (Describer) SetMeta(r io.ReaderAt, l *codec.Layout, meta map[string]string) ([]codec.Edit, error) {
	_, h, err := Parse(r, l.Size, "")
	if err != nil {
		return nil, err
	}
	buf := make([]byte, 8, h.Len+64)
	buf = append(buf, '{')
	first := true
	if len(meta) > 0 || h.Metadata != nil {
		buf = appendMetadata(buf, meta)
		first = false
	}
	for _, e := range h.Tensors {
		if !first {
			buf = append(buf, ',')
		}
		first = false
		buf = appendEntry(buf, e.Info, uint64(e.Begin), uint64(e.End))
	}
	buf, err = finishHeader(buf)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	return []codec.Edit{{Off: 0, Len: h.DataStart(), Data: buf}}, nil
}
