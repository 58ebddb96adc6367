package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fed-vcs/fed/codec"
	"github.com/fed-vcs/fed/objects"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// rawFile assembles a file from a header JSON (used verbatim, no padding)
// and a data region.
func rawFile(header string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	b = append(b, header...)
	return append(b, data...)
}

func parseBytes(t *testing.T, b []byte, name string) (*codec.Layout, *Header) {
	t.Helper()
	l, h, err := Parse(bytes.NewReader(b), int64(len(b)), name)
	if err != nil {
		t.Fatalf("Parse(%s): %v", name, err)
	}
	if err := l.Validate(); err != nil {
		t.Fatalf("Parse(%s) gave an invalid layout: %v", name, err)
	}
	return l, h
}

// rewrite writes the parsed file back with Write, taking each tensor's
// bytes from the original file.
func rewrite(t *testing.T, b []byte, h *Header) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := Write(&out, h.Metadata, writeTensors(b, h)); err != nil {
		t.Fatalf("Write: %v", err)
	}
	return out.Bytes()
}

func writeTensors(b []byte, h *Header) []WriteTensor {
	ws := make([]WriteTensor, len(h.Tensors))
	for i, e := range h.Tensors {
		data := b[h.DataStart()+e.Begin : h.DataStart()+e.End]
		ws[i] = WriteTensor{Info: e.Info, Data: bytes.NewReader(data), Len: e.End - e.Begin}
	}
	return ws
}

func f32s(v ...float32) []byte {
	var b []byte
	for _, f := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(f))
	}
	return b
}

func writeBytes(t *testing.T, md map[string]string, ts []WriteTensor) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, md, ts); err != nil {
		t.Fatalf("Write: %v", err)
	}
	return buf.Bytes()
}

// The byte strings the reference implementation's own tests expect from
// its serializer (safetensors/src/tensor.rs, tests test_serialization,
// test_empty, test_serialization_forced_alignement, test_serialization_fp4).
func TestWriteMatchesReferenceVectors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		md      map[string]string
		tensors []WriteTensor
		want    []byte
	}{
		{
			name: "f32 no padding needed",
			tensors: []WriteTensor{{Info: codec.TensorInfo{Name: "attn.0", DType: objects.F32, Shape: []uint64{1, 2, 3}},
				Data: bytes.NewReader(f32s(0, 1, 2, 3, 4, 5)), Len: 24}},
			want: rawFile(`{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}`, f32s(0, 1, 2, 3, 4, 5)),
		},
		{
			name: "f32 padded with 7 spaces",
			tensors: []WriteTensor{{Info: codec.TensorInfo{Name: "attn0", DType: objects.F32, Shape: []uint64{1, 1, 2, 3}},
				Data: bytes.NewReader(f32s(0, 1, 2, 3, 4, 5)), Len: 24}},
			want: rawFile(`{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}       `, f32s(0, 1, 2, 3, 4, 5)),
		},
		{
			name: "f4",
			tensors: []WriteTensor{{Info: codec.TensorInfo{Name: "attn.0", DType: objects.F4, Shape: []uint64{1, 2}},
				Data: bytes.NewReader([]byte{0}), Len: 1}},
			want: rawFile(`{"attn.0":{"dtype":"F4","shape":[1,2],"data_offsets":[0,1]}}    `, []byte{0}),
		},
		{
			name: "empty",
			want: rawFile(`{}      `, nil),
		},
		{
			name: "metadata only",
			md:   map[string]string{"framework": "pt"},
			want: rawFile(`{"__metadata__":{"framework":"pt"}}     `, nil),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := writeBytes(t, tt.md, tt.tensors)
			if !bytes.Equal(got, tt.want) {
				t.Fatalf("Write =\n%q\nwant\n%q", got, tt.want)
			}
			_, h := parseBytes(t, got, tt.name)
			if again := rewrite(t, got, h); !bytes.Equal(again, got) {
				t.Errorf("Write(Parse(x)) =\n%q\nwant\n%q", again, got)
			}
			hb, err := HeaderBytes(tt.md, tt.tensors)
			if err != nil {
				t.Fatal(err)
			}
			if int64(len(hb)) != h.DataStart() || !bytes.Equal(hb, got[:len(hb)]) {
				t.Errorf("HeaderBytes = %q, want %q", hb, got[:h.DataStart()])
			}
		})
	}
}

