package onnx

import (
	"bytes"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"testing"

	"github.com/fed-vcs/fed/codec"
)

func FuzzParse(f *testing.F) {
	b, err := os.ReadFile(filepath.Join("testdata", "model.onnx"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add(model(bytesField(graphInitializer, tensorProto("w", 1, []uint64{2}, make([]byte, 8)))))
	f.Fuzz(func(t *testing.T, b []byte) {
		isONNXHead(b[:min(len(b), codec.HeadLen)])
		l, _, err := Parse(bytes.NewReader(b), int64(len(b)), "fuzz.onnx")
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v is not a FormatError", err)
			}
			return
		}
		if err := l.Validate(); err != nil {
			t.Fatalf("accepted layout is invalid: %v", err)
		}
		// Overwriting every tensor with zeros keeps the same layout.
		zeroed := bytes.Clone(b)
		for _, s := range l.Segments {
			if s.Tensor != nil {
				clear(zeroed[s.Offset : s.Offset+s.Length])
			}
		}
		l2, _, err := Parse(bytes.NewReader(zeroed), int64(len(zeroed)), "fuzz.onnx")
		if err != nil {
			t.Fatalf("zeroed model does not parse: %v", err)
		}
		if len(l2.Segments) != len(l.Segments) {
			t.Fatalf("zeroing tensors changed the layout")
		}
	})
}

// FuzzDescribe: for any model Parse accepts, Describe does not panic, and
// writing its metadata back with one more metadata_props entry gives a
// model that parses, with the same tensors and content and the new entry.
func FuzzDescribe(f *testing.F) {
	b, err := os.ReadFile(filepath.Join("testdata", "model.onnx"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add(model(bytesField(graphInitializer, tensorProto("w", 1, []uint64{2}, make([]byte, 8)))))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, _, err := Parse(bytes.NewReader(b), int64(len(b)), "fuzz.onnx")
		if err != nil {
			return
		}
		det, err := codec.Describe(bytes.NewReader(b), l)
		if err != nil {
			return // a tensor payload may hide a malformed metadata field
		}
		meta := maps.Clone(det.Meta)
		meta[PropPrefix+"fuzz"] = "x"
		meta["doc_string"] = "changed"
		edits, err := codec.SetMeta(bytes.NewReader(b), l, meta)
		if err != nil {
			t.Fatal(err)
		}
		raw := make([][]byte, len(l.Segments))
		for i, s := range l.Segments {
			if s.Tensor == nil {
				raw[i] = b[s.Offset : s.Offset+s.Length]
			}
		}
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
		l2, _, err := Parse(bytes.NewReader(out), int64(len(out)), "fuzz.onnx")
		if err != nil {
			t.Fatalf("model with new metadata does not parse: %v", err)
		}
		if len(l2.Tensors()) != len(l.Tensors()) {
			t.Fatalf("tensors changed: %v → %v", l.Tensors(), l2.Tensors())
		}
		det2, err := codec.Describe(bytes.NewReader(out), l2)
		if err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(det2.Meta, meta) || !bytes.Equal(det2.Content, det.Content) {
			t.Fatalf("metadata %v, want %v (content equal: %v)", det2.Meta, meta, bytes.Equal(det2.Content, det.Content))
		}
	})
}
