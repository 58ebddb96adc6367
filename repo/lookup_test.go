package repo

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/fed-vcs/fed/refs"
)

func TestLookups(t *testing.T) {
	ctx := context.Background()
	r := newTestRepo(t)
	p := filepath.Join(r.Root, "f.txt")
	os.WriteFile(p, []byte("one\n"), 0o644)
	r.Add(ctx, []string{p}, AddOptions{})
	c1, err := r.Commit(ctx, CommitOptions{Message: "one"})
	if err != nil {
		t.Fatal(err)
	}
	if id, err := r.ReadRef(refs.Branch("main")); err != nil || id != c1 {
		t.Errorf("ReadRef(main) = %s, %v; want %s", id, err, c1)
	}
	if _, err := r.ReadRef(refs.Branch("nope")); !errors.Is(err, refs.ErrNotFound) {
		t.Errorf("ReadRef of a missing branch: %v, want ErrNotFound", err)
	}
	tid, err := r.CreateTag(ctx, "v1", "", TagOptions{Message: "release"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.CreateTag(ctx, "light", "", TagOptions{}); err != nil {
		t.Fatal(err)
	}
	list, err := r.ListRefs(refs.TagsPrefix)
	if err != nil || len(list) != 2 || list[0].Name != refs.TagsPrefix+"light" || list[1].Name != refs.TagsPrefix+"v1" {
		t.Fatalf("ListRefs(tags) = %v, %v; want light, v1 in that order", list, err)
	}
	tag, err := r.ReadTag(ctx, list[1].ID)
	if err != nil || tag.Target != c1 || list[1].ID != tid {
		t.Errorf("ReadTag(v1) = %+v, %v; want a tag of %s", tag, err, c1)
	}
	if _, err := r.ReadTag(ctx, list[0].ID); err == nil {
		t.Error("ReadTag of a plain tag's commit gave no error")
	}
	c, err := r.ReadCommit(ctx, c1)
	if err != nil || c.Message != "one" {
		t.Errorf("ReadCommit = %+v, %v", c, err)
	}
	if _, err := r.ReadCommit(ctx, tid); err == nil {
		t.Error("ReadCommit of a tag object gave no error")
	}
}