func TestEveryDType(t *testing.T) {
	t.Parallel()
	tests := []struct {
		dtype  objects.DType
		shape  []uint64
		length int64
	}{
		{objects.Bool, []uint64{2, 4}, 8},
		{objects.U8, []uint64{2, 4}, 8},
		{objects.I8, []uint64{2, 4}, 8},
		{objects.F8E5M2, []uint64{2, 4}, 8},
		{objects.F8E4M3, []uint64{2, 4}, 8},
		{objects.F8E8M0, []uint64{2, 4}, 8},
		{objects.I16, []uint64{2, 4}, 16},
		{objects.U16, []uint64{2, 4}, 16},
		{objects.F16, []uint64{2, 4}, 16},
		{objects.BF16, []uint64{2, 4}, 16},
		{objects.I32, []uint64{2, 4}, 32},
		{objects.U32, []uint64{2, 4}, 32},
		{objects.F32, []uint64{2, 4}, 32},
		{objects.F64, []uint64{2, 4}, 64},
		{objects.I64, []uint64{2, 4}, 64},
		{objects.U64, []uint64{2, 4}, 64},
		{objects.C64, []uint64{2, 4}, 64},
		{objects.F6E2M3, []uint64{2, 4}, 6},
		{objects.F6E3M2, []uint64{2, 4}, 6},
		{objects.F4, []uint64{2, 4}, 4},
		// Unknown to fed: opaque bytes of whatever length the offsets give.
		{"F8_E4M3FNUZ", []uint64{2, 4}, 8},
		{"Q4_K", []uint64{2, 4}, 5},
	}
	for _, tt := range tests {
		t.Run(string(tt.dtype), func(t *testing.T) {
			t.Parallel()
			data := make([]byte, tt.length)
			for i := range data {
				data[i] = byte(i*7 + 1)
			}
			info := codec.TensorInfo{Name: "w", DType: tt.dtype, Shape: tt.shape}
			b := writeBytes(t, nil, []WriteTensor{{Info: info, Data: bytes.NewReader(data), Len: tt.length}})
			l, h := parseBytes(t, b, "every.safetensors")
			if len(l.Segments) != 2 {
				t.Fatalf("got %d segments, want 2", len(l.Segments))
			}
			seg := l.Segments[1]
			if diff := cmp.Diff(&info, seg.Tensor); diff != "" {
				t.Errorf("tensor info (-want +got):\n%s", diff)
			}
			if got := b[seg.Offset : seg.Offset+seg.Length]; !bytes.Equal(got, data) {
				t.Errorf("segment bytes = %x, want %x", got, data)
			}
			if h.Metadata != nil {
				t.Errorf("Metadata = %v, want nil", h.Metadata)
			}
			if again := rewrite(t, b, h); !bytes.Equal(again, b) {
				t.Errorf("Write(Parse(x)) differs:\n%q\n%q", again, b)
			}
		})
	}
}

