package torch

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

	"github.com/fed-vcs/fed/codec"
	"github.com/fed-vcs/fed/objects"
)

// manifest is what codec/testdata/gen.py wrote next to each fixture.
type manifest struct {
	Opaque  bool `json:"opaque"`
	Tensors map[string]struct {
		DType         objects.DType `json:"dtype"`
		Shape         []uint64      `json:"shape"`
		SHA256        string        `json:"sha256"`
		StorageSHA256 string        `json:"storage_sha256"`
		Offset        int64         `json:"offset"`
		Stride        []int64       `json:"stride"`
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

// gather returns the row-major bytes of a view of storage data.
func gather(data []byte, esize int, offset int64, shape []uint64, stride []int64) []byte {
	n, _ := objects.NumElements(shape)
	out := make([]byte, 0, int(n)*esize)
	idx := make([]uint64, len(shape))
	for k := uint64(0); k < n; k++ {
		e := offset
		for i := range idx {
			e += int64(idx[i]) * stride[i]
		}
		out = append(out, data[e*int64(esize):(e+1)*int64(esize)]...)
		for i := len(idx) - 1; i >= 0; i-- {
			if idx[i]++; idx[i] < shape[i] {
				break
			}
			idx[i] = 0
		}
	}
	return out
}

// TestFixtures checks every file torch wrote against gen.py's manifest:
// opaque files are opaque; otherwise every tensor of the pickled object is
// found, either as a segment of its own name with its exact bytes, or
// (views, shared storages) inside a storage segment from which its bytes
// are rebuilt with the recorded offset and stride.
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
			l, err := codec.Parse(bytes.NewReader(b), int64(len(b)), filepath.Base(file))
			if want.Opaque {
				var oe *codec.OpaqueError
				if !errors.As(err, &oe) || !errors.Is(err, codec.ErrNotModel) || oe.Reason == "" {
					t.Fatalf("Parse err = %v, want an OpaqueError wrapping ErrNotModel", err)
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
			_, ck, err := Parse(bytes.NewReader(b), int64(len(b)), filepath.Base(file))
			if err != nil {
				t.Fatal(err)
			}
			var cat []byte
			segs := map[string][]byte{}
			for _, s := range l.Segments {
				data := b[s.Offset : s.Offset+s.Length]
				cat = append(cat, data...)
				if s.Tensor != nil {
					segs[s.Tensor.Name] = data
				}
			}
			if !bytes.Equal(cat, b) {
				t.Fatal("segments do not reproduce the file")
			}
			found := map[string]bool{}
			for _, s := range l.Segments {
				if s.Tensor == nil {
					continue
				}
				name := s.Tensor.Name
				if viewers, ok := ck.ByStorage[name]; ok {
					if !strings.HasPrefix(name, StoragePrefix) {
						t.Errorf("storage segment %q not named after its storage", name)
					}
					for _, v := range viewers {
						m := want.Tensors[v]
						if m.StorageSHA256 != sum(segs[name]) {
							t.Errorf("tensor %q: storage segment %q has other bytes than its storage", v, name)
						}
					}
					continue
				}
				m, ok := want.Tensors[name]
				if !ok {
					t.Errorf("segment %q is not a tensor of the checkpoint", name)
					continue
				}
				found[name] = true
				if s.Tensor.DType != m.DType || !cmp.Equal(s.Tensor.Shape, m.Shape, cmp.Comparer(func(a, b []uint64) bool { return len(a) == len(b) && (len(a) == 0 || cmp.Equal(a, b)) })) {
					t.Errorf("tensor %q: %s %v, want %s %v", name, s.Tensor.DType, s.Tensor.Shape, m.DType, m.Shape)
				}
				if got := sum(segs[name]); got != m.SHA256 {
					t.Errorf("tensor %q: bytes differ from torch's", name)
				}
			}
			// Every tensor, named or a view, rebuilds from the segments.
			for _, tt := range ck.Tensors {
				m, ok := want.Tensors[tt.Name]
				if !ok {
					t.Errorf("Checkpoint has tensor %q that torch did not save", tt.Name)
					continue
				}
				data, ok := segs[tt.Name]
				if !found[tt.Name] {
					data, ok = segs[StoragePrefix+tt.Storage]
				}
				if !ok {
					t.Errorf("tensor %q: no segment holds its storage %q", tt.Name, tt.Storage)
					continue
				}
				esize, _ := tt.DType.Size()
				if got := sum(gather(data, esize, tt.Offset, tt.Shape, tt.Stride)); got != m.SHA256 {
					t.Errorf("tensor %q: view rebuilt from its storage differs from torch's", tt.Name)
				}
				if tt.Offset != m.Offset || len(m.Stride) > 0 && !cmp.Equal(tt.Stride, m.Stride) {
					t.Errorf("tensor %q: offset %d stride %v, want %d %v", tt.Name, tt.Offset, tt.Stride, m.Offset, m.Stride)
				}
			}
			if len(ck.Tensors) != len(want.Tensors) {
				t.Errorf("Checkpoint has %d tensors, torch saved %d", len(ck.Tensors), len(want.Tensors))
			}
		})
	}
}

