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

func TestDiff(t *testing.T) {
	ctx := context.Background()
	r := newTestRepo(t)
	model := filepath.Join(r.Root, "m.safetensors")
	writeModel(t, model, 1, map[string]int{"a": 100, "b": 50, "c": 10})
	r.Add(ctx, []string{r.Root}, AddOptions{})
	c1, err := r.Commit(ctx, CommitOptions{Message: "base"})
	if err != nil {
		t.Fatal(err)
	}
	// c2 adds 1 to every element of a; c3 doubles b.
	setTensor(t, model, "a", func(i int, v float32) float32 { return v + 1 })
	c2, err := r.Commit(ctx, CommitOptions{Message: "a+1", All: true})
	if err != nil {
		t.Fatal(err)
	}
	setTensor(t, model, "b", func(i int, v float32) float32 { return 2 * v })
	setTensor(t, model, "a", func(i int, v float32) float32 { return v * 3 })
	c3, err := r.Commit(ctx, CommitOptions{Message: "b*2, a*3", All: true})
	if err != nil {
		t.Fatal(err)
	}
	// TensorStats of a diff listed without statistics gives Diff's numbers.
	want, err := r.Diff(ctx, DiffSide{Commit: c2}, DiffSide{Commit: c3}, DiffOptions{Stats: true})
	if err != nil {
		t.Fatal(err)
	}
	listed, err := r.Diff(ctx, DiffSide{Commit: c2}, DiffSide{Commit: c3}, DiffOptions{})
	if err != nil || len(listed) != 1 || len(listed[0].Tensors) != 2 || len(want[0].Tensors) != 2 {
		t.Fatalf("diff c2..c3: %+v %v", listed, err)
	}
	for i := range listed[0].Tensors {
		td := &listed[0].Tensors[i]
		if td.HasStats {
			t.Fatalf("%s has statistics without DiffOptions.Stats", td.Name)
		}
		if err := r.TensorStats(ctx, td); err != nil {
			t.Fatal(err)
		}
		w := want[0].Tensors[i]
		if !td.HasStats || td.Name != w.Name || td.L2 != w.L2 || td.RelChange != w.RelChange || td.MaxAbs != w.MaxAbs || td.Changed != w.Changed || td.Elements != w.Elements {
			t.Errorf("TensorStats %+v, Diff with Stats %+v", *td, w)
		}
	}
	d, err := r.Diff(ctx, DiffSide{Commit: c1}, DiffSide{Commit: c2}, DiffOptions{Stats: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(d) != 1 || len(d[0].Tensors) != 1 || d[0].Tensors[0].Name != "a" {
		t.Fatalf("diff c1..c2: %+v", d)
	}
	td := d[0].Tensors[0]
	if !td.HasStats || td.Elements != 100 || math.Abs(td.L2-10) > 1e-3 || math.Abs(td.MaxAbs-1) > 1e-5 {
		t.Errorf("stats of a+1 over 100 elements: %+v (want L2 10, max 1)", td)
	}
	// worktree diff sees an uncommitted change
	setTensor(t, model, "c", func(i int, v float32) float32 { return -v })
	d, err = r.Diff(ctx, DiffSide{Index: true}, DiffSide{Worktree: true}, DiffOptions{Stats: true})
	if err != nil || len(d) != 1 || len(d[0].Tensors) != 1 || d[0].Tensors[0].Name != "c" || math.Abs(d[0].Tensors[0].Cosine+1) > 1e-9 {
		t.Fatalf("worktree diff: %+v %v", d, err)
	}
	setTensor(t, model, "c", func(i int, v float32) float32 { return -v })

	// A comparison reads only the tensors that differ: c1..c2 lists a
	// without reading c, whose object is gone.
	all, err := r.Diff(ctx, DiffSide{}, DiffSide{Commit: c1}, DiffOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var cid objects.ID
	for _, td := range all[0].Tensors {
		if td.Name == "c" {
			cid = td.NewID
		}
	}
	ds, err := r.Disk()
	if err != nil {
		t.Fatal(err)
	}
	h := cid.String()
	if err := os.Remove(filepath.Join(ds.Dir(), h[:2], h[2:])); err != nil {
		t.Fatal(err)
	}
	d, err = r.Diff(ctx, DiffSide{Commit: c1}, DiffSide{Commit: c2}, DiffOptions{Stats: true})
	if err != nil || len(d) != 1 || len(d[0].Tensors) != 1 || d[0].Tensors[0].Name != "a" || !d[0].Tensors[0].HasStats {
		t.Fatalf("diff c1..c2 without c's object: %+v %v", d, err)
	}
}

// TestIndexNewerThanItsFiles checks that files a checkout writes right
// before it writes the index are clean for the next reader of the index
// (not "racily clean", which would make the next command read them whole).
func TestIndexNewerThanItsFiles(t *testing.T) {
	ctx := context.Background()
	r := newTestRepo(t)
	p := filepath.Join(r.Root, "f.txt")
	os.WriteFile(p, []byte("one"), 0o644)
	r.Add(ctx, []string{p}, AddOptions{})
	c1, err := r.Commit(ctx, CommitOptions{Message: "one"})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(p, []byte("two"), 0o644)
	r.Add(ctx, []string{p}, AddOptions{})
	c2, err := r.Commit(ctx, CommitOptions{Message: "two"})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		target := []objects.ID{c1, c2}[i%2]
		if _, err := r.Checkout(ctx, target.String(), false); err != nil {
			t.Fatal(err)
		}
		idx, err := r.ReadIndex()
		if err != nil {
			t.Fatal(err)
		}
		e, ok := idx.Find("f.txt")
		fi, _ := os.Lstat(p)
		if !ok || !idx.clean(e, fi) {
			t.Fatalf("checkout %d: the file it wrote is not clean for the next reader of the index", i)
		}
	}
}