func TestShapesAndRegions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		md      map[string]string
		tensors []WriteTensor
		// wantOrder is the tensor order of the data region.
		wantOrder []string
	}{
		{
			name: "0-d tensor",
			tensors: []WriteTensor{{Info: codec.TensorInfo{Name: "step", DType: objects.I64, Shape: []uint64{}},
				Data: bytes.NewReader(make([]byte, 8)), Len: 8}},
			wantOrder: []string{"step"},
		},
		{
			name: "empty tensor among others",
			tensors: []WriteTensor{
				{Info: codec.TensorInfo{Name: "a", DType: objects.F32, Shape: []uint64{2}}, Data: bytes.NewReader(f32s(1, 2)), Len: 8},
				{Info: codec.TensorInfo{Name: "b", DType: objects.F32, Shape: []uint64{3, 0}}, Len: 0},
				{Info: codec.TensorInfo{Name: "c", DType: objects.F32, Shape: []uint64{1}}, Data: bytes.NewReader(f32s(3)), Len: 4},
			},
			wantOrder: []string{"a", "b", "c"},
		},
		{
			name: "zero-size data region",
			tensors: []WriteTensor{
				{Info: codec.TensorInfo{Name: "z2", DType: objects.BF16, Shape: []uint64{0}}, Len: 0},
				{Info: codec.TensorInfo{Name: "z1", DType: objects.U8, Shape: []uint64{0, 5}}, Len: 0},
			},
			wantOrder: []string{"z2", "z1"},
		},
		{
			name: "metadata with escapes and unicode",
			md: map[string]string{"format": "pt", "note": "tab\there \"quoted\" \\ <b>&amp; é 世界 \u2028 \x01\x7f",
				"z": "", "": "empty key"},
			tensors: []WriteTensor{{Info: codec.TensorInfo{Name: "naïve/\"w\"\n", DType: objects.U8, Shape: []uint64{3}},
				Data: strings.NewReader("abc"), Len: 3}},
			wantOrder: []string{"naïve/\"w\"\n"},
		},
		{
			name:      "empty metadata object",
			md:        map[string]string{},
			wantOrder: nil,
		},
		{
			name: "sorted by dtype rank then name",
			tensors: []WriteTensor{
				{Info: codec.TensorInfo{Name: "a.bool", DType: objects.Bool, Shape: []uint64{1}}, Data: bytes.NewReader([]byte{1}), Len: 1},
				{Info: codec.TensorInfo{Name: "b.f32", DType: objects.F32, Shape: []uint64{1}}, Data: bytes.NewReader(f32s(1)), Len: 4},
				{Info: codec.TensorInfo{Name: "a.f32", DType: objects.F32, Shape: []uint64{1}}, Data: bytes.NewReader(f32s(2)), Len: 4},
				{Info: codec.TensorInfo{Name: "c.c64", DType: objects.C64, Shape: []uint64{1}}, Data: bytes.NewReader(make([]byte, 8)), Len: 8},
				{Info: codec.TensorInfo{Name: "d.i64", DType: objects.I64, Shape: []uint64{1}}, Data: bytes.NewReader(make([]byte, 8)), Len: 8},
				{Info: codec.TensorInfo{Name: "e.f64", DType: objects.F64, Shape: []uint64{1}}, Data: bytes.NewReader(make([]byte, 8)), Len: 8},
				{Info: codec.TensorInfo{Name: "f.bf16", DType: objects.BF16, Shape: []uint64{1}}, Data: bytes.NewReader(make([]byte, 2)), Len: 2},
				{Info: codec.TensorInfo{Name: "g.f16", DType: objects.F16, Shape: []uint64{1}}, Data: bytes.NewReader(make([]byte, 2)), Len: 2},
				{Info: codec.TensorInfo{Name: "h.u8", DType: objects.U8, Shape: []uint64{1}}, Data: bytes.NewReader(make([]byte, 1)), Len: 1},
				{Info: codec.TensorInfo{Name: "i.f4", DType: objects.F4, Shape: []uint64{2}}, Data: bytes.NewReader(make([]byte, 1)), Len: 1},
				{Info: codec.TensorInfo{Name: "j.odd", DType: "Q4_K", Shape: []uint64{1}}, Data: bytes.NewReader(make([]byte, 3)), Len: 3},
			},
			wantOrder: []string{"d.i64", "e.f64", "c.c64", "a.f32", "b.f32", "f.bf16", "g.f16", "h.u8", "i.f4", "a.bool", "j.odd"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := writeBytes(t, tt.md, tt.tensors)
			l, h := parseBytes(t, b, tt.name)
			var gotOrder []string
			for _, ti := range l.Tensors() {
				gotOrder = append(gotOrder, ti.Name)
			}
			if diff := cmp.Diff(tt.wantOrder, gotOrder); diff != "" {
				t.Errorf("data order (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.md, h.Metadata); diff != "" {
				t.Errorf("metadata (-want +got):\n%s", diff)
			}
			if (tt.md == nil) != (h.Metadata == nil) {
				t.Errorf("metadata nil = %v, want %v", h.Metadata == nil, tt.md == nil)
			}
			// Header order of the file Write made is its data order.
			var hdrOrder []string
			for _, e := range h.Tensors {
				hdrOrder = append(hdrOrder, e.Info.Name)
			}
			if diff := cmp.Diff(tt.wantOrder, hdrOrder); diff != "" {
				t.Errorf("header order (-want +got):\n%s", diff)
			}
			if h.DataStart()%8 != 0 {
				t.Errorf("data starts at %d, not a multiple of 8", h.DataStart())
			}
			if again := rewrite(t, b, h); !bytes.Equal(again, b) {
				t.Errorf("Write(Parse(x)) differs:\n%q\n%q", again, b)
			}
		})
	}
}

