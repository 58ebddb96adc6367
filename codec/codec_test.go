package codec_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fed-vcs/fed/codec"
	"github.com/fed-vcs/fed/codec/safetensors"
	"github.com/fed-vcs/fed/objects"
)

func tensor(name string, d objects.DType, shape ...uint64) *codec.TensorInfo {
	return &codec.TensorInfo{Name: name, DType: d, Shape: shape}
}

func TestLayoutValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		l    codec.Layout
		want string // "" = valid; else a substring of the error
	}{
		{"empty file", codec.Layout{Size: 0}, ""},
		{"raw only", codec.Layout{Size: 10, Segments: []codec.Segment{{0, 10, nil}}}, ""},
		{"raw and tensors", codec.Layout{Size: 28, Segments: []codec.Segment{
			{0, 8, nil}, {8, 8, tensor("a", objects.F32, 2)}, {16, 0, tensor("e", objects.F16, 0, 4)},
			{16, 8, tensor("s", objects.I64)}, {24, 4, nil}}}, ""},
		{"unknown dtype any length", codec.Layout{Size: 7, Segments: []codec.Segment{{0, 7, tensor("q", "Q4_K", 100)}}}, ""},
		{"sub-byte dtype", codec.Layout{Size: 3, Segments: []codec.Segment{{0, 3, tensor("f6", objects.F6E2M3, 4)}}}, ""},
		{"negative size", codec.Layout{Size: -1}, "negative size"},
		{"gap", codec.Layout{Size: 10, Segments: []codec.Segment{{0, 4, nil}, {5, 5, nil}}}, "segment 1 starts at 5, want 4"},
		{"overlap", codec.Layout{Size: 10, Segments: []codec.Segment{{0, 6, nil}, {4, 6, nil}}}, "segment 1 starts at 4, want 6"},
		{"not from zero", codec.Layout{Size: 10, Segments: []codec.Segment{{2, 8, nil}}}, "segment 0 starts at 2, want 0"},
		{"negative length", codec.Layout{Size: 10, Segments: []codec.Segment{{0, -1, nil}}}, "negative length"},
		{"past end", codec.Layout{Size: 10, Segments: []codec.Segment{{0, 11, nil}}}, "runs past the end"},
		{"short of size", codec.Layout{Size: 10, Segments: []codec.Segment{{0, 9, nil}}}, "segments end at 9, file size is 10"},
		{"duplicate name", codec.Layout{Size: 8, Segments: []codec.Segment{{0, 4, tensor("a", objects.F32)}, {4, 4, tensor("a", objects.F32)}}}, `duplicate tensor "a"`},
		{"length mismatch", codec.Layout{Size: 4, Segments: []codec.Segment{{0, 4, tensor("a", objects.F64)}}}, "has 8 bytes, segment has 4"},
		{"no dtype", codec.Layout{Size: 4, Segments: []codec.Segment{{0, 4, tensor("a", "")}}}, "no dtype"},
		{"f4 odd count", codec.Layout{Size: 2, Segments: []codec.Segment{{0, 2, tensor("a", objects.F4, 3)}}}, "not whole bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.l.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !errors.Is(err, codec.ErrInvalidLayout) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate = %v, want ErrInvalidLayout containing %q", err, tt.want)
			}
		})
	}
}

func TestLayoutTensors(t *testing.T) {
	t.Parallel()
	l := codec.Layout{Size: 12, Segments: []codec.Segment{
		{0, 4, nil}, {4, 4, tensor("b", objects.F32, 1)}, {8, 0, tensor("a", objects.U8, 0)}, {8, 4, tensor("c", objects.I32)}}}
	want := []codec.TensorInfo{*tensor("b", objects.F32, 1), *tensor("a", objects.U8, 0), *tensor("c", objects.I32)}
	if diff := cmp.Diff(want, l.Tensors()); diff != "" {
		t.Errorf("Tensors (-want +got):\n%s", diff)
	}
}

