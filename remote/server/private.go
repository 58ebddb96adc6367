package server

import (
	"context"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/remote"
	"github.com/fed-vcs/fed/repometa"
)

// Private marks (doc/protocol.md §6.5.2): a contributor who sends its
// weights to an aggregator only marks them private there; the server
// lists the marked ids in <repo>.fed/private, one lowercase hex id per
// line, appended and fsynced before the ref update of the request, and
// names them in fetch plans (Plan.Private) so that the aggregator's
// client never pushes them on. A mark is never removed: it only says who
// may not receive the object from a fetcher of this repository.

// checkPrivateMarks refuses marks of objects that are not tensor objects
// the server holds (bad-request).
func checkPrivateMarks(ctx context.Context, st ObjectStore, ids []objects.ID) *remote.Problem {
	for _, id := range ids {
		k, err := kindOf(ctx, st, id)
		if err != nil || k != objects.KindTensor {
			p := remote.NewProblem(422, remote.CodeBadObject, "private: %s is not a tensor object of this repository (only weights the request's refs reach are marked private)", id.Short())
			p.Missing = []objects.ID{id}
			return p
		}
	}
	return nil
}

// recordPrivate adds ids to the private marks. The caller holds rp.mu.
func (rp *repository) recordPrivate(ctx context.Context, ids []objects.ID) error {
	return rp.meta.AddIDs(ctx, repometa.Private, ids)
}

// markedIn lists the objects of plan marked private.
func (rp *repository) markedIn(ctx context.Context, plan *remote.Plan) ([]objects.ID, error) {
	marks, err := rp.meta.IDs(ctx, repometa.Private)
	if err != nil || len(marks) == 0 {
		return nil, err
	}
	var out []objects.ID
	for _, o := range plan.Objects {
		if marks[o.ID] {
			out = append(out, o.ID)
		}
	}
	return out, nil
}