func TestParseLayout(t *testing.T) {
	t.Parallel()
	// Header order differs from data order; two zero-length tensors share
	// offset 8 and keep their header order; unknown fields are ignored;
	// padding may be any JSON whitespace.
	header := `{"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16],"extra":{"x":[1,{}]}},` +
		`"z":{"shape":[0],"dtype":"U8","data_offsets":[8,8]},` +
		`"__metadata__":{"k":"v"},` +
		`"a":{"data_offsets":[0,8],"dtype":"I64","shape":[]},` +
		`"y":{"dtype":"U8","shape":[0],"data_offsets":[8,8]}}` + "\n\t "
	data := make([]byte, 16)
	b := rawFile(header, data)
	l, h := parseBytes(t, b, "x.safetensors")
	hs := int64(8 + len(header))
	want := &codec.Layout{
		Format: "safetensors",
		Size:   int64(len(b)),
		Segments: []codec.Segment{
			{Offset: 0, Length: hs},
			{Offset: hs, Length: 8, Tensor: &codec.TensorInfo{Name: "a", DType: objects.I64, Shape: []uint64{}}},
			{Offset: hs + 8, Length: 0, Tensor: &codec.TensorInfo{Name: "z", DType: objects.U8, Shape: []uint64{0}}},
			{Offset: hs + 8, Length: 0, Tensor: &codec.TensorInfo{Name: "y", DType: objects.U8, Shape: []uint64{0}}},
			{Offset: hs + 8, Length: 8, Tensor: &codec.TensorInfo{Name: "b", DType: objects.F32, Shape: []uint64{2}}},
		},
	}
	if diff := cmp.Diff(want, l); diff != "" {
		t.Errorf("layout (-want +got):\n%s", diff)
	}
	wantHeader := &Header{
		Len:      int64(len(header)),
		Metadata: map[string]string{"k": "v"},
		Tensors: []Entry{
			{Info: codec.TensorInfo{Name: "b", DType: objects.F32, Shape: []uint64{2}}, Begin: 8, End: 16},
			{Info: codec.TensorInfo{Name: "z", DType: objects.U8, Shape: []uint64{0}}, Begin: 8, End: 8},
			{Info: codec.TensorInfo{Name: "a", DType: objects.I64, Shape: []uint64{}}, Begin: 0, End: 8},
			{Info: codec.TensorInfo{Name: "y", DType: objects.U8, Shape: []uint64{0}}, Begin: 8, End: 8},
		},
	}
	if diff := cmp.Diff(wantHeader, h); diff != "" {
		t.Errorf("header (-want +got):\n%s", diff)
	}
	// Concatenating the segments gives the file back.
	var cat []byte
	for _, s := range l.Segments {
		cat = append(cat, b[s.Offset:s.Offset+s.Length]...)
	}
	if !bytes.Equal(cat, b) {
		t.Error("segments do not concatenate to the file")
	}
}

// headerOnly serves the first n bytes of a file and fails the test on any
// read beyond them: Parse must never read tensor data.
type headerOnly struct {
	t    *testing.T
	head []byte
}

func (r headerOnly) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > int64(len(r.head)) {
		r.t.Errorf("read of %d bytes at %d beyond the %d-byte header", len(p), off, len(r.head))
		return 0, io.EOF
	}
	return copy(p, r.head[off:]), nil
}

