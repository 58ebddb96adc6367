package server

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/objects/graph"
	"github.com/fed-vcs/fed/refs"
	"github.com/fed-vcs/fed/remote"
	"github.com/fed-vcs/fed/repometa"
)

// GCResult is the outcome of collecting one repository.
type GCResult struct {
	Repo   string
	Report *objects.GCReport // nil: another process (replica) was collecting it
}

// GC removes, in every repository, the objects no ref reaches that were
// uploaded or last asked about more than GCGrace ago: what a client
// uploaded and never referenced. Proof refs of commits that no branch or
// tag reaches go first, once their proofs are as old. Ref updates of a repository wait while
// it is collected. Leftover temporary directories of interrupted
// repository creations older than the grace period (and objects.MinTempAge)
// are removed too.
func (s *Server) GC(ctx context.Context) ([]GCResult, error) {
	if rs, ok := s.hosting.(interface {
		RemoveStale(ctx context.Context, cutoff time.Time) error
	}); ok {
		if err := rs.RemoveStale(ctx, s.opts.Now().Add(-max(s.opts.GCGrace, objects.MinTempAge))); err != nil {
			return nil, err
		}
	}
	names, err := s.hosting.Names(ctx)
	if err != nil {
		return nil, err
	}
	var out []GCResult
	var errs []error
	for _, name := range names {
		rp, err := s.open(ctx, name, nil)
		if err != nil {
			errs = append(errs, fmt.Errorf("gc %s: %w", name, err))
			continue
		}
		rep, err := rp.collect(ctx, s.opts.GCGrace)
		if err != nil {
			errs = append(errs, fmt.Errorf("gc %s: %w", name, err))
			continue
		}
		out = append(out, GCResult{Repo: name, Report: rep})
	}
	return out, errors.Join(errs...)
}

func (rp *repository) collect(ctx context.Context, grace time.Duration) (*objects.GCReport, error) {
	lz, leased := rp.leases()
	if !leased {
		// with leases the database orders it with ref updates, here as
		// at every other replica: they wait only while a batch deletes
		rp.gc.Lock()
		defer rp.gc.Unlock()
	}
	if sh, ok := rp.refs.(SharedState); ok {
		release, ok, err := sh.Collecting(ctx)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, nil // another process is collecting it
		}
		defer release()
	}
	// proof refs that keep unpublished commits, first
	if err := rp.dropDanglingProofs(ctx, grace); err != nil {
		return nil, err
	}
	if leased {
		return rp.collectLeased(ctx, lz, grace)
	}
	all, err := rp.refs.List(ctx, "refs/")
	if err != nil {
		return nil, err
	}
	roots := make([]objects.ID, 0, len(all))
	for _, r := range all {
		roots = append(roots, r.ID)
	}
	// withheld weights are absent on purpose, not a reason to stop
	withheld, err := rp.meta.IDs(ctx, repometa.Withheld)
	if err != nil {
		return nil, err
	}
	// Other processes forget what they knew complete when the collection
	// starts and again when it is done (shared.go): what they learn while
	// it runs may name objects it removes.
	if err := rp.bumpShared(ctx, true, false); err != nil {
		return nil, err
	}
	rep, err := objects.GC(ctx, rp.store, roots, objects.GCOptions{Grace: grace, Absent: withheld})
	if berr := rp.bumpShared(ctx, true, false); err == nil {
		err = berr
	}
	// The complete set may name objects that no ref reaches any more
	// (a deleted branch, a forced one): once collected, a push building on
	// them must be refused as incomplete, so the set restarts from the
	// refs, also after a collection that failed half-way.
	rp.mu.Lock()
	rerr := rp.resetComplete(ctx)
	rp.mu.Unlock()
	if err == nil {
		err = rerr
	}
	return rep, err
}

// dropDanglingProofs deletes the proof refs of commits that no branch or
// tag reaches, once their proof objects are older than grace: fed pushes
// proofs before their branch, and when the branch step is refused (or
// never comes) the proof ref would keep the commit and its weights on the
// server for good, unpublished (reach.go). The caller holds rp.gc, or
// the collection lock (collectLeased).
func (rp *repository) dropDanglingProofs(ctx context.Context, grace time.Duration) error {
	all, err := rp.refs.List(ctx, "refs/")
	if err != nil {
		return err
	}
	var named []objects.ID
	var proofs []refs.Ref
	for _, r := range all {
		switch n := string(r.Name); {
		case strings.HasPrefix(n, remote.ProofsPrefix):
			proofs = append(proofs, r)
		case strings.HasPrefix(n, refs.HeadsPrefix), strings.HasPrefix(n, refs.TagsPrefix):
			named = append(named, r.ID)
		}
	}
	if len(proofs) == 0 {
		return nil
	}
	commits, err := rp.commitsOf(ctx, named)
	if err != nil {
		return err
	}
	cutoff := time.Now().Add(-grace)
	var drop []refs.Update
	for _, r := range proofs {
		commit, err := objects.ParseID(strings.TrimPrefix(string(r.Name), remote.ProofsPrefix))
		if err != nil || commits[commit] {
			continue
		}
		if t, err := modTime(ctx, rp.store, r.ID); err == nil && t.Before(cutoff) {
			drop = append(drop, refs.Update{Name: r.Name, Old: r.ID})
		}
	}
	if len(drop) == 0 {
		return nil
	}
	rp.mu.Lock()
	defer rp.mu.Unlock()
	return rp.refs.Apply(ctx, drop, refs.Entry{Message: "gc: proofs of commits no branch or tag reaches"})
}

