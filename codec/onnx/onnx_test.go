package onnx

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/fed-vcs/fed/codec"
	"github.com/fed-vcs/fed/objects"
)

type manifest struct {
	Tensors map[string]struct {
		DType  objects.DType `json:"dtype"`
		Shape  []uint64      `json:"shape"`
		SHA256 string        `json:"sha256"`
	} `json:"tensors"`
}

func readFixture(t *testing.T) ([]byte, manifest) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	j, err := os.ReadFile(filepath.Join("testdata", "model.onnx.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m manifest
	if err := json.Unmarshal(j, &m); err != nil {
		t.Fatal(err)
	}
	return b, m
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestFixture: the model onnx wrote (initializers, a Constant node, an If
// with a Constant in one branch and an initializer in the other) gives
// every raw_data tensor with onnx's bytes; the typed one is skipped.
func TestFixture(t *testing.T) {
	t.Parallel()
	b, want := readFixture(t)
	if got := codec.Detect(b[:codec.HeadLen], "weights.bin"); got != codec.FormatONNX {
		t.Fatalf("Detect by content = %q", got)
	}
	l, m, err := Parse(bytes.NewReader(b), int64(len(b)), "weights.bin")
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Validate(); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, s := range l.Segments {
		if s.Tensor == nil {
			continue
		}
		n++
		w, ok := want.Tensors[s.Tensor.Name]
		if !ok {
			t.Errorf("unexpected tensor %q", s.Tensor.Name)
			continue
		}
		if s.Tensor.DType != w.DType || !cmp.Equal(s.Tensor.Shape, w.Shape, cmpopts.EquateEmpty()) {
			t.Errorf("tensor %q: %s %v, want %s %v", s.Tensor.Name, s.Tensor.DType, s.Tensor.Shape, w.DType, w.Shape)
		}
		if sum(b[s.Offset:s.Offset+s.Length]) != w.SHA256 {
			t.Errorf("tensor %q: bytes differ from onnx's", s.Tensor.Name)
		}
	}
	if n != len(want.Tensors) {
		t.Errorf("found %d tensors, want %d", n, len(want.Tensors))
	}
	if diff := cmp.Diff([]Skipped{{Name: "typed", Reason: "typed field float_data, not raw_data"}}, m.Skipped); diff != "" {
		t.Errorf("Skipped (-want +got):\n%s", diff)
	}
}

const pythonCheck = `
import sys, onnx, numpy as np
from onnx import numpy_helper
def tensors(g, prefix, out):
    for t in g.initializer:
        out[prefix + t.name] = t
    for n in g.node:
        label = n.name or n.output[0]
        for a in n.attribute:
            if a.type == onnx.AttributeProto.TENSOR:
                out[prefix + (n.output[0] if n.op_type == "Constant" and a.name == "value" else label + "/" + a.name)] = a.t
            if a.type == onnx.AttributeProto.GRAPH:
                tensors(a.g, prefix + label + "/" + a.name + "/", out)
    return out
a, b = onnx.load(sys.argv[1]), onnx.load(sys.argv[2])
onnx.checker.check_model(b)
ta, tb = tensors(a.graph, "", {}), tensors(b.graph, "", {})
assert ta.keys() == tb.keys()
for k in ta:
    x, y = numpy_helper.to_array(ta[k]), numpy_helper.to_array(tb[k])
    want = x * 2 if (ta[k].raw_data and x.dtype == np.float32) else x
    assert x.dtype == y.dtype and x.shape == y.shape, k
    assert np.array_equal(y, want), (k, x, y)
print("ok", len(ta))
`

// TestPatchLoadsInONNX: a model with every float32 raw_data tensor
// doubled passes onnx.checker and holds the doubled values; the typed
// tensor is unchanged.
func TestPatchLoadsInONNX(t *testing.T) {
	t.Parallel()
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import onnx").Run(); err != nil {
		t.Skipf("skipping: %s cannot import onnx (install python3-onnx): %v", py, err)
	}
	b, _ := readFixture(t)
	l, _, err := Parse(bytes.NewReader(b), int64(len(b)), "m.onnx")
	if err != nil {
		t.Fatal(err)
	}
	repl := map[string]io.ReaderAt{}
	for _, s := range l.Segments {
		if s.Tensor != nil && s.Tensor.DType == objects.F32 {
			d := bytes.Clone(b[s.Offset : s.Offset+s.Length])
			for i := 0; i+4 <= len(d); i += 4 {
				binary.LittleEndian.PutUint32(d[i:], math.Float32bits(2*math.Float32frombits(binary.LittleEndian.Uint32(d[i:]))))
			}
			repl[s.Tensor.Name] = bytes.NewReader(d)
		}
	}
	var out bytes.Buffer
	if err := codec.Patch(&out, bytes.NewReader(b), l, repl); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "patched.onnx")
	if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(filepath.Join("testdata", "model.onnx"))
	res, err := exec.Command(py, "-c", pythonCheck, abs, path).CombinedOutput()
	if err != nil {
		t.Fatalf("onnx.load of the patched model: %v\n%s", err, res)
	}
	t.Logf("%s", res)
}

// Builders for hand-made models.
func msg(fields ...[]byte) []byte { return bytes.Join(fields, nil) }

func bytesField(num protowire.Number, v []byte) []byte {
	return protowire.AppendBytes(protowire.AppendTag(nil, num, protowire.BytesType), v)
}

func varintField(num protowire.Number, v uint64) []byte {
	return protowire.AppendVarint(protowire.AppendTag(nil, num, protowire.VarintType), v)
}

func tensorProto(name string, dt uint64, dims []uint64, raw []byte) []byte {
	var f [][]byte
	for _, d := range dims {
		f = append(f, varintField(tensorDims, d))
	}
	f = append(f, varintField(tensorDataType, dt), bytesField(tensorName, []byte(name)), bytesField(tensorRawData, raw))
	return msg(f...)
}

func model(graph []byte) []byte {
	return msg(varintField(1, 8), bytesField(2, []byte("test")), bytesField(modelGraph, graph))
}

func TestHandMade(t *testing.T) {
	t.Parallel()
	w := tensorProto("w", 1, []uint64{2}, make([]byte, 8))
	tests := []struct {
		name    string
		graph   []byte
		want    []string
		skipped []string
	}{
		{"duplicate names", msg(bytesField(graphInitializer, w), bytesField(graphInitializer, w)), []string{"w", "w#2"}, nil},
		{"raw_data of the wrong length", msg(bytesField(graphInitializer, tensorProto("w", 1, []uint64{3}, make([]byte, 8)))), nil, []string{"w"}},
		{"string tensor", msg(bytesField(graphInitializer, tensorProto("s", 8, []uint64{1}, []byte("abc")))), nil, []string{"s"}},
		{"external data", msg(bytesField(graphInitializer, msg(varintField(tensorDataType, 1), bytesField(tensorName, []byte("e")), varintField(tensorDataLocation, 1)))), nil, []string{"e"}},
		{"packed dims", msg(bytesField(graphInitializer, msg(bytesField(tensorDims, []byte{2, 1}), varintField(tensorDataType, 7),
			bytesField(tensorName, []byte("p")), bytesField(tensorRawData, make([]byte, 16))))), []string{"p"}, nil},
		{"attribute tensors", msg(bytesField(graphNode, msg(bytesField(nodeOutput, []byte("y")), bytesField(nodeOpType, []byte("Foo")),
			bytesField(nodeAttribute, msg(bytesField(attrName, []byte("ts")), bytesField(attrTensors, w), bytesField(attrTensors, w)))))),
			[]string{"y/ts/0", "y/ts/1"}, nil},
		{"unnamed node", msg(bytesField(graphNode, bytesField(nodeAttribute, msg(bytesField(attrName, []byte("t")), bytesField(attrT, w))))),
			[]string{"#0/t"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := model(tt.graph)
			l, m, err := Parse(bytes.NewReader(b), int64(len(b)), "m.onnx")
			if err != nil {
				t.Fatal(err)
			}
			var got, skipped []string
			for _, ti := range l.Tensors() {
				got = append(got, ti.Name)
			}
			for _, s := range m.Skipped {
				skipped = append(skipped, s.Name)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("tensors (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.skipped, skipped); diff != "" {
				t.Errorf("skipped (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	good := model(bytesField(graphInitializer, tensorProto("w", 1, []uint64{2}, make([]byte, 8))))
	deep := tensorProto("w", 1, []uint64{2}, make([]byte, 8))
	deep = bytesField(graphInitializer, deep)
	for i := 0; i < MaxDepth+2; i++ {
		deep = bytesField(graphNode, bytesField(nodeAttribute, msg(bytesField(attrName, []byte("g")), bytesField(attrG, deep))))
	}
	tests := []struct {
		name string
		file []byte
	}{
		{"truncated", good[:len(good)-3]},
		{"length past the end", append(bytes.Clone(good), 0x3a, 0x7f)},
		{"group wire type", append(bytes.Clone(good), 0x0b)},
		{"bad tag", append(bytes.Clone(good), 0x80)},
		{"subgraphs too deep", model(deep)},
		{"huge name", model(bytesField(graphInitializer, bytesField(tensorName, make([]byte, maxName+1))))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := Parse(bytes.NewReader(tt.file), int64(len(tt.file)), "m.onnx")
			var fe *FormatError
			if !errors.As(err, &fe) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("named .onnx: err = %v, want a FormatError", err)
			}
			_, _, err = Parse(bytes.NewReader(tt.file), int64(len(tt.file)), "m.bin")
			var oe *codec.OpaqueError
			if !errors.As(err, &oe) {
				t.Fatalf("detected by content: err = %v, want opaque", err)
			}
		})
	}
}

func TestDetect(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		head []byte
		want bool
	}{
		{"model", model(nil), true},
		{"ir_version only", varintField(1, 7), true},
		{"ir_version 0", varintField(1, 0), false},
		{"graph first", bytesField(modelGraph, nil), false},
		{"unknown field", msg(varintField(1, 7), varintField(9, 1)), false},
		{"wrong wire type", msg(varintField(1, 7), varintField(2, 1)), false},
		{"text", []byte("\x08hello world"), false},
		{"empty", nil, false},
	}
	for _, tt := range tests {
		if got := isONNXHead(tt.head); got != tt.want {
			t.Errorf("%s: isONNXHead = %v, want %v", tt.name, got, tt.want)
		}
	}
}