func TestParseReadsOnlyHeader(t *testing.T) {
	t.Parallel()
	const n = 5 << 30 // 5 Gi elements of F32: a 20 GiB file
	header := fmt.Sprintf(`{"w":{"dtype":"F32","shape":[%d],"data_offsets":[0,%d]}}`, n, 4*n)
	head := rawFile(header, nil)
	size := int64(len(head)) + 4*n
	l, _, err := Parse(headerOnly{t, head}, size, "big.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	if got := l.Segments[1].Length; got != 4*n {
		t.Errorf("tensor length = %d, want %d", got, int64(4*n))
	}
}

type failingReader struct{ err error }

func (r failingReader) ReadAt([]byte, int64) (int, error) { return 0, r.err }

func TestParseReadError(t *testing.T) {
	t.Parallel()
	boom := errors.New("disk on fire")
	_, _, err := Parse(failingReader{boom}, 100, "m.safetensors")
	if !errors.Is(err, boom) || errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v, want the read error and not ErrInvalid", err)
	}
	// A reader shorter than the stated size is a truncated file.
	b := rawFile(`{}      `, nil)
	_, _, err = Parse(bytes.NewReader(b[:10]), int64(len(b)), "short.safetensors")
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "truncated") {
		t.Fatalf("err = %v, want truncated", err)
	}
}

