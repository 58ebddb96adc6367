package server

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/remote"
)

// Private marks (doc/protocol.md §6.5.2): a contributor who sends its
// weights to an aggregator only marks them private there; the server
// lists the marked ids in <repo>.fed/private, one lowercase hex id per
// line, appended and fsynced before the ref update of the request, and
// names them in fetch plans (Plan.Private) so that the aggregator's
// client never pushes them on. A mark is never removed: it only says who
// may not receive the object from a fetcher of this repository.

// privateFile lists the ids marked private in a repository.
const privateFile = "private"

// privateMarks returns the repository's private marks, read on first use.
// The caller holds rp.mu.
func (rp *repository) privateMarks() (map[objects.ID]bool, error) {
	if rp.private == nil {
		m, err := readIDFile(filepath.Join(rp.dir, privateFile))
		if err != nil {
			return nil, fmt.Errorf("read private marks: %w", err)
		}
		rp.private = m
	}
	return rp.private, nil
}

// checkPrivateMarks refuses marks of objects that are not tensor objects
// the server holds (bad-request).
func checkPrivateMarks(ctx context.Context, st *objects.DiskStore, ids []objects.ID) *remote.Problem {
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

// recordPrivate appends the ids not yet marked to the private file. The
// caller holds rp.mu.
func (rp *repository) recordPrivate(ids []objects.ID) error {
	marks, err := rp.privateMarks()
	if err != nil {
		return err
	}
	return appendIDFile(filepath.Join(rp.dir, privateFile), marks, ids)
}

// markedIn lists the objects of plan marked private.
func (rp *repository) markedIn(plan *remote.Plan) ([]objects.ID, error) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	marks, err := rp.privateMarks()
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
