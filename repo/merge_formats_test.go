package repo

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

// TestMergeTorchCheckpoint merges two fine-tunes of a real torch.save
// state dict: the result is a valid zip (CRC-32s recomputed) whose
// float tensors are the average, and torch loads it when it is installed.
func TestMergeTorchCheckpoint(t *testing.T) {
	ctx := context.Background()
	src, _ := filepath.Abs("../codec/torch/testdata/state_dict.pt")
	r := newTestRepo(t)
	model := filepath.Join(r.Root, "model.pt")
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(model, b, 0o644)
	if err := r.Add(ctx, []string{model}, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	base, err := r.Commit(ctx, CommitOptions{Message: "base"})
	if err != nil {
		t.Fatal(err)
	}
	if f, _ := r.CommitFiles(ctx, base); f["model.pt"].Kind != 4 {
		t.Fatalf("model.pt stored as kind %d, not a model", f["model.pt"].Kind)
	}
	for i, f := range []float32{2, 4} {
		name := []string{"a", "b"}[i]
		if err := r.Switch(ctx, name, SwitchOptions{Create: true, Start: base.String()}); err != nil {
			t.Fatal(err)
		}
		scaleF32(t, src, model, f)
		if _, err := r.Commit(ctx, CommitOptions{Message: name, All: true}); err != nil {
			t.Fatal(err)
		}
	}
	r.Switch(ctx, "main", SwitchOptions{})
	if _, err := r.Merge(ctx, []string{"a", "b"}, MergeOptions{}); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(model)
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
	// the merged file equals the base scaled by 3 (the mean of 2 and 4)
	want := filepath.Join(t.TempDir(), "want.pt")
	scaleF32(t, src, want, 3)
	wb, _ := os.ReadFile(want)
	if !bytes.Equal(got, wb) {
		t.Error("merged checkpoint differs from the base scaled by 3")
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

// TestAddWarnsOpaque: a legacy (non-zip) torch pickle is stored opaque and
// add says why; status (hashing only) says nothing.
func TestAddWarnsOpaque(t *testing.T) {
	ctx := context.Background()
	r := newTestRepo(t)
	var warnings []string
	r.Warn = func(m string) { warnings = append(warnings, m) }
	b, err := os.ReadFile("../codec/torch/testdata/legacy.pt")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(r.Root, "legacy.pt")
	os.WriteFile(p, b, 0o644)
	if err := r.Add(ctx, []string{p}, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "legacy.pt") || !strings.Contains(warnings[0], "opaque") {
		t.Fatalf("warnings: %q", warnings)
	}
	os.WriteFile(p, append(b, 0), 0o644)
	if _, err := r.Status(ctx); err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 {
		t.Fatalf("status warned: %q", warnings)
	}
}
