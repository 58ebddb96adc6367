package server

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/fed-vcs/fed/objects"
)

// Withheld weights (doc/protocol.md §6.5, "Withheld weights"): a push may
// keep the tensor objects of its commits' models off the server. The
// server accepts their absence only under a model of a commit that
// records its zk root and has a proof, and lists every such id in
// <repo>.fed/withheld, one lowercase hex id per line, appended and fsynced
// before the ref update that makes them reachable. An id in the file only
// says "may be absent on purpose": when its object is uploaded later, the
// object is served like any other.

// withheldFile lists the withheld ids of a repository.
const withheldFile = "withheld"

// loadWithheld reads a repository's withheld list; a line cut by a crash
// is ignored (its push was not applied).
func loadWithheld(dir string) (map[objects.ID]bool, error) {
	out, err := readIDFile(filepath.Join(dir, withheldFile))
	if err != nil {
		return nil, fmt.Errorf("read withheld list: %w", err)
	}
	return out, nil
}

// isWithheld reports whether id was withheld by a push.
func (rp *repository) isWithheld(id objects.ID) bool {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	return rp.withheld[id]
}

// absentOnPurpose reports whether id was withheld and is not stored.
func (rp *repository) absentOnPurpose(ctx context.Context, id objects.ID) bool {
	if !rp.isWithheld(id) {
		return false
	}
	ok, err := rp.store.Has(ctx, id)
	return err == nil && !ok
}

// withheldSnapshot copies the withheld set.
func (rp *repository) withheldSnapshot() map[objects.ID]bool {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	out := make(map[objects.ID]bool, len(rp.withheld))
	for id := range rp.withheld {
		out[id] = true
	}
	return out
}

// recordWithheld appends the ids not yet listed to the withheld file and
// set. The caller holds rp.mu.
func (rp *repository) recordWithheld(ids []objects.ID) error {
	return appendIDFile(filepath.Join(rp.dir, withheldFile), rp.withheld, ids)
}

// weightsAbsent returns the commits among commits whose trees reach a
// tensor that is withheld (listed, or in declared) and not stored.
func (rp *repository) weightsAbsent(ctx context.Context, commits []objects.ID, declared map[objects.ID]bool) ([]objects.ID, error) {
	withheld := rp.withheldSnapshot()
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
	rp, err := s.open(name, nil)
	if err != nil {
		return nil, err
	}
	all, err := rp.refs.List("refs/")
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
	withheld := rp.withheldSnapshot()
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
