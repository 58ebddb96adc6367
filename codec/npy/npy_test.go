package npy

import (
	"archive/zip"
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
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/fed-vcs/fed/codec"
	"github.com/fed-vcs/fed/objects"
)

type manifest struct {
	Opaque  bool `json:"opaque"`
	Tensors map[string]struct {
		DType  objects.DType `json:"dtype"`
		Shape  []uint64      `json:"shape"`
		SHA256 string        `json:"sha256"`
	} `json:"tensors"`
}

func fixtures(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures in testdata (run codec/testdata/gen.py): %v", err)
	}
	for i, f := range files {
		files[i] = strings.TrimSuffix(f, ".json")
	}
	return files
}

func readManifest(t *testing.T, file string) manifest {
	t.Helper()
	b, err := os.ReadFile(file + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestFixtures checks every file numpy wrote against gen.py's manifest.
func TestFixtures(t *testing.T) {
	t.Parallel()
	for _, file := range fixtures(t) {
		t.Run(filepath.Base(file), func(t *testing.T) {
			t.Parallel()
			want := readManifest(t, file)
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			// Detected from content, whatever the name.
			l, err := codec.Parse(bytes.NewReader(b), int64(len(b)), "renamed.bin")
			if want.Opaque {
				var oe *codec.OpaqueError
				if !errors.As(err, &oe) || !errors.Is(err, codec.ErrNotModel) {
					t.Fatalf("Parse err = %v, want an OpaqueError", err)
				}
				t.Logf("opaque: %s", oe.Reason)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := l.Validate(); err != nil {
				t.Fatal(err)
			}
			got := map[string]bool{}
			for _, s := range l.Segments {
				if s.Tensor == nil {
					continue
				}
				m, ok := want.Tensors[s.Tensor.Name]
				if !ok {
					t.Errorf("unexpected tensor %q", s.Tensor.Name)
					continue
				}
				got[s.Tensor.Name] = true
				if s.Tensor.DType != m.DType || !cmp.Equal(s.Tensor.Shape, m.Shape, cmpopts.EquateEmpty()) {
					t.Errorf("tensor %q: %s %v, want %s %v", s.Tensor.Name, s.Tensor.DType, s.Tensor.Shape, m.DType, m.Shape)
				}
				if sum(b[s.Offset:s.Offset+s.Length]) != m.SHA256 {
					t.Errorf("tensor %q: bytes differ from numpy's", s.Tensor.Name)
				}
			}
			if len(got) != len(want.Tensors) {
				t.Errorf("found %d tensors, want %d", len(got), len(want.Tensors))
			}
		})
	}
}

// double returns data with F32 and F64 values doubled and I64 plus one.
func double(ti *codec.TensorInfo, data []byte) []byte {
	out := bytes.Clone(data)
	switch ti.DType {
	case objects.F32:
		for i := 0; i+4 <= len(out); i += 4 {
			binary.LittleEndian.PutUint32(out[i:], math.Float32bits(2*math.Float32frombits(binary.LittleEndian.Uint32(out[i:]))))
		}
	case objects.F64:
		for i := 0; i+8 <= len(out); i += 8 {
			binary.LittleEndian.PutUint64(out[i:], math.Float64bits(2*math.Float64frombits(binary.LittleEndian.Uint64(out[i:]))))
		}
	case objects.I64:
		for i := 0; i+8 <= len(out); i += 8 {
			binary.LittleEndian.PutUint64(out[i:], binary.LittleEndian.Uint64(out[i:])+1)
		}
	}
	return out
}

func patchAll(t *testing.T, b []byte) []byte {
	t.Helper()
	l, err := codec.Parse(bytes.NewReader(b), int64(len(b)), "x")
	if err != nil {
		t.Fatal(err)
	}
	repl := map[string]io.ReaderAt{}
	for _, s := range l.Segments {
		if s.Tensor != nil {
			repl[s.Tensor.Name] = bytes.NewReader(double(s.Tensor, b[s.Offset:s.Offset+s.Length]))
		}
	}
	var out bytes.Buffer
	if err := codec.Patch(&out, bytes.NewReader(b), l, repl); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestPatchNPZCRC(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join("testdata", "arrays.npz"))
	if err != nil {
		t.Fatal(err)
	}
	out := patchAll(t, b)
	zr, err := zip.NewReader(bytes.NewReader(out), int64(len(out)))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, rc); err != nil {
			t.Errorf("entry %s: %v", f.Name, err) // archive/zip checks the CRC-32
		}
		rc.Close()
	}
}

const pythonCheck = `
import sys, zipfile, numpy as np
def want(a):
    if a.dtype in (np.float32, np.float64):
        return a * 2
    if a.dtype == np.int64:
        return a + 1
    return a
for orig, patched in zip(sys.argv[1::2], sys.argv[2::2]):
    if orig.endswith(".npz"):
        assert zipfile.ZipFile(patched).testzip() is None
        a, b = np.load(orig), np.load(patched)
        assert sorted(a.files) == sorted(b.files)
        pairs = [(a[k], b[k]) for k in a.files]
    else:
        pairs = [(np.load(orig), np.load(patched))]
    for x, y in pairs:
        assert x.dtype == y.dtype and x.shape == y.shape, orig
        assert np.isfortran(x) == np.isfortran(y), orig
        assert np.array_equal(y, want(x)), (orig, x, y)
print("ok", len(sys.argv) // 2)
`

// TestPatchLoadsInNumPy: fed-written .npy and .npz files with changed
// arrays load in numpy with the expected values.
func TestPatchLoadsInNumPy(t *testing.T) {
	t.Parallel()
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import numpy").Run(); err != nil {
		t.Skipf("skipping: %s cannot import numpy (install python3-numpy): %v", py, err)
	}
	dir := t.TempDir()
	args := []string{"-c", pythonCheck}
	for _, file := range fixtures(t) {
		if readManifest(t, file).Opaque {
			continue
		}
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, filepath.Base(file))
		if err := os.WriteFile(out, patchAll(t, b), 0o644); err != nil {
			t.Fatal(err)
		}
		abs, _ := filepath.Abs(file)
		args = append(args, abs, out)
	}
	res, err := exec.Command(py, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("np.load of patched files: %v\n%s", err, res)
	}
	t.Logf("%s", res)
}