// TestNames pins the naming rule: state dicts (also nested, with an
// optimizer) are 1:1; views and shared storages are named after storages.
func TestNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file string
		want []string // tensor segment names in file order
	}{
		{"state_dict.pt", []string{"fc1.weight", "fc1.bias", "bn.weight", "bn.bias", "bn.running_mean",
			"bn.running_var", "bn.num_batches_tracked", "fc2.weight", "fc2.bias"}},
		{"tensor.pt", []string{RootName}},
		{"views.pt", []string{"data/0", "data/1", "data/2", "alone"}},
	}
	for _, tt := range tests {
		b, err := os.ReadFile(filepath.Join("testdata", tt.file))
		if err != nil {
			t.Fatal(err)
		}
		l, ck, err := Parse(bytes.NewReader(b), int64(len(b)), tt.file)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, ti := range l.Tensors() {
			got = append(got, ti.Name)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s names (-want +got):\n%s", tt.file, diff)
		}
		if tt.file == "views.pt" {
			want := map[string][]string{
				"data/0": {"base", "transposed", "row", "cols"},
				"data/1": {"tied_a", "tied_b"},
				"data/2": {"slice"},
			}
			if diff := cmp.Diff(want, ck.ByStorage); diff != "" {
				t.Errorf("ByStorage (-want +got):\n%s", diff)
			}
		}
	}
}

// changed returns new data for a tensor segment: F32 values doubled,
// I64 values plus one, other dtypes unchanged.
func changed(ti *codec.TensorInfo, data []byte) []byte {
	out := bytes.Clone(data)
	switch ti.DType {
	case objects.F32:
		for i := 0; i+4 <= len(out); i += 4 {
			v := math.Float32frombits(binary.LittleEndian.Uint32(out[i:]))
			binary.LittleEndian.PutUint32(out[i:], math.Float32bits(2*v))
		}
	case objects.I64:
		for i := 0; i+8 <= len(out); i += 8 {
			binary.LittleEndian.PutUint64(out[i:], binary.LittleEndian.Uint64(out[i:])+1)
		}
	}
	return out
}

// patchAll writes file with every tensor changed as by changed.
func patchAll(t *testing.T, b []byte, l *codec.Layout) []byte {
	t.Helper()
	repl := map[string]io.ReaderAt{}
	for _, s := range l.Segments {
		if s.Tensor != nil {
			repl[s.Tensor.Name] = bytes.NewReader(changed(s.Tensor, b[s.Offset:s.Offset+s.Length]))
		}
	}
	var out bytes.Buffer
	if err := codec.Patch(&out, bytes.NewReader(b), l, repl); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// TestPatchCRC rewrites every checkpoint with changed tensors and checks
// with the standard library's zip reader, which verifies CRC-32s, that
// the archive is valid, and that the new file has the same layout.
func TestPatchCRC(t *testing.T) {
	t.Parallel()
	for _, file := range fixtures(t) {
		if readManifest(t, file).Opaque {
			continue
		}
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		l, _, err := Parse(bytes.NewReader(b), int64(len(b)), file)
		if err != nil {
			t.Fatal(err)
		}
		out := patchAll(t, b, l)
		if len(out) != len(b) {
			t.Fatalf("%s: patched file has %d bytes, want %d", file, len(out), len(b))
		}
		zr, err := zip.NewReader(bytes.NewReader(out), int64(len(out)))
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for _, f := range zr.File {
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(io.Discard, rc); err != nil {
				t.Errorf("%s: entry %s: %v", file, f.Name, err)
			}
			rc.Close()
		}
		l2, _, err := Parse(bytes.NewReader(out), int64(len(out)), file)
		if err != nil {
			t.Fatalf("%s: reparse: %v", file, err)
		}
		if diff := cmp.Diff(l, l2); diff != "" {
			t.Errorf("%s: layout changed (-old +new):\n%s", file, diff)
		}
		// Unchanged data gives the file back unchanged.
		var same bytes.Buffer
		if err := codec.Patch(&same, bytes.NewReader(b), l, nil); err != nil || !bytes.Equal(same.Bytes(), b) {
			t.Errorf("%s: Patch without changes did not reproduce the file (err %v)", file, err)
		}
	}
}

const pythonCheck = `
import sys, torch, zipfile
def check(a, b, path):
    if isinstance(a, torch.Tensor):
        if a.dtype == torch.float32:
            want = a * 2
        elif a.dtype == torch.int64:
            want = a + 1
        else:
            want = a
        assert b.dtype == a.dtype and b.shape == a.shape and b.stride() == a.stride(), path
        assert torch.equal(b, want), (path, a, b)
    elif isinstance(a, dict):
        assert list(a.keys()) == list(b.keys()), path
        for k in a:
            check(a[k], b[k], path + "." + str(k))
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            check(x, y, path + "." + str(i))
    else:
        assert a == b, (path, a, b)
for orig, patched in zip(sys.argv[1::2], sys.argv[2::2]):
    # torch 1.13 does not verify CRC-32s on load; Python's zipfile does.
    assert zipfile.ZipFile(patched).testzip() is None, patched
    a, b = torch.load(orig), torch.load(patched)
    check(a, b, orig)
    # views of one storage still share it after the rewrite
    if isinstance(b, dict) and "tied_a" in b:
        assert b["tied_a"].data_ptr() == b["tied_b"].data_ptr()
        assert b["row"].storage().data_ptr() == b["base"].storage().data_ptr()
print("ok", len(sys.argv) // 2)
`

// TestPatchLoadsInTorch shows that fed-written checkpoints with changed
// tensors load in torch with the expected values, nested dicts,
// optimizer state and shared storages included.
func TestPatchLoadsInTorch(t *testing.T) {
	t.Parallel()
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import torch").Run(); err != nil {
		t.Skipf("skipping: %s cannot import torch (install python3-torch): %v", py, err)
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
		l, _, err := Parse(bytes.NewReader(b), int64(len(b)), file)
		if err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, filepath.Base(file))
		if err := os.WriteFile(out, patchAll(t, b, l), 0o644); err != nil {
			t.Fatal(err)
		}
		abs, _ := filepath.Abs(file)
		args = append(args, abs, out)
	}
	cmd := exec.Command(py, args...)
	res, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("torch.load of patched files: %v\n%s", err, res)
	}
	t.Logf("%s", res)
}