func TestParseRejects(t *testing.T) {
	t.Parallel()
	ok := func(dtype, shape, offsets string) string {
		return fmt.Sprintf(`{"dtype":%s,"shape":%s,"data_offsets":%s}`, dtype, shape, offsets)
	}
	f32x2 := ok(`"F32"`, `[2]`, `[0,8]`)
	hugeLen := binary.LittleEndian.AppendUint64(nil, MaxHeaderLen+1)
	hugeLen = append(hugeLen, '{', '}')
	tests := []struct {
		name string
		file []byte
		want string // substring of the message
	}{
		{"empty file", nil, "truncated"},
		{"shorter than prefix", []byte{2, 0, 0}, "truncated"},
		{"header past end", append(binary.LittleEndian.AppendUint64(nil, 100), "{}"...), "runs past the end"},
		{"header over limit", hugeLen, "exceeds the limit of 100000000"},
		{"zero header", rawFile("", nil), "does not start with '{'"},
		{"not an object", rawFile(`["a"]`, nil), "does not start with '{'"},
		{"leading space", rawFile(` {}`, nil), "does not start with '{'"},
		{"non-utf8", rawFile("{\"a\xff\":1}", nil), "not valid UTF-8"},
		{"invalid json", rawFile(`{"a":}`, nil), "not valid JSON"},
		{"unterminated json", rawFile(`{"a":{"dtype":"F32"`, nil), "not valid JSON"},
		{"trailing garbage", rawFile(`{}x`, nil), "non-whitespace bytes after"},
		{"second object", rawFile(`{} {}`, nil), "non-whitespace bytes after"},
		{"nul padding", rawFile("{}\x00\x00", nil), "non-whitespace bytes after"},
		{"duplicate tensor", rawFile(`{"w":`+f32x2+`,"w":`+ok(`"F32"`, `[2]`, `[8,16]`)+`}`, make([]byte, 16)), `duplicate tensor name "w"`},
		{"duplicate metadata", rawFile(`{"__metadata__":{},"__metadata__":{}}`, nil), "duplicate __metadata__"},
		{"duplicate metadata key", rawFile(`{"__metadata__":{"a":"1","a":"2"}}`, nil), `duplicate key "a"`},
		{"duplicate field", rawFile(`{"w":{"dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 8)), `duplicate field "dtype"`},
		{"metadata not object", rawFile(`{"__metadata__":["a"]}`, nil), "__metadata__ is an array"},
		{"metadata value number", rawFile(`{"__metadata__":{"epoch":3}}`, nil), `value of "epoch" is the number 3`},
		{"metadata value object", rawFile(`{"__metadata__":{"cfg":{"a":"b"}}}`, nil), `value of "cfg" is an object`},
		{"metadata value null", rawFile(`{"__metadata__":{"x":null}}`, nil), `value of "x" is null`},
		{"entry not object", rawFile(`{"w":[1]}`, nil), `tensor "w": entry is an array`},
		{"missing dtype", rawFile(`{"w":{"shape":[2],"data_offsets":[0,8]}}`, make([]byte, 8)), "missing dtype"},
		{"missing shape", rawFile(`{"w":{"dtype":"F32","data_offsets":[0,8]}}`, make([]byte, 8)), "missing shape"},
		{"missing offsets", rawFile(`{"w":{"dtype":"F32","shape":[2]}}`, make([]byte, 8)), "missing data_offsets"},
		{"dtype not string", rawFile(`{"w":`+ok(`7`, `[2]`, `[0,8]`)+`}`, make([]byte, 8)), "dtype is the number 7"},
		{"dtype empty", rawFile(`{"w":`+ok(`""`, `[2]`, `[0,8]`)+`}`, make([]byte, 8)), "dtype is empty"},
		{"shape not array", rawFile(`{"w":`+ok(`"F32"`, `2`, `[0,8]`)+`}`, make([]byte, 8)), "shape is the number 2"},
		{"shape negative", rawFile(`{"w":`+ok(`"F32"`, `[-2]`, `[0,8]`)+`}`, make([]byte, 8)), "shape[0] -2 is negative"},
		{"shape fraction", rawFile(`{"w":`+ok(`"F32"`, `[2.0]`, `[0,8]`)+`}`, make([]byte, 8)), "shape[0] 2.0 is not an integer"},
		{"shape exponent", rawFile(`{"w":`+ok(`"F32"`, `[2e0]`, `[0,8]`)+`}`, make([]byte, 8)), "is not an integer"},
		{"shape string", rawFile(`{"w":`+ok(`"F32"`, `["2"]`, `[0,8]`)+`}`, make([]byte, 8)), `shape[0] is "2"`},
		{"shape too big", rawFile(`{"w":`+ok(`"F32"`, `[18446744073709551616]`, `[0,8]`)+`}`, make([]byte, 8)), "out of range"},
		{"shape overflows", rawFile(`{"w":`+ok(`"F32"`, `[4294967296,4294967296]`, `[0,8]`)+`}`, make([]byte, 8)), "overflows"},
		{"offsets negative", rawFile(`{"w":`+ok(`"F32"`, `[2]`, `[-8,0]`)+`}`, make([]byte, 8)), "data_offsets[0] -8 is negative"},
		{"offsets one number", rawFile(`{"w":`+ok(`"F32"`, `[2]`, `[8]`)+`}`, make([]byte, 8)), "has 1 numbers, want 2"},
		{"offsets three numbers", rawFile(`{"w":`+ok(`"F32"`, `[2]`, `[0,8,8]`)+`}`, make([]byte, 8)), "has 3 numbers, want 2"},
		{"offsets out of int64", rawFile(`{"w":`+ok(`"F32"`, `[2]`, `[0,9223372036854775808]`)+`}`, make([]byte, 8)), "out of range"},
		{"offsets reversed", rawFile(`{"w":`+ok(`"F32"`, `[0]`, `[8,0]`)+`}`, make([]byte, 8)), "end before they begin"},
		{"offsets past end", rawFile(`{"w":`+ok(`"F32"`, `[2]`, `[0,8]`)+`}`, make([]byte, 4)), "run past the end of the 4-byte data region"},
		{"length mismatch", rawFile(`{"w":`+ok(`"F32"`, `[3]`, `[0,8]`)+`}`, make([]byte, 8)), "F32 of shape [3] has 12 bytes, data_offsets [0, 8] hold 8"},
		{"f4 odd elements", rawFile(`{"w":`+ok(`"F4"`, `[3]`, `[0,2]`)+`}`, make([]byte, 2)), "not whole bytes"},
		{"hole at start", rawFile(`{"w":`+ok(`"F32"`, `[2]`, `[8,16]`)+`}`, make([]byte, 16)), "leave a hole: bytes [0, 8)"},
		{"hole between", rawFile(`{"a":`+ok(`"F32"`, `[2]`, `[0,8]`)+`,"b":`+ok(`"U8"`, `[1]`, `[9,10]`)+`}`, make([]byte, 10)), `tensor "b": data_offsets [9, 10] leave a hole: bytes [8, 9)`},
		{"overlap", rawFile(`{"a":`+ok(`"F32"`, `[2]`, `[0,8]`)+`,"b":`+ok(`"F32"`, `[1]`, `[4,8]`)+`}`, make([]byte, 8)), `overlap tensor "a"`},
		{"same range twice", rawFile(`{"a":`+ok(`"F32"`, `[2]`, `[0,8]`)+`,"b":`+ok(`"F32"`, `[2]`, `[0,8]`)+`}`, make([]byte, 8)), `tensor "b": data_offsets [0, 8] overlap tensor "a"`},
		{"empty tensor inside another", rawFile(`{"a":`+ok(`"F32"`, `[2]`, `[0,8]`)+`,"b":`+ok(`"F32"`, `[0]`, `[4,4]`)+`}`, make([]byte, 8)), "overlap"},
		{"trailing bytes", rawFile(`{"w":`+f32x2+`}`, make([]byte, 9)), "data region has 1 bytes after the last tensor"},
		{"data but no tensors", rawFile(`{}`, []byte{1}), "data region has 1 bytes after the last tensor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l, h, err := Parse(bytes.NewReader(tt.file), int64(len(tt.file)), "bad.safetensors")
			if err == nil {
				t.Fatalf("Parse accepted it: %+v %+v", l, h)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("err = %v, does not wrap ErrInvalid", err)
			}
			var fe *FormatError
			if !errors.As(err, &fe) || fe.File != "bad.safetensors" {
				t.Fatalf("err = %#v, want a *FormatError naming the file", err)
			}
			if !strings.Contains(fe.Msg, tt.want) {
				t.Errorf("message %q does not contain %q", fe.Msg, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "safetensors: bad.safetensors: ") {
				t.Errorf("Error() = %q, want the package and file name first", err.Error())
			}
		})
	}
}

func TestParseAccepts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		file []byte
	}{
		{"no padding", rawFile(`{}`, nil)},
		{"metadata null", rawFile(`{"__metadata__":null}`, nil)},
		{"newline padding", rawFile("{}\n\r\t ", nil)},
		{"whitespace inside", rawFile("{ \"w\" : { \"dtype\" : \"U8\" , \"shape\" : [ 1 ] , \"data_offsets\" : [ 0 , 1 ] } }", []byte{9})},
		{"escaped name", rawFile(`{"\u0077\n":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, []byte{9})},
		{"empty name", rawFile(`{"":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, []byte{9})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			parseBytes(t, tt.file, tt.name)
		})
	}
}

func TestWriteRejects(t *testing.T) {
	t.Parallel()
	f32 := func(name string, shape []uint64, n int64) WriteTensor {
		return WriteTensor{Info: codec.TensorInfo{Name: name, DType: objects.F32, Shape: shape}, Data: bytes.NewReader(make([]byte, 64)), Len: n}
	}
	tests := []struct {
		name    string
		md      map[string]string
		tensors []WriteTensor
		want    string
	}{
		{"duplicate", nil, []WriteTensor{f32("a", []uint64{1}, 4), f32("a", []uint64{1}, 4)}, `duplicate tensor "a"`},
		{"reserved name", nil, []WriteTensor{f32("__metadata__", []uint64{1}, 4)}, "reserved"},
		{"length mismatch", nil, []WriteTensor{f32("a", []uint64{2}, 4)}, "has 8 bytes, Len is 4"},
		{"negative length", nil, []WriteTensor{{Info: codec.TensorInfo{Name: "a", DType: "Q4"}, Len: -1}}, "negative length"},
		{"no dtype", nil, []WriteTensor{{Info: codec.TensorInfo{Name: "a"}, Len: 0}}, "no dtype"},
		{"bad utf8 name", nil, []WriteTensor{f32("a\xff", []uint64{1}, 4)}, "not valid UTF-8"},
		{"bad utf8 metadata", map[string]string{"k": "\xff"}, nil, "not valid UTF-8"},
		{"short data", nil, []WriteTensor{{Info: codec.TensorInfo{Name: "a", DType: objects.U8, Shape: []uint64{4}}, Data: strings.NewReader("ab"), Len: 4}}, "data has 2 bytes, want 4"},
		{"missing reader", nil, []WriteTensor{{Info: codec.TensorInfo{Name: "a", DType: objects.U8, Shape: []uint64{4}}, Len: 4}}, "no data reader"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := Write(io.Discard, tt.md, tt.tensors)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Write err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// goldens are written by Write; -update regenerates testdata from them and
// the test checks Write still produces the same bytes.
var goldens = map[string]func() (map[string]string, []WriteTensor){
	"reference_f32.safetensors": func() (map[string]string, []WriteTensor) {
		return nil, []WriteTensor{{Info: codec.TensorInfo{Name: "attn.0", DType: objects.F32, Shape: []uint64{1, 2, 3}},
			Data: bytes.NewReader(f32s(0, 1, 2, 3, 4, 5)), Len: 24}}
	},
	"mixed.safetensors": func() (map[string]string, []WriteTensor) {
		md := map[string]string{"format": "pt", "fed.note": "golden file: every shape kind"}
		seq := func(n int) []byte {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(i*37 + 11)
			}
			return b
		}
		return md, []WriteTensor{
			{Info: codec.TensorInfo{Name: "embed.weight", DType: objects.BF16, Shape: []uint64{4, 3}}, Data: bytes.NewReader(seq(24)), Len: 24},
			{Info: codec.TensorInfo{Name: "layer.0.weight", DType: objects.F32, Shape: []uint64{3, 2}}, Data: bytes.NewReader(f32s(0.5, -1, 2, 3.25, 1e-3, 7)), Len: 24},
			{Info: codec.TensorInfo{Name: "layer.0.bias", DType: objects.F32, Shape: []uint64{2}}, Data: bytes.NewReader(f32s(0.1, 0.2)), Len: 8},
			{Info: codec.TensorInfo{Name: "bn.num_batches_tracked", DType: objects.I64, Shape: []uint64{}}, Data: bytes.NewReader(seq(8)), Len: 8},
			{Info: codec.TensorInfo{Name: "mask", DType: objects.Bool, Shape: []uint64{5}}, Data: bytes.NewReader([]byte{1, 0, 1, 1, 0}), Len: 5},
			{Info: codec.TensorInfo{Name: "empty", DType: objects.F16, Shape: []uint64{0, 8}}, Len: 0},
			{Info: codec.TensorInfo{Name: "scales", DType: objects.F8E8M0, Shape: []uint64{3}}, Data: bytes.NewReader(seq(3)), Len: 3},
		}
	},
	"empty.safetensors": func() (map[string]string, []WriteTensor) { return nil, nil },
}

func TestGolden(t *testing.T) {
	for name, gen := range goldens {
		t.Run(name, func(t *testing.T) {
			md, ts := gen()
			got := writeBytes(t, md, ts)
			path := filepath.Join("testdata", name)
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("Write output differs from %s:\n got %q\nwant %q", path, got, want)
			}
			l, h := parseBytes(t, want, name)
			if again := rewrite(t, want, h); !bytes.Equal(again, want) {
				t.Errorf("Write(Parse(golden)) differs")
			}
			if len(l.Tensors()) != len(ts) {
				t.Errorf("parsed %d tensors, want %d", len(l.Tensors()), len(ts))
			}
		})
	}
}

func TestCodecRegistration(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join("testdata", "mixed.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := codec.Parse(bytes.NewReader(b), int64(len(b)), "renamed.bin")
	if err != nil {
		t.Fatalf("codec.Parse: %v", err)
	}
	want, _ := parseBytes(t, b, "renamed.bin")
	if diff := cmp.Diff(want, l); diff != "" {
		t.Errorf("codec.Parse layout differs from Parse (-want +got):\n%s", diff)
	}
}
