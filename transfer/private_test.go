package transfer

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/proving"
	"github.com/fed-vcs/fed/refs"
	"github.com/fed-vcs/fed/repo"
)

// tensorOf returns the id of tensor name of the model of commit id.
func tensorOf(t *testing.T, r *repo.Repo, id objects.ID, name string) objects.ID {
	t.Helper()
	ctx := context.Background()
	files, err := r.CommitFiles(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	m, err := objects.ReadModel(ctx, r.Objects, files["model.safetensors"].ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range m.Segments {
		if s.Name == name {
			return s.ID
		}
	}
	t.Fatalf("no tensor %s", name)
	return objects.ZeroID
}

func TestPrivatePush(t *testing.T) {
	ctx := context.Background()
	pubURL, pubRoot := startServer(t)
	pubURL += "/lab/m"
	mirrorURL, _ := startServer(t)
	a := newTestRepo(t)
	if err := a.Config.Set("zk.chunk", "16"); err != nil {
		t.Fatal(err)
	}
	proving.RecordRoots(a)
	commitSeeded(t, a, map[string][2]int{"w": {64, 1}, "b": {8, 2}}, "global")
	if err := a.RemoteAdd("origin", pubURL); err != nil {
		t.Fatal(err)
	}
	if _, err := Push(ctx, a, PushOptions{}); err != nil {
		t.Fatal(err)
	}
	c2 := commitSeeded(t, a, map[string][2]int{"w": {64, 3}, "b": {8, 2}}, "private update")
	w2 := tensorOf(t, a, c2, "w")
	serverStore, err := objects.OpenDisk(filepath.Join(pubRoot, "lab", "m.fed", "objects"))
	if err != nil {
		t.Fatal(err)
	}
	count := func() int {
		n := 0
		serverStore.List(ctx, func(objects.ID) error { n++; return nil })
		return n
	}
	before := count()
	// Without a proof nothing leaves the machine.
	if _, err := Push(ctx, a, PushOptions{PrivateWeights: true}); !errors.Is(err, ErrProofNeeded) {
		t.Fatalf("private push without proof: %v", err)
	}
	if n := count(); n != before {
		t.Fatalf("a refused private push uploaded %d objects", n-before)
	}
	// A proof attached (the server does not verify it here).
	pid, err := objects.Write(ctx, a.Objects, &objects.Proof{Commit: c2, System: "test", Body: []byte("proof")})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Refs.Update(repo.ProofRef(c2), objects.ZeroID, pid, refs.Entry{Message: "test proof"}); err != nil {
		t.Fatal(err)
	}
	res, err := Push(ctx, a, PushOptions{PrivateWeights: true})
	if err != nil {
		t.Fatalf("private push: %v", err)
	}
	if !res.Private || res.Withheld != 1 || res.New != c2 {
		t.Fatalf("private push result %+v, want 1 tensor withheld", res)
	}
	if ok, _ := serverStore.Has(ctx, w2); ok {
		t.Fatal("the server holds the withheld tensor")
	}
	if ok, _ := serverStore.Has(ctx, pid); !ok {
		t.Fatal("the server lacks the proof")
	}

	// A clone gets the commit without its weights and knows why.
	b, err := Clone(ctx, CloneOptions{URL: pubURL, Dir: filepath.Join(t.TempDir(), "b"), Key: keyN(2)})
	if err != nil {
		t.Fatalf("clone of a repository with withheld weights: %v", err)
	}
	if h, _, _ := b.Head(); h != c2 {
		t.Fatalf("clone's HEAD %s, want %s", h.Short(), c2.Short())
	}
	if ok, err := b.WeightsWithheld(ctx, c2); err != nil || !ok {
		t.Fatalf("WeightsWithheld(tip) = %v, %v", ok, err)
	}
	if _, err := os.Stat(filepath.Join(b.Root, "model.safetensors")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the clone checked out a model whose weights it lacks: %v", err)
	}
	w, err := b.WithheldAbsent(ctx)
	if err != nil || len(w) != 1 || w[0] != w2 {
		t.Fatalf("clone's withheld list %v %v, want [%s]", w, err, w2.Short())
	}
	if _, err := proving.Values(ctx, b, c2); !errors.Is(err, objects.ErrNotFound) {
		t.Fatalf("weights of the private commit on the clone: %v", err)
	}
	rep, err := b.Fsck(ctx)
	if err != nil || len(rep.Problems) != 0 {
		t.Fatalf("fsck of the clone: %v %v", err, rep.Problems)
	}
	if _, err := b.GC(ctx, 0, true); err != nil {
		t.Fatalf("gc of the clone: %v", err)
	}
	// Pushing onward withholds what the clone never had.
	if err := b.RemoteAdd("mirror", mirrorURL+"/copy/m"); err != nil {
		t.Fatal(err)
	}
	if err := b.Refs.Update(repo.ProofRef(c2), objects.ZeroID, pid, refs.Entry{Message: "test"}); err != nil && !errors.Is(err, refs.ErrStale) {
		t.Fatal(err)
	}
	mres, err := Push(ctx, b, PushOptions{Remote: "mirror"})
	if err != nil {
		t.Fatalf("push from a clone without the weights: %v", err)
	}
	if !mres.Private || mres.Withheld != 1 {
		t.Fatalf("onward push %+v, want the tensor withheld", mres)
	}

	// remote.<name>.private-weights makes a remote private.
	if err := a.Config.Set(PrivateWeightsKey("origin"), "true"); err != nil {
		t.Fatal(err)
	}
	commitSeeded(t, a, map[string][2]int{"w": {64, 4}, "b": {8, 2}}, "another update")
	if _, err := Push(ctx, a, PushOptions{}); !errors.Is(err, ErrProofNeeded) {
		t.Fatalf("push to a private-weights remote without proof: %v", err)
	}
}
