package graph

import (
	"context"
	"errors"

	"github.com/fed-vcs/fed/objects"
)

// Errors a History visit function may return to steer the walk, as
// fs.WalkDir's SkipDir and SkipAll do (and named like them: they are
// answers, not failures); Run itself returns nil for them.
var (
	// SkipParents leaves the parents of the commit visited unwalked
	// (unless another path reaches them).
	SkipParents = errors.New("graph: skip parents") //nolint:staticcheck // ST1012: named as fs.SkipDir
	// SkipAll ends the walk.
	SkipAll = errors.New("graph: skip all") //nolint:staticcheck // ST1012: named as fs.SkipAll
)

// History describes a walk of commits through their parents. The zero
// History walks every parent and fails on a commit it cannot read.
type History struct {
	// Parents returns the parents to walk to from commit id: none at a
	// shallow repository's boundary, the first in a first-parent walk.
	// nil: c.Parents.
	Parents func(id objects.ID, c *objects.Commit) []objects.ID
	// Stop reports ids to neither read nor visit nor walk past (checked
	// once per id, before anything else). nil: none.
	Stop func(objects.ID) bool
	// SkipAbsent passes over commits the store lacks (beyond a shallow
	// clone's boundary); otherwise an absent commit is an error naming it.
	SkipAbsent bool
}

// Run visits the commits reachable from starts (starts included), each
// once, depth first with an explicit stack, calling visit with each
// commit read. visit may return SkipParents or SkipAll; any other error
// ends the walk with it. Zero ids are passed over.
func (h History) Run(ctx context.Context, s objects.Store, starts []objects.ID, visit func(id objects.ID, c *objects.Commit) error) error {
	seen := map[objects.ID]bool{}
	stack := append([]objects.ID(nil), starts...)
	for len(stack) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[id] || id.IsZero() {
			continue
		}
		seen[id] = true
		if h.Stop != nil && h.Stop(id) {
			continue
		}
		c, err := objects.ReadCommit(ctx, s, id)
		if h.SkipAbsent && isNotFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		switch err := visit(id, c); err {
		case nil:
		case SkipParents:
			continue
		case SkipAll:
			return nil
		default:
			return err
		}
		if h.Parents != nil {
			stack = append(stack, h.Parents(id, c)...)
		} else {
			stack = append(stack, c.Parents...)
		}
	}
	return nil
}

// Reachable returns the commits reachable from starts (starts included,
// those Stop reports left out).
func (h History) Reachable(ctx context.Context, s objects.Store, starts ...objects.ID) (map[objects.ID]bool, error) {
	set := map[objects.ID]bool{}
	err := h.Run(ctx, s, starts, func(id objects.ID, _ *objects.Commit) error {
		set[id] = true
		return nil
	})
	if err != nil {
		return nil, err
	}
	return set, nil
}

// IsAncestor reports whether a is b or reachable from b through parents.
// It stops as soon as it meets a, and reads no commit beyond it.
func (h History) IsAncestor(ctx context.Context, s objects.Store, a, b objects.ID) (bool, error) {
	if a == b {
		return true, nil
	}
	found := false
	stop := h.Stop
	h.Stop = func(id objects.ID) bool {
		if found || id == a {
			found = true
			return true
		}
		return stop != nil && stop(id)
	}
	err := h.Run(ctx, s, []objects.ID{b}, func(objects.ID, *objects.Commit) error { return nil })
	return found, err
}

// Boundary returns a Parents function for History that gives no parents
// for the commits in shallow (a shallow repository's boundary, whose
// parents it lacks) and, with firstParent, only the first parent of a
// merge.
func Boundary(shallow map[objects.ID]bool, firstParent bool) func(objects.ID, *objects.Commit) []objects.ID {
	return func(id objects.ID, c *objects.Commit) []objects.ID {
		if shallow[id] {
			return nil
		}
		if firstParent && len(c.Parents) > 1 {
			return c.Parents[:1]
		}
		return c.Parents
	}
}

func isNotFound(err error) bool { return errors.Is(err, objects.ErrNotFound) }