func TestTensorInfoByteLen(t *testing.T) {
	t.Parallel()
	tests := []struct {
		info      codec.TensorInfo
		n         int64
		known, ok bool
	}{
		{*tensor("a", objects.BF16, 3, 4), 24, true, true},
		{*tensor("a", objects.F32), 4, true, true},
		{*tensor("a", objects.F32, 0, 1<<40), 0, true, true},
		{*tensor("a", objects.F4, 6), 3, true, true},
		{*tensor("a", objects.F4, 5), 0, true, false},
		{*tensor("a", "F8_E4M3FNUZ", 5), 0, false, true},
		{*tensor("a", objects.U8, 1<<32, 1<<32), 0, true, false},
	}
	for _, tt := range tests {
		n, known, err := tt.info.ByteLen()
		if n != tt.n || known != tt.known || (err == nil) != tt.ok {
			t.Errorf("%v.ByteLen() = %d, %v, %v; want %d, %v, ok=%v", tt.info, n, known, err, tt.n, tt.known, tt.ok)
		}
	}
}

func stHead(n uint64, rest string) []byte {
	return append(binary.LittleEndian.AppendUint64(nil, n), rest...)
}

func TestDetect(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		head []byte
		file string
		want string
	}{
		{"safetensors by content", stHead(64, `{"attn`), "weights.bin", "safetensors"},
		{"metadata first", stHead(100, `{"__meta`), "", "safetensors"},
		{"empty object", stHead(8, `{}      `), "x", "safetensors"},
		{"whitespace after brace", stHead(8, "{\n"), "x", "safetensors"},
		{"by name only", []byte("garbage"), "model.SafeTensors", "safetensors"},
		{"empty file named safetensors", nil, "a.safetensors", "safetensors"},
		{"too short", stHead(8, `{`), "x", ""},
		{"header length 1", stHead(1, `{}`), "x", ""},
		{"header length too big", stHead(100_000_001, `{"a`), "x", ""},
		{"no brace", stHead(8, `["a"]`), "x", ""},
		{"brace then junk", stHead(8, `{x`), "x", ""},
		{"zip", []byte("PK\x03\x04\x14\x00\x00\x00\x08\x00"), "model.pt", ""},
		{"text", []byte("hello world, this is text"), "README.md", ""},
		{"empty", nil, "", ""},
	}
	for _, tt := range tests {
		if got := codec.Detect(tt.head, tt.file); got != tt.want {
			t.Errorf("%s: Detect(%q, %q) = %q, want %q", tt.name, tt.head, tt.file, got, tt.want)
		}
	}
}

func TestParse(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	err := safetensors.Write(&buf, map[string]string{"format": "pt"}, []safetensors.WriteTensor{
		{Info: *tensor("w", objects.F32, 2), Data: bytes.NewReader(make([]byte, 8)), Len: 8},
	})
	if err != nil {
		t.Fatal(err)
	}
	st := buf.Bytes()

	l, err := codec.Parse(bytes.NewReader(st), int64(len(st)), "model.bin")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if l.Format != "safetensors" || len(l.Segments) != 2 || l.Segments[1].Tensor.Name != "w" {
		t.Errorf("Parse = %+v", l)
	}

	for _, tc := range []struct {
		name string
		data []byte
		file string
		want error
	}{
		{"opaque", []byte("just some bytes, not a model"), "notes.txt", codec.ErrNotModel},
		{"empty opaque", nil, "empty", codec.ErrNotModel},
		{"damaged safetensors by name", []byte("not really"), "model.safetensors", safetensors.ErrInvalid},
		{"truncated safetensors by content", st[:len(st)-1], "blob", safetensors.ErrInvalid},
	} {
		_, err := codec.Parse(bytes.NewReader(tc.data), int64(len(tc.data)), tc.file)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: Parse err = %v, want %v", tc.name, err, tc.want)
		}
	}

	// A reader shorter than the stated size cannot be detected.
	if _, err := codec.Parse(bytes.NewReader(st[:4]), int64(len(st)), "x"); err == nil {
		t.Error("Parse of a short reader succeeded")
	}
}
