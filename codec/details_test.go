package codec

import (
	"bytes"
	"errors"
	"testing"
)

func TestApplyEdits(t *testing.T) {
	// raw [0,4) "HEAD", tensor t [4,8), raw [8,10) "ZZ", tensor u [10,12)
	l := &Layout{Format: "x", Size: 12, Segments: []Segment{
		{Offset: 0, Length: 4},
		{Offset: 4, Length: 4, Tensor: &TensorInfo{Name: "t", DType: "U8", Shape: []uint64{4}}},
		{Offset: 8, Length: 2},
		{Offset: 10, Length: 2, Tensor: &TensorInfo{Name: "u", DType: "U8", Shape: []uint64{2}}},
	}}
	raw := [][]byte{[]byte("HEAD"), nil, []byte("ZZ"), nil}
	show := func(ps []Piece) string {
		var b bytes.Buffer
		for _, p := range ps {
			if p.Tensor >= 0 {
				b.WriteString("[" + l.Segments[p.Tensor].Tensor.Name + "]")
			} else {
				b.WriteString(string(p.Raw) + "|")
			}
		}
		return b.String()
	}
	for _, tc := range []struct {
		name  string
		edits []Edit
		want  string
		err   bool
	}{
		{"none", nil, "HEAD|[t]ZZ|[u]", false},
		{"replace header", []Edit{{Off: 0, Len: 4, Data: []byte("LONGER")}}, "LONGER|[t]ZZ|[u]", false},
		{"insert before t", []Edit{{Off: 4, Data: []byte("+")}}, "HEAD+|[t]ZZ|[u]", false},
		{"insert after t", []Edit{{Off: 8, Data: []byte("+")}}, "HEAD|[t]+ZZ|[u]", false},
		{"delete and append", []Edit{{Off: 12, Data: []byte("END")}, {Off: 8, Len: 2}}, "HEAD|[t][u]END|", false},
		{"touches a tensor", []Edit{{Off: 3, Len: 2}}, "", true},
		{"inside a tensor", []Edit{{Off: 5, Data: []byte("x")}}, "", true},
		{"past the end", []Edit{{Off: 13}}, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ps, err := ApplyEdits(l, raw, tc.edits)
			if tc.err {
				if !errors.Is(err, ErrEdit) {
					t.Fatalf("got %q, %v; want ErrEdit", show(ps), err)
				}
				return
			}
			if err != nil || show(ps) != tc.want {
				t.Fatalf("got %q, %v; want %q", show(ps), err, tc.want)
			}
		})
	}
}
