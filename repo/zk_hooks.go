package repo

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/refs"
	"github.com/fed-vcs/fed/remote"
)

// Proofs travel with push and fetch under refs/proofs/<commit>: each
// transfer moves the proof object and its verifying-key chunk (the commit
// travels with its branch).

// proofCommit returns the commit a proof ref names.
func proofCommit(name string) (objects.ID, bool) {
	hex, ok := strings.CutPrefix(name, ProofsPrefix)
	if !ok {
		return objects.ZeroID, false
	}
	id, err := objects.ParseID(hex)
	return id, err == nil
}

// pushProofs uploads the proofs of the commits reachable from tip that
// the server lacks and moves refs/proofs/<commit> on it, before the branch
// moves (so that a server requiring proofs finds them). The server must
// hold the commits already. A proof the server holds with another value
// is replaced only with force (see proofUpdates).
func (r *Repo) pushProofs(ctx context.Context, c *remote.Client, tip objects.ID, onServer *remote.RefList, force bool) error {
	ups, ids, err := r.proofUpdates(ctx, tip, onServer, force)
	if err != nil || len(ups) == 0 {
		return err
	}
	if _, err := c.SendMissing(ctx, r.Objects, ids); err != nil {
		return fmt.Errorf("push proofs: %w", err)
	}
	return sendProofs(ctx, c, ups, nil)
}

// sendProofs moves the proof refs ups (from proofUpdates) on the server:
// new ones and forced replacements in batches, where a refusal stops the
// push; then offers, replacements without force, one at a time: a server
// takes one only when the proof it holds does not verify (a proof an
// older server took, or one the owner's tightened settings fail), and a
// refused offer leaves the server's proof in place.
func sendProofs(ctx context.Context, c *remote.Client, ups []remote.RefUpdate, withheld []objects.ID) error {
	var sure, offers []remote.RefUpdate
	for _, u := range ups {
		if !u.Old.IsZero() && !u.Force {
			offers = append(offers, u)
		} else {
			sure = append(sure, u)
		}
	}
	for len(sure) > 0 {
		n := min(len(sure), remote.MaxUpdates)
		if _, err := c.UpdateRefsWithheld(ctx, sure[:n], withheld); err != nil {
			return fmt.Errorf("push proofs (%s): %w", ProofsPrefix, err)
		}
		sure = sure[n:]
	}
	for _, u := range offers {
		_, err := c.UpdateRefsWithheld(ctx, []remote.RefUpdate{u}, withheld)
		var p *remote.Problem
		if err != nil && !(errors.As(err, &p) && !p.Retryable()) {
			return fmt.Errorf("push proofs (%s): %w", ProofsPrefix, err)
		}
	}
	return nil
}

// fetchProofs downloads the server's proofs of the commits this
// repository holds, and of the parents of a shallow clone's oldest commits
// (so that verify can check their commitments without their weights), and
// creates their refs/proofs/<commit>; a proof ref that exists locally is
// never overwritten (like tags). Only proof objects and verifying-key
// chunks are downloaded: never commits or weights.
func (r *Repo) fetchProofs(ctx context.Context, c *remote.Client, list *remote.RefList) error {
	boundary, err := r.shallowBoundary(ctx)
	if err != nil {
		return err
	}
	var want []objects.ID
	var ups []refs.Update
	commits := map[objects.ID]bool{}
	for _, ref := range list.Refs {
		commit, ok := proofCommit(ref.Name)
		if !ok {
			continue
		}
		if _, err := r.Refs.Read(refs.Name(ref.Name)); err == nil {
			continue
		}
		if has, err := r.Objects.Has(ctx, commit); err != nil || !has && !boundary[commit] {
			continue
		}
		commits[commit] = true
		want = append(want, ref.ID)
		ups = append(ups, refs.Update{Name: refs.Name(ref.Name), New: ref.ID})
	}
	for start := 0; start < len(want); start += remote.MaxBatch {
		plan, err := c.Plan(ctx, remote.PlanRequest{Want: want[start:min(start+remote.MaxBatch, len(want))]})
		if err != nil {
			return fmt.Errorf("fetch proofs: %w", err)
		}
		missing := plan.Objects[:0]
		for _, po := range plan.Objects {
			if has, _ := r.Objects.Has(ctx, po.ID); !has && !commits[po.ID] {
				missing = append(missing, po)
			}
		}
		plan.Objects = missing
		if _, err := c.FetchObjects(ctx, r.Objects, plan); err != nil {
			return fmt.Errorf("fetch proofs: %w", err)
		}
	}
	for i, p := range want {
		o, err := objects.Read(ctx, r.Objects, p, objects.KindProof)
		if err != nil {
			return fmt.Errorf("fetch proofs: %s: %w", ups[i].Name, err)
		}
		for _, n := range o.(*objects.Proof).Needs {
			if has, err := r.Objects.Has(ctx, n); err != nil || !has {
				return fmt.Errorf("fetch proofs: %s: %w: object %s missing after download", ups[i].Name, remote.ErrIncomplete, n.Short())
			}
		}
	}
	if len(ups) == 0 {
		return nil
	}
	return r.Refs.Transaction(ups, r.entry("fetch proofs"))
}
