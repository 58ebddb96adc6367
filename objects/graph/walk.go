package graph

import (
	"context"

	"github.com/fed-vcs/fed/objects"
)

// Walk describes a walk of the objects reachable from a set of roots. The
// zero Walk visits every object reachable (commits, their parents, trees,
// models, tensors, blobs and chunks), each once, and fails on an object
// it cannot read.
type Walk struct {
	// Seen holds the ids visited; the walk adds every id it visits and
	// does not visit an id already in it, so a set filled by earlier
	// walks leaves out what they reached. nil: a fresh set.
	Seen map[objects.ID]bool
	// Skip reports ids to neither visit nor walk past (and not add to
	// Seen): what is known to be held already. nil: none.
	Skip func(objects.ID) bool
	// Visit is called once for every id visited (never the zero id),
	// before it is read; chunk reports a chunk of a tensor or blob, which
	// the walk never reads. Returning false passes over id: not read, not
	// walked past. nil: every id is read and walked past.
	Visit func(id objects.ID, chunk bool) (bool, error)
	// Unreadable decides about an object the store cannot give (err is
	// an *objects.NotFoundError or *objects.CorruptError, which name
	// it): returning nil passes over it (it reaches nothing), an error
	// ends the walk with it. nil: the walk ends with err.
	Unreadable func(id objects.ID, err error) error
	// Next returns the ids to walk to from o, read as id. nil: o.Refs()
	// (a commit's tree and parents, a tag's target, and so on).
	Next func(id objects.ID, o objects.Object) []objects.ID
}

// Run walks from roots in s, depth first, with an explicit stack; it
// checks ctx between objects.
func (w Walk) Run(ctx context.Context, s objects.Store, roots ...objects.ID) error {
	seen := w.Seen
	if seen == nil {
		seen = map[objects.ID]bool{}
	}
	chunk := map[objects.ID]bool{}
	stack := append([]objects.ID(nil), roots...)
	for len(stack) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[id] || id.IsZero() || w.Skip != nil && w.Skip(id) {
			continue
		}
		seen[id] = true
		isChunk := chunk[id]
		if w.Visit != nil {
			ok, err := w.Visit(id, isChunk)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
		}
		if isChunk {
			continue
		}
		o, err := objects.Read(ctx, s, id, 0)
		if err != nil {
			if w.Unreadable == nil {
				return err
			}
			if err := w.Unreadable(id, err); err != nil {
				return err
			}
			continue
		}
		switch o.(type) {
		case *objects.Tensor, *objects.Blob:
			for _, c := range o.Refs() {
				chunk[c] = true
			}
		}
		if w.Next != nil {
			stack = append(stack, w.Next(id, o)...)
		} else {
			stack = append(stack, o.Refs()...)
		}
	}
	return nil
}

// Reach adds to set every id reachable from roots in s, not walking past
// ids already in it. Objects the store lacks (weights withheld, a hole
// left behind) reach nothing; any other read failure is an error.
func Reach(ctx context.Context, s objects.Store, set map[objects.ID]bool, roots ...objects.ID) error {
	return Walk{Seen: set, Unreadable: PassAbsent}.Run(ctx, s, roots...)
}

// PassAbsent is a Walk.Unreadable that passes over objects the store
// lacks and fails on the rest (corrupt objects, a failing store).
func PassAbsent(_ objects.ID, err error) error {
	if isNotFound(err) {
		return nil
	}
	return err
}

// NoCommits is a Walk.Next that does not walk from a commit at all: a
// walk of trees (which never hold commits) stops at a commit reached
// through a tag or a root.
func NoCommits(_ objects.ID, o objects.Object) []objects.ID {
	if _, ok := o.(*objects.Commit); ok {
		return nil
	}
	return o.Refs()
}
