package safetensors

import (
	"bytes"
	"maps"
	"testing"

	"github.com/fed-vcs/fed/codec"
	"github.com/fed-vcs/fed/objects"
)

// TestSetMeta: rewriting the metadata keeps every tensor's bytes and
// offsets, and the file parses with the new metadata.
func TestSetMeta(t *testing.T) {
	tensors := func() []WriteTensor {
		return []WriteTensor{
			{Info: codec.TensorInfo{Name: "b", DType: objects.F32, Shape: []uint64{2}}, Data: bytes.NewReader(make([]byte, 8)), Len: 8},
			{Info: codec.TensorInfo{Name: "a", DType: objects.I64, Shape: []uint64{}}, Data: bytes.NewReader([]byte{1, 2, 3, 4, 5, 6, 7, 8}), Len: 8},
		}
	}
	for _, tc := range []struct {
		name     string
		old, new map[string]string
	}{
		{"add", nil, map[string]string{"client": "3", "q\"uote": "line\nbreak"}},
		{"change", map[string]string{"format": "pt", "round": "1"}, map[string]string{"format": "pt", "round": "2"}},
		{"remove all", map[string]string{"format": "pt"}, map[string]string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Write(&buf, tc.old, tensors()); err != nil {
				t.Fatal(err)
			}
			b := buf.Bytes()
			l, h, err := Parse(bytes.NewReader(b), int64(len(b)), "x")
			if err != nil {
				t.Fatal(err)
			}
			det, err := codec.Describe(bytes.NewReader(b), l)
			if err != nil || !maps.Equal(det.Meta, h.Metadata) {
				t.Fatalf("describe: %+v %v", det, err)
			}
			edits, err := codec.SetMeta(bytes.NewReader(b), l, tc.new)
			if err != nil {
				t.Fatal(err)
			}
			raw := [][]byte{b[:l.Segments[0].Length], nil, nil}
			ps, err := codec.ApplyEdits(l, raw, edits)
			if err != nil {
				t.Fatal(err)
			}
			var out []byte
			for _, p := range ps {
				if p.Tensor < 0 {
					out = append(out, p.Raw...)
				} else {
					s := l.Segments[p.Tensor]
					out = append(out, b[s.Offset:s.Offset+s.Length]...)
				}
			}
			l2, h2, err := Parse(bytes.NewReader(out), int64(len(out)), "y")
			if err != nil {
				t.Fatal(err)
			}
			if len(tc.new) == 0 && h2.Metadata != nil && len(h2.Metadata) != 0 || len(tc.new) > 0 && !maps.Equal(h2.Metadata, tc.new) {
				t.Fatalf("metadata %v, want %v", h2.Metadata, tc.new)
			}
			if h2.DataStart()%8 != 0 || len(l2.Segments) != 3 {
				t.Fatalf("header of %d bytes, %d segments", h2.Len, len(l2.Segments))
			}
			for i := 1; i < 3; i++ {
				s, s2 := l.Segments[i], l2.Segments[i]
				if s.Tensor.Name != s2.Tensor.Name || !bytes.Equal(b[s.Offset:s.Offset+s.Length], out[s2.Offset:s2.Offset+s2.Length]) {
					t.Fatalf("tensor %d changed", i)
				}
			}
		})
	}
}
