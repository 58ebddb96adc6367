package transfer

import (
	"context"
	"fmt"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/objects/graph"
	"github.com/fed-vcs/fed/repo"
)

// treeClosure adds to set every object reachable from tree (metadata
// objects read, chunks listed from their tensors and blobs). Objects it
// cannot read are skipped: the set is only used to leave things out.
func treeClosure(ctx context.Context, r *repo.Repo, tree objects.ID, set map[objects.ID]bool) {
	skip := func(objects.ID, error) error { return nil }
	_ = graph.Walk{Seen: set, Unreadable: skip}.Run(ctx, r.Objects, tree)
}

// pushSet lists the objects reachable from tip that the server may lack:
// commits down to those in known (which the server holds with their
// closures) or the shallow boundary, and the objects of their trees that
// the trees of the known commits do not hold. Tensor segments of models
// for which withhold (when not nil) reports true are listed in withheld
// instead, and not walked. commits lists the commits of ids.
func pushSet(ctx context.Context, r *repo.Repo, tip objects.ID, known map[objects.ID]bool, shallow map[objects.ID]bool, withhold func(objects.ID) bool) (ids, withheld, commits []objects.ID, err error) {
	excluded := map[objects.ID]bool{}
	for id := range known {
		if c, err := objects.ReadCommit(ctx, r.Objects, id); err == nil {
			treeClosure(ctx, r, c.Tree, excluded)
		}
	}
	var out []objects.ID
	seen := map[objects.ID]bool{}
	w := graph.Walk{
		Seen:       seen,
		Skip:       func(id objects.ID) bool { return excluded[id] },
		Unreadable: func(_ objects.ID, err error) error { return fmt.Errorf("push: %w", err) },
		Visit: func(id objects.ID, _ bool) (bool, error) {
			out = append(out, id)
			return true, nil
		},
		Next: func(_ objects.ID, o objects.Object) []objects.ID {
			switch o := o.(type) {
			case *objects.Commit:
				return []objects.ID{o.Tree}
			case *objects.Model:
				var next []objects.ID
				for _, s := range o.Segments {
					if s.IsTensor() && withhold != nil && withhold(s.ID) {
						if !seen[s.ID] && !excluded[s.ID] {
							seen[s.ID] = true
							withheld = append(withheld, s.ID)
						}
						continue
					}
					next = append(next, s.ID)
				}
				return next
			}
			return o.Refs()
		},
	}
	next := []objects.ID{tip}
	for len(next) > 0 {
		id := next[len(next)-1]
		next = next[:len(next)-1]
		if seen[id] || known[id] || id.IsZero() {
			continue
		}
		o, err := objects.Read(ctx, r.Objects, id, 0)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("push: %w", err)
		}
		if err := w.Run(ctx, r.Objects, id); err != nil {
			return nil, nil, nil, err
		}
		switch o := o.(type) {
		case *objects.Commit:
			commits = append(commits, id)
			next = append(next, parentsOf(id, o, shallow)...)
		case *objects.Tag:
			next = append(next, o.Target)
		}
	}
	return out, withheld, commits, nil
}

// parentsOf returns c's parents, none for a shallow commit.
func parentsOf(id objects.ID, c *objects.Commit, shallow map[objects.ID]bool) []objects.ID {
	if shallow[id] {
		return nil
	}
	return c.Parents
}
