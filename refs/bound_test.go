package refs_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/refs"
)

// Bound reads and moves a Backend's refs as a Store would, with its
// context, and never moves HEAD.
func TestBound(t *testing.T) {
	s, err := refs.Init(filepath.Join(t.TempDir(), "repo.fed"), refs.Branch("main"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	b := refs.Bind(ctx, s.Backend())
	if _, err := b.Read(refs.HeadName); !errors.Is(err, refs.ErrNotFound) {
		t.Fatalf("Read(HEAD) on an unborn branch: %v, want ErrNotFound", err)
	}
	a, c := objects.Sum([]byte("a")), objects.Sum([]byte("c"))
	if err := b.Update(refs.Branch("main"), objects.ZeroID, a, refs.Entry{Message: "one"}); err != nil {
		t.Fatal(err)
	}
	if id, err := b.Read(refs.HeadName); err != nil || id != a {
		t.Fatalf("Read(HEAD) = %s, %v; want %s", id, err, a)
	}
	if h, err := b.Head(); err != nil || h.Symbolic != refs.Branch("main") || h.ID != a {
		t.Fatalf("Head() = %+v, %v", h, err)
	}
	var stale *refs.StaleError
	if err := b.Update(refs.Branch("main"), c, c, refs.Entry{}); !errors.As(err, &stale) || stale.Got != a {
		t.Fatalf("Update from a wrong old value: %v, want a StaleError finding %s", err, a)
	}
	if err := b.Transaction([]refs.Update{{Name: "refs/tags/v1", New: c}}, refs.Entry{Message: "tag"}); err != nil {
		t.Fatal(err)
	}
	list, err := b.List("refs/")
	if err != nil || len(list) != 2 || list[0].Name != refs.Branch("main") || list[1].ID != c {
		t.Fatalf("List = %v, %v", list, err)
	}
	if log, err := b.Reflog(refs.Branch("main")); err != nil || len(log) != 1 || log[0].Message != "one" {
		t.Fatalf("Reflog = %v, %v", log, err)
	}
	for what, err := range map[string]error{
		"UpdateHead":          b.UpdateHead(a, c, refs.Entry{}),
		"SetHead":             b.SetHead(refs.Head{Symbolic: refs.Branch("x")}, refs.Entry{}),
		"Transaction of HEAD": b.Transaction([]refs.Update{{Name: refs.HeadName, Old: a, New: c}}, refs.Entry{}),
	} {
		if !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("%s: %v, want ErrUnsupported", what, err)
		}
	}
	if id, _ := s.Read(refs.Branch("main")); id != a {
		t.Fatalf("main moved to %s by a refused call", id)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := refs.Bind(cctx, s.Backend()).Read(refs.Branch("main")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Read with a cancelled context: %v", err)
	}
}
