package safetensors

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fed-vcs/fed/codec"
)

func FuzzParse(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.safetensors"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seeds in testdata: %v", err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(rawFile(`{"b":{"dtype":"F32","shape":[1],"data_offsets":[1,5]},"__metadata__":{"k":"v"},`+
		`"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"e":{"dtype":"X","shape":[0],"data_offsets":[5,5]}}`+"\n", make([]byte, 5)))
	f.Add(rawFile(`{"w":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}}`, make([]byte, 2)))
	f.Add(rawFile(`{"__metadata__":{"a":"1","a":"2"}}`, nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, h, err := Parse(bytes.NewReader(b), int64(len(b)), "fuzz.safetensors")
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		if err := l.Validate(); err != nil {
			t.Fatalf("accepted layout is invalid: %v", err)
		}
		if len(l.Segments) != 1+len(h.Tensors) || l.Segments[0].Length != h.DataStart() || l.Segments[0].Tensor != nil {
			t.Fatalf("layout %+v disagrees with header %+v", l, h)
		}
		// Write lays the same content out canonically, starting with
		// HeaderBytes; parsing that gives the same tensors and metadata,
		// and writing it again changes nothing.
		ws := writeTensors(b, h)
		hb, err := HeaderBytes(h.Metadata, ws)
		if err != nil {
			t.Fatalf("HeaderBytes of an accepted header: %v", err)
		}
		var out bytes.Buffer
		if err := Write(&out, h.Metadata, ws); err != nil {
			t.Fatalf("Write of an accepted file: %v", err)
		}
		canon := out.Bytes()
		if !bytes.HasPrefix(canon, hb) {
			t.Fatal("Write does not start with HeaderBytes")
		}
		if bytes.Equal(b[:h.DataStart()], hb) && !bytes.Equal(canon, b) {
			t.Fatal("file with a canonical header is not reproduced by Write")
		}
		l2, h2, err := Parse(bytes.NewReader(canon), int64(len(canon)), "canon.safetensors")
		if err != nil {
			t.Fatalf("Parse(Write(x)): %v", err)
		}
		if diff := cmp.Diff(h.Metadata, h2.Metadata); diff != "" || (h.Metadata == nil) != (h2.Metadata == nil) {
			t.Fatalf("metadata changed (-old +new):\n%s", diff)
		}
		if got, want := content(canon, l2.Segments), content(b, l.Segments); !cmp.Equal(got, want) {
			t.Fatalf("tensors changed (-old +new):\n%s", cmp.Diff(want, got))
		}
		var again bytes.Buffer
		if err := Write(&again, h2.Metadata, writeTensors(canon, h2)); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again.Bytes(), canon) {
			t.Fatal("Write(Parse(Write(x))) != Write(x)")
		}
	})
}

type tensorContent struct {
	DType string
	Shape []uint64
	Data  []byte
}

func content(b []byte, segs []codec.Segment) map[string]tensorContent {
	m := make(map[string]tensorContent)
	for _, s := range segs {
		if s.Tensor != nil {
			m[s.Tensor.Name] = tensorContent{string(s.Tensor.DType), s.Tensor.Shape, b[s.Offset : s.Offset+s.Length]}
		}
	}
	return m
}
