package repo

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fed-vcs/fed/codec"
	"github.com/fed-vcs/fed/codec/safetensors"
	"github.com/fed-vcs/fed/objects"
)

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

func newTestRepo(t *testing.T) *Repo {
	t.Helper()
	t.Setenv("FED_CONFIG", filepath.Join(t.TempDir(), "userconfig"))
	r, err := Init(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	r.Key = objects.KeypairFromSeed(bytes.Repeat([]byte{1}, 32))
	clock := time.Unix(1_700_000_000, 0)
	r.Now = func() time.Time { clock = clock.Add(time.Minute); return clock }
	return r
}

func TestCommitCheckoutRoundTrip(t *testing.T) {
	ctx := context.Background()
	r := newTestRepo(t)
	model := filepath.Join(r.Root, "model.safetensors")
	writeModel(t, model, 1, map[string]int{"a": 1000, "b": 300_000, "c": 7})
	os.WriteFile(filepath.Join(r.Root, "notes.txt"), []byte("hello\n"), 0o644)
	if err := r.Add(ctx, []string{r.Root}, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	c1, err := r.Commit(ctx, CommitOptions{Message: "first", Samples: 10})
	if err != nil {
		t.Fatal(err)
	}
	v1, _ := os.ReadFile(model)
	files, _ := r.CommitFiles(ctx, c1)
	if files["model.safetensors"].Kind != objects.KindModel || files["notes.txt"].Kind != objects.KindBlob {
		t.Fatalf("kinds: %+v", files)
	}
	st, err := r.Status(ctx)
	if err != nil || len(st) != 0 {
		t.Fatalf("status after commit: %v %v", st, err)
	}
	writeModel(t, model, 2, map[string]int{"a": 1000, "b": 300_000, "c": 7})
	st, _ = r.Status(ctx)
	if len(st) != 1 || st[0].Worktree != 'M' {
		t.Fatalf("status after change: %+v", st)
	}
	if _, err := r.Commit(ctx, CommitOptions{Message: "nothing staged"}); !errors.Is(err, ErrNothingToCommit) {
		t.Fatalf("commit without staging: %v", err)
	}
	c2, err := r.Commit(ctx, CommitOptions{Message: "second", All: true})
	if err != nil {
		t.Fatal(err)
	}
	v2, _ := os.ReadFile(model)
	if _, err := r.Checkout(ctx, c1.String()[:10], false); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(model)
	if !bytes.Equal(got, v1) {
		t.Fatal("checkout of the first commit is not byte-identical")
	}
	// a local change blocks switching back
	os.WriteFile(model, []byte("junk"), 0o644)
	if err := r.Switch(ctx, "main", SwitchOptions{}); !errors.Is(err, ErrDirty) {
		t.Fatalf("switch over a dirty file: %v", err)
	}
	if err := r.Switch(ctx, "main", SwitchOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	got, _ = os.ReadFile(model)
	if !bytes.Equal(got, v2) {
		t.Fatal("switch back is not byte-identical")
	}
	log, err := r.Log(ctx, LogOptions{Start: []objects.ID{c2}})
	if err != nil || len(log) != 2 || log[0].ID != c2 || log[1].ID != c1 {
		t.Fatalf("log: %v %v", log, err)
	}
	if Samples(log[1].Commit) != 10 {
		t.Errorf("samples = %d", Samples(log[1].Commit))
	}
	if id, err := r.Resolve(ctx, "main~1"); err != nil || id != c1 {
		t.Errorf("main~1 = %v %v", id, err)
	}
	if id, err := r.Resolve(ctx, "HEAD^"); err != nil || id != c1 {
		t.Errorf("HEAD^ = %v %v", id, err)
	}
	rep, err := r.Fsck(ctx)
	if err != nil || len(rep.Problems) != 0 {
		t.Fatalf("fsck: %+v %v", rep, err)
	}
}
