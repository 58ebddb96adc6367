package server

import (
	"context"
	"fmt"
)

// SharedState is what a repository's ref store offers when several
// server processes (replicas on one database) serve the repository at
// once: two counters, so that each process learns what the others did
// that invalidates what it remembers of the repository. A refs.Backend
// that implements it is used so; the ref files of one process do not.
//
//   - collected counts garbage collections that removed objects: a
//     process then forgets which objects it knew complete (a push
//     building on a collected commit is incomplete, not accepted);
//   - one process at a time collects the repository (Collecting);
//   - unpublished counts ref updates that may have left objects
//     unreachable (a deletion, a forced update, a replaced tag or proof):
//     a process then rebuilds its set of published objects (reach.go).
//
// The server reads them before a ref update and before a fetch plan or
// download, and bumps them after the change that calls for it; between
// a change at one process and its bump, another may still act on what it
// remembered (a download of an object just unpublished).
type SharedState interface {
	// Generations returns the two counters.
	Generations(ctx context.Context) (collected, unpublished uint64, err error)
	// Bump adds one to each counter named.
	Bump(ctx context.Context, collected, unpublished bool) error
	// Collecting takes the repository's collection lock for this process
	// unless another holds it (ok false: that one collects, this one
	// skips the repository); release gives it back. A process that dies
	// holding it releases it.
	Collecting(ctx context.Context) (release func(), ok bool, err error)
}

// syncShared brings what rp remembers up to the other processes'
// changes (SharedState); nothing when the repository is not shared.
func (rp *repository) syncShared(ctx context.Context) error {
	sh, ok := rp.refs.(SharedState)
	if !ok {
		return nil
	}
	collected, unpublished, err := sh.Generations(ctx)
	if err != nil {
		return fmt.Errorf("repository %s: %w", rp.name, err)
	}
	rp.mu.Lock()
	defer rp.mu.Unlock()
	if unpublished != rp.seenUnpublished {
		rp.unpublish()
		rp.seenUnpublished = unpublished
	}
	if collected != rp.seenCollected {
		if err := rp.resetComplete(ctx); err != nil {
			return err
		}
		rp.seenCollected = collected
	}
	return nil
}

// bumpShared tells the other processes of a change (SharedState).
func (rp *repository) bumpShared(ctx context.Context, collected, unpublished bool) error {
	sh, ok := rp.refs.(SharedState)
	if !ok {
		return nil
	}
	if err := sh.Bump(ctx, collected, unpublished); err != nil {
		return fmt.Errorf("repository %s: %w", rp.name, err)
	}
	return nil
}
