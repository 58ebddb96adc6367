package mergeexec

import (
	"bytes"
	"context"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fed-vcs/fed/codec"
	"github.com/fed-vcs/fed/codec/safetensors"
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/repo"
)

// Test helpers, as repo's tests have them.

// writeModel writes a safetensors file of F32 tensors with the given
// element counts, values drawn from seed.
func writeModel(t testing.TB, path string, seed uint64, sizes map[string]int) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 7))
	var ts []safetensors.WriteTensor
	for name, n := range sizes {
		b := make([]byte, 4*n)
		for i := 0; i < n; i++ {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(float32(r.NormFloat64())))
		}
		ts = append(ts, safetensors.WriteTensor{Info: codec.TensorInfo{Name: name, DType: objects.F32, Shape: []uint64{uint64(n)}}, Data: bytes.NewReader(b), Len: int64(len(b))})
	}
	var buf bytes.Buffer
	if err := safetensors.Write(&buf, map[string]string{"format": "pt"}, ts); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func newTestRepo(t *testing.T) *repo.Repo {
	t.Helper()
	t.Setenv("FED_CONFIG", filepath.Join(t.TempDir(), "userconfig"))
	r, err := repo.Init(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	r.Key = objects.KeypairFromSeed(bytes.Repeat([]byte{1}, 32))
	clock := time.Unix(1_700_000_000, 0)
	r.Now = func() time.Time { clock = clock.Add(time.Minute); return clock }
	return r
}

func readTensorF32(t *testing.T, r *repo.Repo, commit objects.ID, path, name string) []float32 {
	t.Helper()
	ctx := context.Background()
	files, err := r.CommitFiles(ctx, commit)
	if err != nil {
		t.Fatal(err)
	}
	m, err := objects.ReadModel(ctx, r.Objects, files[path].ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range m.Segments {
		if s.Name == name {
			tt, _ := objects.ReadTensor(ctx, r.Objects, s.ID)
			var buf bytes.Buffer
			if err := objects.WriteTensorTo(ctx, r.Objects, tt, &buf); err != nil {
				t.Fatal(err)
			}
			b := buf.Bytes()
			out := make([]float32, len(b)/4)
			for i := range out {
				out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
			}
			return out
		}
	}
	t.Fatalf("no tensor %s", name)
	return nil
}

// setTensor rewrites one F32 tensor of a safetensors file in place.
func setTensor(t *testing.T, path, name string, f func(i int, v float32) float32) {
	t.Helper()
	fh, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	fi, _ := fh.Stat()
	layout, err := codec.Parse(fh, fi.Size(), path)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range layout.Segments {
		if s.Tensor != nil && s.Tensor.Name == name {
			b := make([]byte, s.Length)
			fh.ReadAt(b, s.Offset)
			for i := 0; i < len(b)/4; i++ {
				v := math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
				binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f(i, v)))
			}
			fh.WriteAt(b, s.Offset)
			return
		}
	}
	t.Fatalf("no tensor %s in %s", name, path)
}