// modTime returns when id was last written or reused, when st knows
// (objects.ModTimer), or else when it was written (an S3 store's
// WrittenAt: a proof object pushed again is not younger for it, and is
// dropped a grace period after its first push); otherwise an error, so
// that nothing is dropped.
func modTime(ctx context.Context, st ObjectStore, id objects.ID) (time.Time, error) {
	if mt, ok := st.(objects.ModTimer); ok {
		return mt.ModTime(id)
	}
	if wa, ok := st.(interface {
		WrittenAt(ctx context.Context, id objects.ID) (time.Time, error)
	}); ok {
		return wa.WrittenAt(ctx, id)
	}
	return time.Time{}, fmt.Errorf("object store does not know when %s was written", id.Short())
}

// sweepBatch is how many unreachable objects one Sweep deletes at most:
// ref updates of the repository wait while a batch runs.
const sweepBatch = 1000

// leaseMemory is how long leases are remembered after they expire, so
// that a ref update still tells a push whose objects were collected
// (lease-expired) from one that never sent them (incomplete).
const leaseMemory = 24 * time.Hour

// collectLeased collects a repository whose objects have no modification
// times (S3) by the leases of the database (Leases; design §20,
// "Collecting objects in shared storage"): an object is removed only when
// no ref reaches it (at the start, and again at its batch), it was
// written more than grace ago (by the storage's clock, when the store
// says: a fresh write of the server's own, such as a proof before its
// ref, is spared as on disk) and no push holds a live lease on it. One
// collection at a time, across processes: collect holds SharedState's
// Collecting and has dropped the dangling proof refs.
func (rp *repository) collectLeased(ctx context.Context, lz Leases, grace time.Duration) (rep *objects.GCReport, err error) {
	start, err := lz.Mark(ctx)
	if err != nil {
		return nil, fmt.Errorf("repository %s: %w", rp.name, err)
	}
	defer func() {
		// as collect: the others and this process forget what they knew
		// complete, also after a collection that failed half-way
		if berr := rp.bumpShared(ctx, true, false); err == nil {
			err = berr
		}
		rp.mu.Lock()
		rerr := rp.resetComplete(ctx)
		rp.mu.Unlock()
		if err == nil {
			err = rerr
		}
	}()
	// The refs after the mark: a push applied before it is among them,
	// one checked before it and applied after is refused (collected).
	all, err := rp.refs.List(ctx, "refs/")
	if err != nil {
		return nil, err
	}
	keep := map[objects.ID]bool{}
	if err := rp.keepFrom(ctx, all, keep); err != nil {
		return nil, err
	}
	rep = &objects.GCReport{}
	cutoff := start.Add(-grace)
	var candidates []objects.ID
	consider := func(id objects.ID, written time.Time) error {
		switch {
		case keep[id]:
			rep.Kept++
		case written.After(cutoff):
			rep.Spared++
		default:
			candidates = append(candidates, id)
		}
		return nil
	}
	if lw, ok := rp.store.(interface {
		ListWritten(ctx context.Context, fn func(objects.ID, time.Time) error) error
	}); ok {
		err = lw.ListWritten(ctx, consider)
	} else {
		err = rp.store.List(ctx, func(id objects.ID) error { return consider(id, time.Time{}) })
	}
	if err != nil {
		return rep, err
	}
	for len(candidates) > 0 {
		batch := candidates[:min(sweepBatch, len(candidates))]
		candidates = candidates[len(batch):]
		spared, err := lz.Sweep(ctx, batch, func(ctx context.Context, current []refs.Ref, victims []objects.ID) error {
			// refs set since the start reach what this batch must keep
			if err := rp.keepFrom(ctx, current, keep); err != nil {
				return err
			}
			var gone []objects.ID
			for _, id := range victims {
				if keep[id] {
					rep.Kept++
				} else {
					gone = append(gone, id)
				}
			}
			var removed atomic.Int64
			err := parallel(ctx, len(gone), func(ctx context.Context, i int) error {
				if err := rp.store.Delete(ctx, gone[i]); err != nil {
					return err
				}
				removed.Add(1)
				return nil
			})
			rep.Removed += int(removed.Load())
			return err
		})
		rep.Spared += spared
		if err != nil {
			return rep, err
		}
	}
	return rep, lz.Forget(ctx, leaseMemory)
}

// keepFrom adds to keep what the refs reach, walking only from values not
// in it already. It fails when a reachable object is missing (other than
// withheld weights) or unreadable: nothing may be deleted then.
func (rp *repository) keepFrom(ctx context.Context, all []refs.Ref, keep map[objects.ID]bool) error {
	var roots []objects.ID
	for _, r := range all {
		if !keep[r.ID] {
			roots = append(roots, r.ID)
		}
	}
	if len(roots) == 0 {
		return nil
	}
	withheld, err := rp.meta.IDs(ctx, repometa.Withheld)
	if err != nil {
		return err
	}
	w := graph.Walk{Seen: keep, Unreadable: func(id objects.ID, err error) error {
		if withheld[id] && errors.Is(err, objects.ErrNotFound) {
			return nil
		}
		return fmt.Errorf("gc: reachable object %s unreadable, run fsck: %w", id.Short(), err)
	}}
	return w.Run(ctx, rp.store, roots...)
}
