package mergeexec

import (
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"testing"

	"github.com/fed-vcs/fed/merge"
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/repo"
)

// TestMergeGivenWeights: weights given in Options replace the samples,
// the result is the weighted mean computed in float64 and rounded once,
// and the commit records the weights per parent (HEAD, the base, 0).
func TestMergeGivenWeights(t *testing.T) {
	ctx := context.Background()
	r := newTestRepo(t)
	base, br := fedRound(t, r, []float32{2, 3, 5}, []int64{100, 300, 600})
	a0 := readTensorF32(t, r, base, "m.safetensors", "a")
	res, err := Merge(ctx, r, br, Options{Weights: []float64{1, 1, 2}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Weights) != 3 || res.Weights[2] != 2 || res.Report == nil || res.Report.Strategy != merge.FedAvg {
		t.Fatalf("result: %+v", res)
	}
	a := readTensorF32(t, r, res.Commit, "m.safetensors", "a")
	for i := range a {
		want := float32((float64(float32(2*a0[i])) + float64(float32(3*a0[i])) + 2*float64(float32(5*a0[i]))) / 4)
		if a[i] != want {
			t.Fatalf("a[%d] = %v, want %v", i, a[i], want)
		}
	}
	c, _ := objects.ReadCommit(ctx, r.Objects, res.Commit)
	if v, _ := c.Value(repo.MetaMergeWeights); v != "0,1,1,2" {
		t.Errorf("merge.weights = %q, want 0,1,1,2", v)
	}
	if v, _ := c.Value(MetaMergeStrategy); v != merge.FedAvg {
		t.Errorf("merge.strategy = %q", v)
	}
	// three weights for three sides, not four
	r2 := newTestRepo(t)
	_, br2 := fedRound(t, r2, []float32{2, 3}, []int64{1, 1})
	if _, err := Merge(ctx, r2, br2, Options{Weights: []float64{1, 1, 1}}); !errors.Is(err, merge.ErrInvalidOptions) {
		t.Errorf("three weights for two sides: %v", err)
	}
}

// TestMergeReproducible: the same merge of the same commits in two
// repositories gives the same files, bit for bit, and the same commit.
func TestMergeReproducible(t *testing.T) {
	ctx := context.Background()
	vals := func(f float32) []float32 {
		v := make([]float32, 3000)
		for i := range v {
			v[i] = f * float32(i%97) / 7
		}
		return v
	}
	var files []map[string]repo.TreeFile
	var commits []objects.ID
	for i := 0; i < 2; i++ {
		r := newTestRepo(t)
		round(t, r, "m.safetensors",
			func(p string) { writeSafetensors(t, p, nil, map[string][]float32{"a": vals(1)}) },
			func(p string) { writeSafetensors(t, p, nil, map[string][]float32{"a": vals(1.1)}) },
			func(p string) { writeSafetensors(t, p, nil, map[string][]float32{"a": vals(0.3)}) },
			func(p string) { writeSafetensors(t, p, nil, map[string][]float32{"a": vals(-2)}) })
		res, err := Merge(ctx, r, []string{"a", "b", "c"}, Options{Strategy: "ties"})
		if err != nil {
			t.Fatal(err)
		}
		f, err := r.CommitFiles(ctx, res.Commit)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
		commits = append(commits, res.Commit)
	}
	if len(files[0]) == 0 || !maps.Equal(files[0], files[1]) {
		t.Errorf("one merge gave two results: %v, %v", files[0], files[1])
	}
	if commits[0] != commits[1] {
		t.Errorf("one merge gave two commits: %s, %s", commits[0], commits[1])
	}
}

// TestMergeFailureChangesNothing: a merge that fails after planning (a
// strategy that needs the base, for a tensor the base lacks) leaves HEAD,
// the index, the working tree and the merge state as they were, and no
// temporary file.
func TestMergeFailureChangesNothing(t *testing.T) {
	ctx := context.Background()
	r := newTestRepo(t)
	round(t, r, "m.safetensors",
		func(p string) { writeSafetensors(t, p, nil, map[string][]float32{"a": {1, 2}}) },
		func(p string) { writeSafetensors(t, p, nil, map[string][]float32{"a": {1, 2}, "z": {1, 1}}) },
		func(p string) { writeSafetensors(t, p, nil, map[string][]float32{"a": {1, 2}, "z": {2, 2}}) })
	head, _, _ := r.Head()
	before, _ := os.ReadFile(filepath.Join(r.Root, "m.safetensors"))
	_, err := Merge(ctx, r, []string{"a", "b"}, Options{Strategy: "task-arithmetic"})
	if !errors.Is(err, merge.ErrNeedsBase) {
		t.Fatalf("merge: %v, want ErrNeedsBase", err)
	}
	if h, _, _ := r.Head(); h != head {
		t.Error("a failed merge moved HEAD")
	}
	if r.MergeInProgress() {
		t.Error("a failed merge left a merge in progress")
	}
	if st, err := r.Status(ctx); err != nil || len(st) != 0 {
		t.Errorf("status after a failed merge: %+v %v", st, err)
	}
	if after, _ := os.ReadFile(filepath.Join(r.Root, "m.safetensors")); string(after) != string(before) {
		t.Error("a failed merge changed the working tree")
	}
	noTempFiles(t, r)
}
