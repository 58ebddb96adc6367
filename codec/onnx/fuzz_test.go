package onnx

import (
	"bytes"
	"errors"
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
