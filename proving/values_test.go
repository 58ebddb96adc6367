package proving

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/repo"
	"github.com/fed-vcs/fed/zk"
)

func TestZKRootRecorded(t *testing.T) {
	ctx := context.Background()
	r, cache := zkRepo(t)
	RecordRoots(r)
	os.WriteFile(filepath.Join(r.Root, "notes.txt"), []byte("not a model\n"), 0o644)
	base := map[string][]float32{"a": zkSeq(30, func(i int) float32 { return float32(i) / 9 })}
	c1 := zkCommitModel(t, r, "base", base, repo.CommitOptions{Meta: map[string]string{repo.MetaZKRoot: "forged"}})
	c, err := objects.ReadCommit(ctx, r.Objects, c1)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := c.Value(repo.MetaZKRoot)
	want, err := Root(ctx, r, c1)
	if err != nil {
		t.Fatal(err)
	}
	if !ok || got != want {
		t.Fatalf("%s = %q, ZKRoot = %q", repo.MetaZKRoot, got, want)
	}
	if err := objects.VerifyCommit(c); err != nil {
		t.Fatalf("the root is not under the signature: %v", err)
	}
	if _, err := Prove(ctx, r, c1.String(), ProveOptions{Cache: cache, Setup: true}); err != nil {
		t.Fatal(err)
	}
	rep, err := Verify(ctx, r, c1.String(), VerifyOptions{Cache: cache})
	if err != nil || rep.Commits[0].Commitment != "recomputed" {
		t.Fatalf("verify: %v %+v", err, rep)
	}
	// Without the weights, the signed root binds the proof to the commit.
	files, _ := r.CommitFiles(ctx, c1)
	mo, _ := objects.ReadModel(ctx, r.Objects, files["m.safetensors"].ID)
	for _, s := range mo.Segments {
		if s.IsTensor() {
			r.Objects.Delete(ctx, s.ID)
		}
	}
	rep, err = Verify(ctx, r, c1.String(), VerifyOptions{Cache: cache})
	if err != nil || rep.Commits[0].Commitment != "signed" {
		t.Fatalf("verify without weights: %v %+v", err, rep.Commits[0])
	}
}

func TestZKRootNotRecordedWithoutSettings(t *testing.T) {
	ctx := context.Background()
	r := newTestRepo(t)
	RecordRoots(r)
	id := zkCommitModel(t, r, "plain", map[string][]float32{"a": {1, 2}}, repo.CommitOptions{})
	c, _ := objects.ReadCommit(ctx, r.Objects, id)
	if v, ok := c.Value(repo.MetaZKRoot); ok {
		t.Errorf("%s = %q recorded without zk settings", repo.MetaZKRoot, v)
	}
	// With settings, a model outside the provable range cannot be committed.
	r.Config.Set("zk.linf", "0.1")
	zkWriteF32(t, filepath.Join(r.Root, "m.safetensors"), map[string][]float32{"a": {1, 9000}})
	if err := r.Add(ctx, []string{r.Root}, repo.AddOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := r.Commit(ctx, repo.CommitOptions{Message: "too big"})
	if !errors.Is(err, zk.ErrRange) {
		t.Errorf("commit of 9000: %v, want zk.ErrRange", err)
	}
}
