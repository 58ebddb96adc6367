package server

import (
	"context"
	"fmt"
	"time"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/refs"
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
// download, and bumps them after the change that calls for it (collected
// also when a collection begins). A push's updates apply only while
// collected is still the count the push was checked at (ApplyCollected).
// Between an unpublishing update at one process and its bump, another may
// still serve an object just unpublished.
type SharedState interface {
	// Generations returns the two counters.
	Generations(ctx context.Context) (collected, unpublished uint64, err error)
	// Bump adds one to each counter named.
	Bump(ctx context.Context, collected, unpublished bool) error
	// ApplyCollected is the ref store's Apply, done only while the
	// collected counter still is collected (checked in the same
	// transaction): a push checked against what this process knew complete
	// at that count. Otherwise it changes nothing and returns an error
	// wrapping objects.ErrUnavailable (the client retries, and the server
	// then checks anew).
	ApplyCollected(ctx context.Context, collected uint64, updates []refs.Update, msg refs.Entry) error
	// Collecting takes the repository's collection lock for this process
	// unless another holds it (ok false: that one collects, this one
	// skips the repository); release gives it back. A process that dies
	// holding it releases it.
	Collecting(ctx context.Context) (release func(), ok bool, err error)
}

// syncShared brings what rp remembers up to the other processes'
// changes (SharedState); nothing when the repository is not shared. It
// returns the collected counter what rp knows complete is valid for.
func (rp *repository) syncShared(ctx context.Context) (uint64, error) {
	sh, ok := rp.refs.(SharedState)
	if !ok {
		return 0, nil
	}
	collected, unpublished, err := sh.Generations(ctx)
	if err != nil {
		return 0, fmt.Errorf("repository %s: %w", rp.name, err)
	}
	rp.mu.Lock()
	defer rp.mu.Unlock()
	if unpublished != rp.seenUnpublished {
		rp.unpublish()
		rp.seenUnpublished = unpublished
	}
	if collected != rp.seenCollected {
		if err := rp.resetComplete(ctx); err != nil {
			return 0, err
		}
		rp.seenCollected = collected
	}
	return collected, nil
}

// apply applies a push's updates; when the repository is shared, only
// while the collected counter still is collected, the value syncShared
// returned before the push was checked.
func (rp *repository) apply(ctx context.Context, collected uint64, ups []refs.Update, msg refs.Entry) error {
	sh, ok := rp.refs.(SharedState)
	if !ok {
		return rp.refs.Apply(ctx, ups, msg)
	}
	return sh.ApplyCollected(ctx, collected, ups, msg)
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

// Leases is what a SharedState offers so that replicas may collect
// objects kept in a store without modification times (S3, design §20,
// "Collecting objects in shared storage"): nothing there says that an
// unreachable object is about to be referenced by a push under way at
// another replica, so pushes say it in the database.
//
//   - a push's objects/missing leases every id it asks about (Lease),
//     before it looks at the store: for d, by the database's clock;
//   - a collection marks its start (Mark: collected is bumped, the
//     database's time returned), finds the unreachable objects, and
//     deletes them in batches (Sweep), each under the repository's sweep
//     lock, which excludes leasing and ref updates while it is held; a
//     batch reads the refs anew and spares what they reach and every id
//     with a live lease, and collected is bumped before and after it, so
//     a push checked before a batch ends is refused (503) and checked
//     again;
//   - a ref update that finds objects missing which a push had leased
//     (Leased) says that their lease ran out (lease-expired): the client
//     sends them again.
type Leases interface {
	// Lease spares ids from every collection for d from now (the
	// database's clock); a longer lease already held stays.
	Lease(ctx context.Context, ids []objects.ID, d time.Duration) error
	// Leased returns those of ids that were leased (live or expired and
	// not yet forgotten).
	Leased(ctx context.Context, ids []objects.ID) (map[objects.ID]bool, error)
	// Mark bumps the collected counter and returns the database's time:
	// a collection's start. The caller holds the collection lock
	// (Collecting).
	Mark(ctx context.Context) (time.Time, error)
	// Sweep takes the sweep lock, marks the sweep started (collected
	// bumped, sweeping set), reads the refs, drops from candidates the
	// ids with a live lease and calls del with the refs and the rest;
	// then it marks the sweep done (collected bumped, sweeping cleared),
	// even when del failed, and releases the lock. It returns how many
	// candidates a lease spared. A replica that dies in del leaves
	// sweeping set: the next push's ref update clears it and is refused,
	// so that it checks anew.
	Sweep(ctx context.Context, candidates []objects.ID, del func(ctx context.Context, current []refs.Ref, victims []objects.ID) error) (spared int, err error)
	// Forget deletes the leases that expired more than age ago.
	Forget(ctx context.Context, age time.Duration) error
}

// leases returns rp's Leases when its collections go by them: its ref
// store offers them and its object store has no modification times.
func (rp *repository) leases() (Leases, bool) {
	lz, ok := rp.refs.(Leases)
	if !ok {
		return nil, false
	}
	if _, timed := rp.store.(objects.ModTimer); timed {
		return nil, false
	}
	return lz, true
}
