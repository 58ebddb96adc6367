package server

import (
	"context"
	"errors"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/repometa"
)

// Withheld weights (doc/protocol.md §6.5, "Withheld weights"): a push may
// keep the tensor objects of its commits' models off the server. The
// server accepts their absence only under a model of a commit that
// records its zk root and has a proof, and lists every such id in
// <repo>.fed/withheld, one lowercase hex id per line, appended and fsynced
// before the ref update that makes them reachable. An id in the file only
// says "may be absent on purpose": when its object is uploaded later, the
// object is served like any other.

// withheldSet returns the ids withheld by pushes (the caller must not
// modify the set).
func (rp *repository) withheldSet(ctx context.Context) (map[objects.ID]bool, error) {
	return rp.meta.IDs(ctx, repometa.Withheld)
}

// absentOnPurpose returns whether an id was withheld and is not stored,
// for ids of the withheld set.
func (rp *repository) absentOnPurpose(ctx context.Context, withheld map[objects.ID]bool) func(objects.ID) bool {
	return func(id objects.ID) bool {
		if !withheld[id] {
			return false
		}
		ok, err := rp.store.Has(ctx, id)
		return err == nil && !ok
	}
}

// recordWithheld adds ids to the withheld list. The caller holds rp.mu.
func (rp *repository) recordWithheld(ctx context.Context, ids []objects.ID) error {
	return rp.meta.AddIDs(ctx, repometa.Withheld, ids)
}

// weightsAbsent returns the commits among commits whose trees reach a
// tensor that is withheld (listed, or in declared) and not stored.
func (rp *repository) weightsAbsent(ctx context.Context, commits []objects.ID, declared map[objects.ID]bool) ([]objects.ID, error) {
	withheld, err := rp.withheldSet(ctx)
	if err != nil {
		return nil, err
	}
	if len(withheld) == 0 && len(declared) == 0 {
		return nil, nil
	}
	return objects.CommitsReachingTensor(ctx, rp.store, commits, func(t objects.ID) (bool, error) {
		if !withheld[t] && !declared[t] {
			return false, nil
		}
		ok, err := rp.store.Has(ctx, t)
		return !ok, err
	})
}

// FsckResult is the outcome of checking one hosted repository.
type FsckResult struct {
	Report *objects.FsckReport
	// Withheld lists reachable objects absent because their pushers
	// withheld them: not problems.
	Withheld []objects.ID
}

// Fsck checks every object of repository name and that everything its
// refs reach is present, except objects withheld by private pushes, which
// it lists apart.
func (s *Server) Fsck(ctx context.Context, name string) (*FsckResult, error) {
	rp, err := s.open(ctx, name, nil)
	if err != nil {
		return nil, err
	}
	all, err := rp.refs.List(ctx, "refs/")
	if err != nil {
		return nil, err
	}
	roots := make([]objects.ID, 0, len(all))
	for _, r := range all {
		roots = append(roots, r.ID)
	}
	rep, err := objects.Fsck(ctx, rp.store, roots, objects.FsckOptions{})
	if err != nil {
		return nil, err
	}
	withheld, err := rp.withheldSet(ctx)
	if err != nil {
		return nil, err
	}
	res := &FsckResult{Report: rep}
	kept := rep.Problems[:0]
	for _, p := range rep.Problems {
		if withheld[p.ID] && errors.Is(p.Err, objects.ErrNotFound) {
			res.Withheld = append(res.Withheld, p.ID)
			continue
		}
		kept = append(kept, p)
	}
	rep.Problems = kept
	return res, nil
}
