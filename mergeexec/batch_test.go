package mergeexec

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/repo"
)

// A merge stores its results in one batch (design §13) and publishes them
// before the commit names them: a store opened afresh on the same
// directory, as another process would, reads everything the merge commit
// reaches, and no temporary object file is left.
func TestMergePublishesEveryObject(t *testing.T) {
	ctx := context.Background()
	r := newTestRepo(t)
	_, br := fedRound(t, r, []float32{2, 3, 5}, []int64{100, 300, 600})
	res, err := Merge(ctx, r, br, Options{})
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := objects.OpenDisk(r.Objects.(*objects.DiskStore).Dir())
	if err != nil {
		t.Fatal(err)
	}
	err = objects.Walk(ctx, fresh, []objects.ID{res.Commit}, true, func(objects.ID, objects.Object) error { return nil },
		func(id, from objects.ID, err error) error {
			return fmt.Errorf("object %s (from %s): %w", id.Short(), from.Short(), err)
		})
	if err != nil {
		t.Fatalf("an object of the merge is not published: %v", err)
	}
	if k, err := fresh.RemoveStaleTemp(0); err != nil || k != 0 {
		t.Fatalf("%d temporary files left in the store (%v)", k, err)
	}
}

// Pieces under inlineRead are read one side after the other in the
// feed's goroutine, larger ones side by side: both give the fedavg of
// the sides, element for element.
func TestMergeFedAvgSmallAndLargePieces(t *testing.T) {
	ctx := context.Background()
	r := newTestRepo(t)
	model := filepath.Join(r.Root, "m.safetensors")
	sizes := map[string]int{"bias": 1000, "weight": 3 * inlineRead / 4, "norm": 7}
	writeModel(t, model, 5, sizes)
	if err := r.Add(ctx, []string{r.Root}, repo.AddOptions{}); err != nil {
		t.Fatal(err)
	}
	base, err := r.Commit(ctx, repo.CommitOptions{Message: "base"})
	if err != nil {
		t.Fatal(err)
	}
	factors, samples := []float32{2, 3}, []int64{100, 300}
	var br []string
	for i, f := range factors {
		name := fmt.Sprint("side", i)
		if err := r.Switch(ctx, name, repo.SwitchOptions{Create: true, Start: base.String()}); err != nil {
			t.Fatal(err)
		}
		for n := range sizes {
			setTensor(t, model, n, func(_ int, v float32) float32 { return v * f })
		}
		if _, err := r.Commit(ctx, repo.CommitOptions{Message: name, All: true, Samples: samples[i]}); err != nil {
			t.Fatal(err)
		}
		br = append(br, name)
	}
	if err := r.Switch(ctx, "main", repo.SwitchOptions{}); err != nil {
		t.Fatal(err)
	}
	res, err := Merge(ctx, r, br, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for n, size := range sizes {
		x0 := readTensorF32(t, r, base, "m.safetensors", n)
		got := readTensorF32(t, r, res.Commit, "m.safetensors", n)
		if len(got) != size {
			t.Fatalf("%s: %d values, want %d", n, len(got), size)
		}
		for i := range got {
			want := float32((100*float64(2*x0[i]) + 300*float64(3*x0[i])) / 400)
			if math.Float32bits(got[i]) != math.Float32bits(want) {
				t.Fatalf("%s[%d] = %v, want %v", n, i, got[i], want)
			}
		}
	}
}
