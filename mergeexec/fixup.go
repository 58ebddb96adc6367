package mergeexec

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"

	"github.com/fed-vcs/fed/codec"
	"github.com/fed-vcs/fed/objects"
)

// fixupModel makes a model object whose tensor segments were replaced (a
// merge) consistent again: formats whose raw bytes depend on tensor data
// (zip containers carry CRC-32s: PyTorch checkpoints, .npz) get their raw
// segments patched, through w. Other formats are returned as they are.
func (r *runner) fixupModel(ctx context.Context, w *objects.Writer, m *objects.Model) (*objects.Model, error) {
	if !codec.HasFixer(m.Format) {
		return m, nil // nothing in its raw bytes depends on tensor bytes
	}
	l := &codec.Layout{Format: m.Format, Size: int64(m.Size)}
	segs := make([]io.ReaderAt, len(m.Segments))
	raw := make([][]byte, len(m.Segments))
	var off int64
	for i, s := range m.Segments {
		seg := codec.Segment{Offset: off, Length: int64(s.Size)}
		if s.IsTensor() {
			t, err := objects.ReadTensor(ctx, r.Objects, s.ID)
			if err != nil {
				return nil, err
			}
			seg.Tensor = &codec.TensorInfo{Name: s.Name, DType: t.DType, Shape: t.Shape}
			segs[i] = objects.TensorReaderAt(ctx, r.Objects, t)
		} else {
			var buf bytes.Buffer
			if err := objects.WriteFileTo(ctx, r.Objects, s.ID, &buf); err != nil {
				return nil, err
			}
			raw[i] = buf.Bytes()
			segs[i] = bytes.NewReader(raw[i])
		}
		l.Segments = append(l.Segments, seg)
		off += int64(s.Size)
	}
	fixups, err := codec.Fixups(l, segs)
	if err != nil {
		return nil, err
	}
	if len(fixups) == 0 {
		return m, nil
	}
	out := *m
	out.Segments = append([]objects.Segment(nil), m.Segments...)
	changed := map[int]bool{}
	for _, f := range fixups {
		i := sort.Search(len(l.Segments), func(i int) bool { return l.Segments[i].Offset+l.Segments[i].Length > f.Offset })
		if i == len(l.Segments) || raw[i] == nil {
			return nil, fmt.Errorf("%w: fixup at %d outside the raw segments", codec.ErrFixup, f.Offset)
		}
		if !changed[i] {
			raw[i] = append([]byte(nil), raw[i]...)
			changed[i] = true
		}
		copy(raw[i][f.Offset-l.Segments[i].Offset:], f.Data)
	}
	for i := range changed {
		id, _, err := w.Blob(bytes.NewReader(raw[i]))
		if err != nil {
			return nil, err
		}
		out.Segments[i].ID = id
	}
	return &out, nil
}
