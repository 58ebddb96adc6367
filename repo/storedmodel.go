package repo

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/fed-vcs/fed/codec"
	"github.com/fed-vcs/fed/objects"
)

// StoredModel is a stored model file as package codec sees it: its
// layout, raw segments and tensors, and what codec.Describe says of it
// (metadata, and the content besides tensors and metadata).
type StoredModel struct {
	Model   *objects.Model
	Layout  *codec.Layout
	Raw     [][]byte    // raw segments' bytes; nil for tensors
	Reader  io.ReaderAt // the file's bytes
	Tensors map[string]*objects.Tensor
	IDs     map[string]objects.ID // tensor objects by name
	Details *codec.Details
}

// LoadModel reads a stored model's raw segments and tensor headers (not
// the tensors' bytes, which Reader reads on demand) and describes it.
func (r *Repo) LoadModel(ctx context.Context, m *objects.Model) (*StoredModel, error) {
	sm := &StoredModel{Model: m, Layout: &codec.Layout{Format: m.Format, Size: int64(m.Size)}, Raw: make([][]byte, len(m.Segments)), Tensors: map[string]*objects.Tensor{}, IDs: map[string]objects.ID{}}
	segs := make([]io.ReaderAt, len(m.Segments))
	var off int64
	for i, s := range m.Segments {
		seg := codec.Segment{Offset: off, Length: int64(s.Size)}
		if s.IsTensor() {
			t, err := objects.ReadTensor(ctx, r.Objects, s.ID)
			if err != nil {
				return nil, fmt.Errorf("tensor %q: %w", s.Name, err)
			}
			seg.Tensor = &codec.TensorInfo{Name: s.Name, DType: t.DType, Shape: t.Shape}
			segs[i] = objects.TensorReaderAt(ctx, r.Objects, t)
			sm.Tensors[s.Name] = t
			sm.IDs[s.Name] = s.ID
		} else {
			var buf bytes.Buffer
			if err := objects.WriteFileTo(ctx, r.Objects, s.ID, &buf); err != nil {
				return nil, err
			}
			sm.Raw[i] = buf.Bytes()
			segs[i] = bytes.NewReader(sm.Raw[i])
		}
		sm.Layout.Segments = append(sm.Layout.Segments, seg)
		off += int64(s.Size)
	}
	sm.Reader = codec.NewReaderAt(sm.Layout, segs)
	det, err := codec.Describe(sm.Reader, sm.Layout)
	if err != nil {
		return nil, err
	}
	sm.Details = det
	return sm, nil
}
