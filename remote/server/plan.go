package server

import (
	"context"
	"fmt"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/objects/graph"
	"github.com/fed-vcs/fed/remote"
)

// makePlan lists the objects reachable from req.Want that a client
// holding the commits req.Have (each with its whole closure, except
// behind its own shallow boundary) lacks: commits up to a have or the
// depth limit, and of their trees every object not also reachable from
// the trees of the haves. Only metadata objects are read; chunks are
// listed from their tensors and blobs. Objects for which absent reports
// true (withheld by their pushers, not stored) are listed in
// plan.Withheld instead, and not walked.
func makePlan(ctx context.Context, st ObjectStore, req *remote.PlanRequest, absent func(objects.ID) bool) (*remote.Plan, error) {
	have := make(map[objects.ID]bool, len(req.Have))
	for _, id := range req.Have {
		have[id] = true
	}
	// Everything in the trees of the haves the client already holds.
	excluded := map[objects.ID]bool{}
	w := &treeWalker{st: st, absent: absent}
	for _, id := range req.Have {
		c, err := objects.ReadCommit(ctx, st, id)
		if err != nil {
			continue // not a commit we know: it only stops the walk
		}
		if err := w.walk(ctx, c.Tree, excluded, nil); err != nil {
			return nil, err
		}
	}
	// Commits the client holds without (all of) their ancestry: left out
	// with their trees, but the walk goes on through their parents.
	for _, id := range req.Shallow {
		c, err := objects.ReadCommit(ctx, st, id)
		if err != nil {
			continue
		}
		excluded[id] = true
		if err := w.walk(ctx, c.Tree, excluded, nil); err != nil {
			return nil, err
		}
	}
	plan := &remote.Plan{Objects: []remote.PlannedObject{}}
	withheld := map[objects.ID]bool{}
	w.withheld = func(id objects.ID) {
		if !withheld[id] && !excluded[id] {
			withheld[id] = true
			plan.Withheld = append(plan.Withheld, id)
		}
	}
	listed := map[objects.ID]bool{}
	add := func(id objects.ID) error {
		if listed[id] || excluded[id] {
			return nil
		}
		listed[id] = true
		plan.Objects = append(plan.Objects, remote.PlannedObject{ID: id}) // sized below
		return nil
	}
	type item struct {
		id    objects.ID
		depth int // commits from the want, 1 for the want itself
	}
	queue := make([]item, 0, len(req.Want))
	for _, w := range req.Want {
		queue = append(queue, item{w, 1})
	}
	seen := map[objects.ID]bool{}
	for len(queue) > 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		it := queue[0]
		queue = queue[1:]
		if seen[it.id] || have[it.id] || it.id.IsZero() {
			continue
		}
		seen[it.id] = true
		o, err := objects.Read(ctx, st, it.id, 0)
		if err != nil {
			return nil, fmt.Errorf("plan: %w", err)
		}
		if err := add(it.id); err != nil {
			return nil, err
		}
		switch o := o.(type) {
		case *objects.Tag:
			queue = append(queue, item{o.Target, it.depth})
		case *objects.Commit:
			if err := w.walk(ctx, o.Tree, excluded, add); err != nil {
				return nil, err
			}
			if req.Depth > 0 && it.depth >= req.Depth {
				if len(o.Parents) > 0 {
					plan.Shallow = append(plan.Shallow, it.id)
				}
				continue
			}
			for _, p := range o.Parents {
				queue = append(queue, item{p, it.depth + 1})
			}
		default:
			if err := w.walk(ctx, it.id, excluded, add); err != nil {
				return nil, err
			}
		}
	}
	// The sizes and delta bases, idWorkers at a time (a remote store
	// answers each after a round trip).
	err := parallel(ctx, len(plan.Objects), func(ctx context.Context, i int) error {
		po := &plan.Objects[i]
		info, err := st.StoredInfo(ctx, po.ID)
		if err != nil {
			return err
		}
		po.Size = info.Size
		if !info.Base.IsZero() {
			b := info.Base
			po.Base = &b
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return plan, nil
}

// treeWalker walks trees for a plan.
type treeWalker struct {
	st objects.Store
	// absent reports objects withheld and not stored (nil: none); the
	// walk gives them to withheld (when set) and does not read them.
	absent   func(objects.ID) bool
	withheld func(objects.ID)
}

// walk visits the objects reachable from a tree (or any non-commit
// object), skipping those in skip; with add nil it adds them to skip
// instead of calling add.
func (w *treeWalker) walk(ctx context.Context, root objects.ID, skip map[objects.ID]bool, add func(objects.ID) error) error {
	gw := graph.Walk{
		Next:       graph.NoCommits, // trees do not hold commits
		Unreadable: func(_ objects.ID, err error) error { return fmt.Errorf("plan: %w", err) },
		Visit: func(id objects.ID, _ bool) (bool, error) {
			if w.absent != nil && w.absent(id) {
				if add != nil && w.withheld != nil {
					w.withheld(id)
				}
				return false, nil
			}
			if add != nil {
				return true, add(id)
			}
			return true, nil
		},
	}
	if add == nil {
		gw.Seen = skip // what the walk visits is skipped from then on
	} else {
		gw.Skip = func(id objects.ID) bool { return skip[id] }
	}
	return gw.Run(ctx, w.st, root)
}
