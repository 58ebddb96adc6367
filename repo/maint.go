package repo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/refs"
)

// roots lists every id the repository keeps alive: refs, HEAD, every id
// in a reflog (so that "undo" stays possible) and the staged objects.
func (r *Repo) roots() ([]objects.ID, error) {
	var out []objects.ID
	all, err := r.Refs.List("")
	if err != nil {
		return nil, err
	}
	names := []refs.Name{"HEAD"}
	for _, ref := range all {
		out = append(out, ref.ID)
		names = append(names, ref.Name)
	}
	if h, err := r.Refs.Head(); err == nil && !h.ID.IsZero() {
		out = append(out, h.ID)
	}
	for _, n := range names {
		log, err := r.Refs.Reflog(n)
		if err != nil {
			continue
		}
		for _, e := range log {
			for _, id := range []objects.ID{e.Old, e.New} {
				if !id.IsZero() {
					out = append(out, id)
				}
			}
		}
	}
	idx, err := r.ReadIndex()
	if err != nil {
		return nil, err
	}
	for _, e := range idx.Entries {
		out = append(out, e.ID)
	}
	return out, nil
}

// Fsck checks every object, every reference and every commit signature.
func (r *Repo) Fsck(ctx context.Context) (*objects.FsckReport, error) {
	roots, err := r.roots()
	if err != nil {
		return nil, err
	}
	absent, err := r.absentOnPurpose(ctx) // shallow boundary, withheld weights (private.go)
	if err != nil {
		return nil, err
	}
	rep, err := objects.Fsck(ctx, r.Objects, roots, objects.FsckOptions{
		CheckCommit: func(id objects.ID, c *objects.Commit) error {
			if err := objects.VerifyCommit(c); err != nil {
				return fmt.Errorf("commit signature: %w", err)
			}
			return nil
		},
	})
	if err != nil {
		return nil, err
	}
	// a shallow clone lacks the parents of its oldest commits on purpose,
	// a repository with private contributions their weights
	kept := rep.Problems[:0]
	for _, p := range rep.Problems {
		if !(absent[p.ID] && errors.Is(p.Err, objects.ErrNotFound)) {
			kept = append(kept, p)
		}
	}
	rep.Problems = kept
	return rep, nil
}

// ShallowBoundary lists the parents of a shallow clone's oldest commits:
// objects absent on purpose.
func (r *Repo) ShallowBoundary(ctx context.Context) (map[objects.ID]bool, error) {
	shallow, err := r.Shallow()
	if err != nil {
		return nil, err
	}
	out := map[objects.ID]bool{}
	for id := range shallow {
		c, err := objects.ReadCommit(ctx, r.Objects, id)
		if err != nil {
			continue // reported by fsck itself
		}
		for _, p := range c.Parents {
			if ok, _ := r.Objects.Has(ctx, p); !ok {
				out[p] = true
			}
		}
	}
	return out, nil
}

// GC removes unreachable objects older than grace (0: one hour). It holds
// the repository lock, so no fed command of this repository runs
// meanwhile; the grace period protects writers of other kinds.
func (r *Repo) GC(ctx context.Context, grace time.Duration, dryRun bool) (*GCReport, error) {
	unlock, err := r.Lock(lockWait)
	if err != nil {
		return nil, err
	}
	defer unlock()
	roots, err := r.roots()
	if err != nil {
		return nil, err
	}
	absent, err := r.absentOnPurpose(ctx) // shallow boundary, withheld weights (private.go)
	if err != nil {
		return nil, err
	}
	rep, err := objects.GC(ctx, r.Objects, roots, objects.GCOptions{Grace: grace, DryRun: dryRun, Absent: absent})
	if err != nil {
		return nil, err
	}
	return &GCReport{GCReport: *rep, Worktree: r.sweepTemps(true, dryRun)}, nil
}

// GCReport is what GC removed: objects, and the working tree's
// temporaries that killed commands left (see sweepTemps).
type GCReport struct {
	objects.GCReport
	Worktree TempSweep
}
