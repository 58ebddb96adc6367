package repo

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/fed-vcs/fed/objects"
)

// publishedFrom checks that every object reachable from roots is at its
// final name: a store opened afresh on the same directory, as another
// process would, reads each of them (pieces included), and no temporary
// file is left in the store.
func publishedFrom(t *testing.T, dir string, roots []objects.ID) int {
	t.Helper()
	ctx := context.Background()
	fresh, err := objects.OpenDisk(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	err = objects.Walk(ctx, fresh, roots, true, func(objects.ID, objects.Object) error { n++; return nil },
		func(id, from objects.ID, err error) error {
			return fmt.Errorf("object %s (from %s): %w", id.Short(), from.Short(), err)
		})
	if err != nil {
		t.Fatalf("an object is not published: %v", err)
	}
	if k, err := fresh.RemoveStaleTemp(0); err != nil || k != 0 {
		t.Fatalf("%d temporary files left in the store (%v)", k, err)
	}
	return n
}

// Add stores a model's objects in one batch (design §13) and publishes
// them all before it writes the index.
func TestAddPublishesEveryObject(t *testing.T) {
	ctx := context.Background()
	r := newTestRepo(t)
	sizes := map[string]int{"big": 1_200_000} // two pieces
	for i := range 300 {
		sizes[fmt.Sprintf("layers.%03d.bias", i)] = 64 + i
	}
	writeModel(t, filepath.Join(r.Root, "model.safetensors"), 3, sizes)
	if err := r.Add(ctx, []string{r.Root}, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	idx, err := r.ReadIndex()
	if err != nil {
		t.Fatal(err)
	}
	var roots []objects.ID
	for _, e := range idx.Entries {
		roots = append(roots, e.ID)
	}
	// the model, its header (a blob of one chunk), 301 tensors, 302 pieces
	if n := publishedFrom(t, r.Objects.(*objects.DiskStore).Dir(), roots); n != 1+2+301+302 {
		t.Fatalf("walked %d objects, want %d", n, 1+2+301+302)
	}
}
