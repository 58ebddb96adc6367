package mergeexec

import (
	"context"
	"fmt"
	"testing"

	"github.com/fed-vcs/fed/objects"
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
