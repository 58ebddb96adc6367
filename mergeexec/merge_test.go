package mergeexec

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fed-vcs/fed/codec"
	_ "github.com/fed-vcs/fed/codec/safetensors"
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/repo"
)

// fedRound makes a base commit on main and one commit per contributor
// branch, each scaling tensor "a" by its factor, with its samples.
func fedRound(t *testing.T, r *repo.Repo, factors []float32, samples []int64) (base objects.ID, branches []string) {
	t.Helper()
	ctx := context.Background()
	model := filepath.Join(r.Root, "m.safetensors")
	writeModel(t, model, 1, map[string]int{"a": 1000, "b": 10})
	r.Add(ctx, []string{r.Root}, repo.AddOptions{})
	base, err := r.Commit(ctx, repo.CommitOptions{Message: "global model"})
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range factors {
		name := string(rune('p' + i))
		if err := r.Switch(ctx, name, repo.SwitchOptions{Create: true, Start: base.String()}); err != nil {
			t.Fatal(err)
		}
		f := f
		setTensor(t, model, "a", func(_ int, v float32) float32 { return v * f })
		if _, err := r.Commit(ctx, repo.CommitOptions{Message: "train " + name, All: true, Samples: samples[i]}); err != nil {
			t.Fatal(err)
		}
		branches = append(branches, name)
	}
	if err := r.Switch(ctx, "main", repo.SwitchOptions{}); err != nil {
		t.Fatal(err)
	}
	return base, branches
}

func TestMergeFedAvgRound(t *testing.T) {
	ctx := context.Background()
	r := newTestRepo(t)
	base, br := fedRound(t, r, []float32{2, 3, 5}, []int64{100, 300, 600})
	a0 := readTensorF32(t, r, base, "m.safetensors", "a")
	b0 := readTensorF32(t, r, base, "m.safetensors", "b")
	res, err := Merge(ctx, r, br, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.FastForward || len(res.Sides) != 3 || res.Base != base || len(res.Parents) != 4 {
		t.Fatalf("result: %+v", res)
	}
	a := readTensorF32(t, r, res.Commit, "m.safetensors", "a")
	for i := range a {
		// (100·2x + 300·3x + 600·5x)/1000 in float64 of the float32 inputs
		x := float64(a0[i])
		want := float32((100*float64(float32(2*a0[i])) + 300*float64(float32(3*a0[i])) + 600*float64(float32(5*a0[i]))) / 1000)
		if a[i] != want {
			t.Fatalf("a[%d] = %v, want %v (x=%v)", i, a[i], want, x)
		}
	}
	if b := readTensorF32(t, r, res.Commit, "m.safetensors", "b"); !equalF32(b, b0) {
		t.Error("tensor b, unchanged on every side, changed")
	}
	c, _ := objects.ReadCommit(ctx, r.Objects, res.Commit)
	if v, _ := c.Value(repo.MetaMergeWeights); v != "0,100,300,600" {
		t.Errorf("merge.weights = %q", v)
	}
	if v, _ := c.Value(MetaMergeBase); v != base.String() {
		t.Errorf("merge.base = %q", v)
	}
	// the working tree holds the merged model
	var want []byte
	f, _ := r.CommitFiles(ctx, res.Commit)
	buf := &bytesBuffer{}
	objects.WriteFileTo(ctx, r.Objects, f["m.safetensors"].ID, buf)
	want = buf.b
	got, _ := os.ReadFile(filepath.Join(r.Root, "m.safetensors"))
	if string(got) != string(want) {
		t.Error("working tree differs from the merge commit")
	}
	if r.PrebuiltUsed() != 1 {
		t.Errorf("the merged model was checked out from %d prebuilt files, want 1 (written while merging)", r.PrebuiltUsed())
	}
	noTempFiles(t, r)
	rep, err := r.Fsck(ctx)
	if err != nil || len(rep.Problems) != 0 {
		t.Fatalf("fsck: %v %v", rep, err)
	}
}

// noTempFiles fails when a temporary file of fed is left in the working
// tree (a merge writes its models next to their destination first).
func noTempFiles(t *testing.T, r *repo.Repo) {
	t.Helper()
	filepath.WalkDir(r.Root, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), ".fed-tmp-") {
			t.Errorf("temporary file left behind: %s", p)
		}
		return nil
	})
}

type bytesBuffer struct{ b []byte }

func (w *bytesBuffer) Write(p []byte) (int, error) { w.b = append(w.b, p...); return len(p), nil }

