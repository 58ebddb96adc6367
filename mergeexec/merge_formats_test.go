package mergeexec

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fed-vcs/fed/codec"
	"github.com/fed-vcs/fed/repo"
)

// scaleF32 writes a copy of the model file src to dst with every F32
// tensor multiplied by f (through codec.Patch, which keeps zip CRCs right).
func scaleF32(t *testing.T, src, dst string, f float32) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	l, err := codec.Parse(bytes.NewReader(b), int64(len(b)), src)
	if err != nil {
		t.Fatal(err)
	}
	repl := map[string]io.ReaderAt{}
	for _, s := range l.Segments {
		if s.Tensor == nil || s.Tensor.DType != "F32" {
			continue
		}
		d := append([]byte(nil), b[s.Offset:s.Offset+s.Length]...)
		for i := 0; i+4 <= len(d); i += 4 {
			v := math.Float32frombits(binary.LittleEndian.Uint32(d[i:]))
			binary.LittleEndian.PutUint32(d[i:], math.Float32bits(v*f))
		}
		repl[s.Tensor.Name] = bytes.NewReader(d)
	}
	var out bytes.Buffer
	if err := codec.Patch(&out, bytes.NewReader(b), l, repl); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestMergeRealFormats merges two fine-tunes of files written by the real
// tools (torch.save, np.save/np.savez, onnx): each result equals the base
// with every F32 tensor scaled by 3 (the mean of 2× and 4×), byte for
// byte, zip containers included (CRC-32s recomputed); torch loads the
// merged checkpoint when it is installed. fed diff sees the tensors.
func TestMergeRealFormats(t *testing.T) {
	for _, fx := range []string{
		"../codec/torch/testdata/state_dict.pt",
		"../codec/torch/testdata/checkpoint.pth",
		"../codec/npy/testdata/arrays.npz",
		"../codec/npy/testdata/f32.npy",
		"../codec/onnx/testdata/model.onnx",
	} {
		t.Run(filepath.Base(fx), func(t *testing.T) { mergeRealFormat(t, fx) })
	}
}

func mergeRealFormat(t *testing.T, fixture string) {
	ctx := context.Background()
	src, _ := filepath.Abs(fixture)
	name := filepath.Base(src)
	r := newTestRepo(t)
	model := filepath.Join(r.Root, name)
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(model, b, 0o644)
	if err := r.Add(ctx, []string{model}, repo.AddOptions{}); err != nil {
		t.Fatal(err)
	}
	base, err := r.Commit(ctx, repo.CommitOptions{Message: "base"})
	if err != nil {
		t.Fatal(err)
	}
	if f, _ := r.CommitFiles(ctx, base); f[name].Kind != 4 {
		t.Fatalf("%s stored as kind %d, not a model", name, f[name].Kind)
	}
	for i, f := range []float32{2, 4} {
		br := []string{"a", "b"}[i]
		if err := r.Switch(ctx, br, repo.SwitchOptions{Create: true, Start: base.String()}); err != nil {
			t.Fatal(err)
		}
		scaleF32(t, src, model, f)
		if _, err := r.Commit(ctx, repo.CommitOptions{Message: br, All: true}); err != nil {
			t.Fatal(err)
		}
	}
	r.Switch(ctx, "main", repo.SwitchOptions{})
	d, err := r.Diff(ctx, repo.DiffSide{Commit: base}, repo.DiffSide{Commit: mustResolve(t, r, "a")}, repo.DiffOptions{Stats: true})
	if err != nil || len(d) != 1 || len(d[0].Tensors) == 0 || d[0].Opaque {
		t.Fatalf("tensor-level diff of %s: %+v %v", name, d, err)
	}
	for _, td := range d[0].Tensors {
		if td.Status != 'M' || (td.HasStats && !(td.RelChange > 0.99 && td.RelChange < 1.01)) {
			t.Errorf("diff of tensor %s: %+v (want modified, relative change 1)", td.Name, td)
		}
	}
	if _, err := Merge(ctx, r, []string{"a", "b"}, Options{}); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(model)
	if strings.HasSuffix(name, ".pt") || strings.HasSuffix(name, ".pth") || strings.HasSuffix(name, ".npz") {
		zr, err := zip.NewReader(bytes.NewReader(got), int64(len(got)))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range zr.File {
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(io.Discard, rc); err != nil {
				t.Fatalf("zip entry %s: %v (CRC not recomputed?)", f.Name, err)
			}
			rc.Close()
		}
	}
	want := filepath.Join(t.TempDir(), name)
	scaleF32(t, src, want, 3)
	wb, _ := os.ReadFile(want)
	if !bytes.Equal(got, wb) {
		t.Fatalf("merged %s differs from the base scaled by 3", name)
	}
	if name != "state_dict.pt" {
		return
	}
	py := "/usr/bin/python3"
	if exec.Command(py, "-c", "import torch").Run() != nil {
		t.Log("skipping the torch.load check: /usr/bin/python3 cannot import torch (apt-get install python3-torch)")
		return
	}
	out, err := exec.Command(py, "-c", `
import sys, torch
m = torch.load(sys.argv[1]); b = torch.load(sys.argv[2])
for k in b:
    if b[k].dtype == torch.float32:
        assert torch.equal(m[k], b[k] * 3), k
print("ok", len(b))
`, model, src).CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "ok") {
		t.Fatalf("torch.load of the merged checkpoint: %v\n%s", err, out)
	}
}
