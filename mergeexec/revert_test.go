package mergeexec

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/repo"
)

// TestRevert (formerly the second half of repo's TestDiffAndRevert):
// reverting a commit under a later one computes HEAD − (commit − parent)
// for the tensors it changed and keeps the others bit for bit; reverting
// HEAD gives HEAD's parent exactly.
func TestRevert(t *testing.T) {
	ctx := context.Background()
	r := newTestRepo(t)
	model := filepath.Join(r.Root, "m.safetensors")
	writeModel(t, model, 1, map[string]int{"a": 100, "b": 50, "c": 10})
	r.Add(ctx, []string{r.Root}, repo.AddOptions{})
	c1, err := r.Commit(ctx, repo.CommitOptions{Message: "base"})
	if err != nil {
		t.Fatal(err)
	}
	// c2 adds 1 to every element of a; c3 doubles b.
	setTensor(t, model, "a", func(i int, v float32) float32 { return v + 1 })
	c2, err := r.Commit(ctx, repo.CommitOptions{Message: "a+1", All: true})
	if err != nil {
		t.Fatal(err)
	}
	setTensor(t, model, "b", func(i int, v float32) float32 { return 2 * v })
	setTensor(t, model, "a", func(i int, v float32) float32 { return v * 3 })
	c3, err := r.Commit(ctx, repo.CommitOptions{Message: "b*2, a*3", All: true})
	if err != nil {
		t.Fatal(err)
	}
	// revert c2 under c3: a = 3(x+1) - 1 ; b and c untouched bit for bit
	a1 := readTensorF32(t, r, c1, "m.safetensors", "a")
	c4, err := Revert(ctx, r, c2.String(), RevertOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a4 := readTensorF32(t, r, c4, "m.safetensors", "a")
	for i := range a4 {
		want := float32(float64(float32(float32(a1[i]+1)*3)) - 1)
		if a4[i] != want {
			t.Fatalf("a[%d] = %v, want %v", i, a4[i], want)
		}
	}
	b3, b4 := readTensorF32(t, r, c3, "m.safetensors", "b"), readTensorF32(t, r, c4, "m.safetensors", "b")
	if !slices.Equal(b3, b4) {
		t.Error("b changed by a revert that did not touch it")
	}
	if c, _ := objects.ReadCommit(ctx, r.Objects, c4); c == nil || len(c.Parents) != 1 || c.Parents[0] != c3 {
		t.Errorf("the revert commit's parents: %+v, want c3", c)
	} else if v, _ := c.Value("revert"); v != c2.String() {
		t.Errorf("revert metadata %q, want %s", v, c2)
	}
	// reverting HEAD is exact: back to c3's parent bit for bit
	c5, err := Revert(ctx, r, "HEAD", RevertOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f3, _ := r.CommitFiles(ctx, c3)
	f5, _ := r.CommitFiles(ctx, c5)
	if f3["m.safetensors"] != f5["m.safetensors"] {
		t.Error("revert of HEAD is not exactly HEAD's parent")
	}
	got, _ := os.ReadFile(model)
	var buf bytes.Buffer
	objects.WriteFileTo(ctx, r.Objects, f5["m.safetensors"].ID, &buf)
	if !bytes.Equal(got, buf.Bytes()) {
		t.Error("working tree does not hold the revert result")
	}
}

// TestRevertConflict: a file that is not a model, changed by the commit
// and again since, cannot be reverted; nothing is written and HEAD stays.
func TestRevertConflict(t *testing.T) {
	ctx := context.Background()
	r := newTestRepo(t)
	notes := filepath.Join(r.Root, "notes.txt")
	commit := func(text string) objects.ID {
		t.Helper()
		os.WriteFile(notes, []byte(text), 0o644)
		r.Add(ctx, []string{notes}, repo.AddOptions{})
		id, err := r.Commit(ctx, repo.CommitOptions{Message: text})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	commit("one\n")
	c2 := commit("two\n")
	c3 := commit("three\n")
	_, err := Revert(ctx, r, c2.String(), RevertOptions{})
	var ce *repo.ConflictError
	if !errors.As(err, &ce) || !errors.Is(err, repo.ErrConflict) || len(ce.Items) != 1 || ce.Items[0] != "notes.txt" {
		t.Fatalf("revert of a changed text file: %v, want a conflict in notes.txt", err)
	}
	if h, _, _ := r.Head(); h != c3 {
		t.Error("a failed revert moved HEAD")
	}
	if b, _ := os.ReadFile(notes); string(b) != "three\n" {
		t.Errorf("a failed revert wrote notes.txt: %q", b)
	}
	if _, err := Revert(ctx, r, c2.String(), RevertOptions{Mainline: 1}); err == nil {
		t.Error("-m accepted for a commit that is not a merge")
	}
}