func equalF32(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

func TestMergeSelfIsIdentity(t *testing.T) {
	ctx := context.Background()
	r := newTestRepo(t)
	_, br := fedRound(t, r, []float32{2, 2}, []int64{7, 9})
	for _, s := range []string{"fedavg", "median", "trimmed-mean", "linear", "task-arithmetic", "ties", "model-stock"} {
		res, err := Merge(ctx, r, br, Options{Strategy: s, NoCommit: true})
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		want := readTensorF32(t, r, mustResolve(t, r, br[0]), "m.safetensors", "a")
		idx, _ := r.ReadIndex()
		e, _ := idx.Find("m.safetensors")
		files, _ := r.CommitFiles(ctx, mustResolve(t, r, br[0]))
		if e.ID != files["m.safetensors"].ID {
			t.Errorf("%s of two identical models is not that model (%v)", s, want[:2])
		}
		if err := r.MergeAbort(ctx); err != nil {
			t.Fatal(err)
		}
		_ = res
	}
}

func mustResolve(t *testing.T, r *repo.Repo, rev string) objects.ID {
	id, err := r.Resolve(context.Background(), rev)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestMergeFastForwardAndUpToDate(t *testing.T) {
	ctx := context.Background()
	r := newTestRepo(t)
	_, br := fedRound(t, r, []float32{2}, []int64{1})
	res, err := Merge(ctx, r, br, Options{})
	if err != nil || !res.FastForward || res.Commit != mustResolve(t, r, br[0]) {
		t.Fatalf("fast-forward: %+v %v", res, err)
	}
	res, err = Merge(ctx, r, br, Options{})
	if err != nil || !res.UpToDate {
		t.Fatalf("up to date: %+v %v", res, err)
	}
}

func TestMergeConflictAbortContinue(t *testing.T) {
	ctx := context.Background()
	r := newTestRepo(t)
	base, br := fedRound(t, r, []float32{2, 3}, []int64{1, 1})
	// a non-model file changed on both sides conflicts
	for i, b := range br {
		r.Switch(ctx, b, repo.SwitchOptions{})
		os.WriteFile(filepath.Join(r.Root, "notes.txt"), []byte{byte('x' + i)}, 0o644)
		r.Add(ctx, []string{filepath.Join(r.Root, "notes.txt")}, repo.AddOptions{})
		if _, err := r.Commit(ctx, repo.CommitOptions{Message: "notes"}); err != nil {
			t.Fatal(err)
		}
	}
	r.Switch(ctx, "main", repo.SwitchOptions{})
	_, err := Merge(ctx, r, br, Options{})
	var ce *repo.ConflictError
	if !errors.As(err, &ce) || len(ce.Items) != 1 || ce.Items[0] != "notes.txt" {
		t.Fatalf("merge: %v", err)
	}
	if !r.MergeInProgress() {
		t.Fatal("no merge in progress after a conflict")
	}
	noTempFiles(t, r)
	if _, err := r.MergeContinue(ctx, ""); !errors.Is(err, repo.ErrConflict) {
		t.Fatalf("continue with conflicts: %v", err)
	}
	if err := r.MergeAbort(ctx); err != nil {
		t.Fatal(err)
	}
	if h, _, _ := r.Head(); h != base {
		t.Fatal("abort moved HEAD")
	}
	if st, _ := r.Status(ctx); len(st) != 0 {
		t.Fatalf("status after abort: %+v", st)
	}
	// again, resolve by hand, continue
	if _, err := Merge(ctx, r, br, Options{}); !errors.As(err, &ce) {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(r.Root, "notes.txt"), []byte("both"), 0o644)
	r.Add(ctx, []string{filepath.Join(r.Root, "notes.txt")}, repo.AddOptions{})
	id, err := r.MergeContinue(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	c, _ := objects.ReadCommit(ctx, r.Objects, id)
	if len(c.Parents) != 3 {
		t.Fatalf("merge commit parents: %d", len(c.Parents))
	}
	// --on-conflict theirs settles it at once
	r2 := newTestRepo(t)
	_, br2 := fedRound(t, r2, []float32{2, 3}, []int64{1, 1})
	for i, b := range br2 {
		r2.Switch(ctx, b, repo.SwitchOptions{})
		os.WriteFile(filepath.Join(r2.Root, "notes.txt"), []byte{byte('x' + i)}, 0o644)
		r2.Add(ctx, []string{filepath.Join(r2.Root, "notes.txt")}, repo.AddOptions{})
		r2.Commit(ctx, repo.CommitOptions{Message: "notes"})
	}
	r2.Switch(ctx, "main", repo.SwitchOptions{})
	if _, err := Merge(ctx, r2, br2, Options{OnConflict: "theirs"}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(r2.Root, "notes.txt")); string(b) != "x" {
		t.Errorf("theirs gave %q", b)
	}
}

func TestMergeServerOptimiserState(t *testing.T) {
	ctx := context.Background()
	r := newTestRepo(t)
	_, br := fedRound(t, r, []float32{2, 3}, []int64{1, 1})
	res, err := Merge(ctx, r, br, Options{Strategy: "fedadam"})
	if err != nil {
		t.Fatal(err)
	}
	files, _ := r.CommitFiles(ctx, res.Commit)
	st, ok := files[StateDir+"/m.safetensors"]
	if !ok {
		t.Fatalf("no optimiser state file in %v", files)
	}
	m, err := objects.ReadModel(ctx, r.Objects, st.ID)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, s := range m.Segments {
		names[s.Name] = true
	}
	if !names["a/m"] || !names["a/v"] {
		t.Fatalf("state tensors %v", names)
	}
	// the state file is a valid safetensors file on disk
	if _, err := os.Stat(filepath.Join(r.Root, StateDir, "m.safetensors")); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(r.Root, StateDir, "m.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if l, err := codec.Parse(bytes.NewReader(b), int64(len(b)), "x.safetensors"); err != nil || l.Format != codec.FormatSafetensors {
		t.Fatalf("state file does not parse: %v", err)
	}
}

func TestMergeBadOptions(t *testing.T) {
	ctx := context.Background()
	r := newTestRepo(t)
	_, br := fedRound(t, r, []float32{2, 3}, []int64{1, 1})
	for name, o := range map[string]Options{
		"unknown strategy": {Strategy: "avg"},
		"weights count":    {Weights: []float64{1}},
		"negative weight":  {Weights: []float64{1, -1}},
		"all zero":         {Weights: []float64{0, 0}},
		"bulyan too few":   {Strategy: "bulyan", Params: map[string]string{"f": "1"}},
		"bad param":        {Strategy: "trimmed-mean", Params: map[string]string{"beta": "0.9"}},
	} {
		if _, err := Merge(ctx, r, br, o); err == nil {
			t.Errorf("%s: merged", name)
		}
		if r.MergeInProgress() {
			t.Fatalf("%s: left a merge in progress", name)
		}
	}
	if h, _, _ := r.Head(); h != mustResolve(t, r, "main") {
		t.Fatal("HEAD moved")
	}
}
