package server

import (
	"context"
	"strings"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/objects/graph"
	"github.com/fed-vcs/fed/refs"
	"github.com/fed-vcs/fed/remote"
)

// Downloads and fetch plans serve only published objects (doc/protocol.md
// §6.7): those reachable from the repository's branches and tags, and
// the proof refs of commits among them with what they reach. An upload
// alone publishes nothing: objects of a refused or interrupted push, or
// uploaded and never referenced, are not served, and neither are those
// of a deleted or rewound ref, nor the commit of a proof ref that no
// branch or tag reaches (its branch's push was refused).
//
// The set of published ids is kept per repository and grows from new ref
// values as they appear (a push, or a proof ref the background prover
// attaches); a ref update that can make objects unreachable (a deletion,
// a forced update, a replaced tag or proof) bumps reachGen, after which
// the set is rebuilt from the refs.

// refreshPublished brings the published set up to the refs now; then
// isPublished answers for them.
func (rp *repository) refreshPublished(ctx context.Context) error {
	if _, err := rp.syncShared(ctx); err != nil {
		return err
	}
	rp.reachMu.Lock()
	defer rp.reachMu.Unlock()
	rp.mu.Lock()
	gen := rp.reachGen
	rp.mu.Unlock()
	all, err := rp.refs.List(ctx, "refs/")
	if err != nil {
		return err
	}
	if rp.reach == nil || rp.reachSetGen != gen {
		rp.reach = map[objects.ID]bool{}
		rp.reachSetGen = gen
	}
	var roots []objects.ID
	var proofs []refs.Ref
	for _, r := range all {
		switch {
		case strings.HasPrefix(string(r.Name), remote.ProofsPrefix):
			proofs = append(proofs, r)
		case !rp.reach[r.ID]:
			roots = append(roots, r.ID)
		}
	}
	err = rp.mark(ctx, roots, rp.reach)
	for _, r := range proofs {
		if err != nil {
			break
		}
		// a proof publishes itself and its keys once its commit is
		// published; a proof ref alone publishes no commit
		commit, perr := objects.ParseID(strings.TrimPrefix(string(r.Name), remote.ProofsPrefix))
		if perr == nil && rp.reach[commit] && !rp.reach[r.ID] {
			err = rp.mark(ctx, []objects.ID{r.ID}, rp.reach)
		}
	}
	if err != nil {
		// a half-marked set is a subset of the truth; start again next time
		rp.reach = nil
		return err
	}
	return nil
}

// isPublished reports whether id was reachable from the refs at the last
// refreshPublished (or later).
func (rp *repository) isPublished(id objects.ID) bool {
	rp.reachMu.Lock()
	defer rp.reachMu.Unlock()
	return rp.reach[id]
}

// mark adds to set every id reachable from roots, not walking past ids
// already in it. Chunks are listed from their tensors and blobs, not
// read; absent objects (withheld weights) reach nothing.
func (rp *repository) mark(ctx context.Context, roots []objects.ID, set map[objects.ID]bool) error {
	return graph.Reach(ctx, rp.store, set, roots...)
}

// unpublish notes a ref update that may have made objects unreachable.
// The caller holds rp.mu.
func (rp *repository) unpublish() { rp.reachGen++ }