// npyFile builds an .npy file of version 1.0 with the given header text
// (padded to 64 bytes) and data.
func npyFile(header string, data []byte) []byte {
	for (10+len(header)+1)%64 != 0 {
		header += " "
	}
	header += "\n"
	b := append([]byte(Magic+"\x01\x00"), binary.LittleEndian.AppendUint16(nil, uint16(len(header)))...)
	return append(append(b, header...), data...)
}

func TestNPYHeaders(t *testing.T) {
	t.Parallel()
	h2 := "{'descr': '<i2', 'fortran_order': False, 'shape': (3,), }\n"
	v2 := append([]byte(Magic+"\x02\x00"), binary.LittleEndian.AppendUint32(nil, uint32(len(h2)))...)
	v2 = append(append(v2, h2...), make([]byte, 6)...)
	tests := []struct {
		name   string
		file   []byte
		want   *codec.TensorInfo // nil: error
		opaque bool
	}{
		{"f32", npyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 1), }", make([]byte, 8)),
			&codec.TensorInfo{Name: ArrayName, DType: objects.F32, Shape: []uint64{2, 1}}, false},
		{"double quotes and no trailing comma", npyFile(`{"descr": "|u1", "shape": (3,), "fortran_order": False}`, make([]byte, 3)),
			&codec.TensorInfo{Name: ArrayName, DType: objects.U8, Shape: []uint64{3}}, false},
		{"fortran flattens", npyFile("{'descr': '<i8', 'fortran_order': True, 'shape': (2, 3), }", make([]byte, 48)),
			&codec.TensorInfo{Name: ArrayName, DType: objects.I64, Shape: []uint64{6}}, false},
		{"version 2", v2, nil, false},
		{"python 2 long", npyFile("{'descr': '<f8', 'fortran_order': False, 'shape': (1L,), }", make([]byte, 8)),
			&codec.TensorInfo{Name: ArrayName, DType: objects.F64, Shape: []uint64{1}}, false},
		{"structured dtype", npyFile("{'descr': [('a', '<f4'), ('b', '<i4')], 'fortran_order': False, 'shape': (1,), }", make([]byte, 8)), nil, true},
		{"big-endian", npyFile("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", make([]byte, 4)), nil, true},
		{"datetime", npyFile("{'descr': '<M8[s]', 'fortran_order': False, 'shape': (1,), }", make([]byte, 8)), nil, true},
		{"no magic", []byte("hello, numpy"), nil, true},

		{"expression", npyFile("{'descr': __import__('os').system('x'), 'fortran_order': False, 'shape': (1,), }", nil), nil, false},
		{"missing key", npyFile("{'descr': '<f4', 'shape': (1,), }", make([]byte, 4)), nil, false},
		{"extra key", npyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", make([]byte, 4)), nil, false},
		{"duplicate key", npyFile("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", make([]byte, 4)), nil, false},
		{"negative dim", npyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", make([]byte, 4)), nil, false},
		{"shape not a tuple", npyFile("{'descr': '<f4', 'fortran_order': False, 'shape': [1], }", make([]byte, 4)), nil, false},
		{"float dim", npyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (1.0,), }", make([]byte, 4)), nil, false},
		{"overflowing shape", npyFile("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", nil), nil, false},
		{"data truncated", npyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", make([]byte, 11)), nil, false},
		{"header truncated", npyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", nil)[:40], nil, false},
		{"version 9", append([]byte(Magic+"\x09\x00\x10\x00"), "{}"...), nil, false},
		{"huge header length", append([]byte(Magic+"\x02\x00"), 0xff, 0xff, 0xff, 0x7f), nil, false},
		{"unterminated string", npyFile("{'descr': '<f4", nil), nil, false},
		{"deep nesting", npyFile("{'descr': "+strings.Repeat("[", 100)+", 'fortran_order': False, 'shape': (1,), }", nil), nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l, err := NPYParser{}.Parse(bytes.NewReader(tt.file), int64(len(tt.file)), "a.npy")
			switch {
			case tt.opaque:
				if !errors.Is(err, codec.ErrNotModel) {
					t.Fatalf("err = %v, want opaque", err)
				}
			case tt.want != nil:
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff([]codec.TensorInfo{*tt.want}, l.Tensors()); diff != "" {
					t.Errorf("tensors (-want +got):\n%s", diff)
				}
			case tt.name == "version 2":
				if err != nil {
					t.Fatal(err)
				}
				if ts := l.Tensors(); len(ts) != 1 || ts[0].DType != objects.I16 {
					t.Errorf("tensors %+v, want one I16", ts)
				}
			default:
				var fe *FormatError
				if !errors.As(err, &fe) || !errors.Is(err, ErrInvalid) {
					t.Fatalf("err = %v, want a FormatError", err)
				}
			}
		})
	}
}

func TestNPZBad(t *testing.T) {
	t.Parallel()
	good := npyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", make([]byte, 8))
	mk := func(names []string, members [][]byte, method uint16) []byte {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		for i, n := range names {
			w, err := zw.CreateHeader(&zip.FileHeader{Name: n, Method: method})
			if err != nil {
				t.Fatal(err)
			}
			w.Write(members[i])
		}
		zw.Close()
		return buf.Bytes()
	}
	okFile := mk([]string{"a.npy", "readme.txt"}, [][]byte{good, []byte("hi")}, zip.Store)
	l, err := NPZParser{}.Parse(bytes.NewReader(okFile), int64(len(okFile)), "x.npz")
	if err != nil {
		t.Fatal(err)
	}
	if ts := l.Tensors(); len(ts) != 1 || ts[0].Name != "a" {
		t.Fatalf("tensors %+v, want a", ts)
	}
	tests := []struct {
		name   string
		file   []byte
		opaque bool
	}{
		{"deflated", mk([]string{"a.npy"}, [][]byte{good}, zip.Deflate), true},
		{"no arrays", mk([]string{"readme.txt"}, [][]byte{[]byte("hi")}, zip.Store), true},
		{"not a zip", []byte("plain text named .npz"), true},
		{"dotdot", mk([]string{"a.npy", "../b.npy"}, [][]byte{good, good}, zip.Store), false},
		{"bad member header", mk([]string{"a.npy"}, [][]byte{[]byte(Magic + "\x01\x00\xff\x00{")}, zip.Store), false},
		{"member data truncated", mk([]string{"a.npy"}, [][]byte{good[:len(good)-1]}, zip.Store), false},
		{"truncated archive", okFile[:len(okFile)-10], false},
	}
	for _, tt := range tests {
		_, err := NPZParser{}.Parse(bytes.NewReader(tt.file), int64(len(tt.file)), "x.npz")
		if tt.opaque {
			if !errors.Is(err, codec.ErrNotModel) {
				t.Errorf("%s: err = %v, want opaque", tt.name, err)
			}
		} else if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", tt.name, err)
		}
	}
}
