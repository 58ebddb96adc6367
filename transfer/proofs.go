package transfer

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/objects/graph"
	"github.com/fed-vcs/fed/refs"
	"github.com/fed-vcs/fed/remote"
	"github.com/fed-vcs/fed/repo"
)

// Proofs travel with push and fetch under refs/proofs/<commit>: each
// transfer moves the proof object and its verifying-key chunk (the commit
// travels with its branch).

// proofCommit returns the commit a proof ref names.
func proofCommit(name string) (objects.ID, bool) {
	hex, ok := strings.CutPrefix(name, repo.ProofsPrefix)
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
func pushProofs(ctx context.Context, r *repo.Repo, c *remote.Client, tip objects.ID, onServer *remote.RefList, force bool) error {
	ups, ids, err := proofUpdates(ctx, r, tip, onServer, force)
	if err != nil || len(ups) == 0 {
		return err
	}
	disk, err := r.Disk()
	if err != nil {
		return err
	}
	if _, err := c.SendMissing(ctx, disk, ids); err != nil {
		return fmt.Errorf("push proofs: %w", err)
	}
	return sendProofs(ctx, c, ups, nil)
}

// proofUpdates lists the proof refs of the commits reachable from tip
// that the server lacks or holds with another value, and the objects they
// need (proof objects and their verifying keys). A new proof ref needs no
// force, so collaborators push proofs of their commits. Replacing the
// server's proof of a commit is, with force, a forced update, which
// servers allow the owner only (like moving a tag); without force, an
// offer (old set, no force) that a server takes only when the proof it
// holds does not verify (doc/protocol.md §7.1; sendProofs).
func proofUpdates(ctx context.Context, r *repo.Repo, tip objects.ID, onServer *remote.RefList, force bool) ([]remote.RefUpdate, []objects.ID, error) {
	local, err := r.Refs.List(repo.ProofsPrefix)
	if err != nil || len(local) == 0 {
		return nil, nil, err
	}
	if tip, err = r.Peel(ctx, tip, tip.Short()); err != nil { // a pushed tag
		return nil, nil, fmt.Errorf("push proofs: %w", err)
	}
	proofOf := map[objects.ID]objects.ID{}
	for _, ref := range local {
		if id, ok := proofCommit(string(ref.Name)); ok {
			proofOf[id] = ref.ID
		}
	}
	server := map[string]objects.ID{}
	if onServer != nil {
		for _, ref := range onServer.Refs {
			server[ref.Name] = ref.ID
		}
	}
	var ups []remote.RefUpdate
	var ids []objects.ID
	err = graph.History{SkipAbsent: true}.Run(ctx, r.Objects, []objects.ID{tip}, func(id objects.ID, _ *objects.Commit) error {
		if p, ok := proofOf[id]; ok {
			name := string(repo.ProofRef(id))
			cur := server[name]
			if cur != p {
				ups = append(ups, remote.RefUpdate{Name: name, Old: cur, New: p, Force: !cur.IsZero() && force})
				ids = append(ids, p)
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	for _, p := range ids[:len(ids):len(ids)] {
		o, err := objects.Read(ctx, r.Objects, p, objects.KindProof)
		if err != nil {
			return nil, nil, fmt.Errorf("push proofs: %w", err)
		}
		ids = append(ids, o.(*objects.Proof).Needs...)
	}
	return ups, ids, nil
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
			return fmt.Errorf("push proofs (%s): %w", repo.ProofsPrefix, err)
		}
		sure = sure[n:]
	}
	for _, u := range offers {
		_, err := c.UpdateRefsWithheld(ctx, []remote.RefUpdate{u}, withheld)
		var p *remote.Problem
		if err != nil && !(errors.As(err, &p) && !p.Retryable()) {
			return fmt.Errorf("push proofs (%s): %w", repo.ProofsPrefix, err)
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
func fetchProofs(ctx context.Context, r *repo.Repo, c *remote.Client, list *remote.RefList) error {
	boundary, err := r.ShallowBoundary(ctx)
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
	if err := fetchProofObjects(ctx, r, c, want, commits); err != nil {
		return err
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
	return r.Refs.Transaction(ups, r.Entry("fetch proofs"))
}

// fetchProofObjects downloads the proof objects want and what they need,
// in batches of plans, leaving out the objects present and the commits
// the proofs name.
func fetchProofObjects(ctx context.Context, r *repo.Repo, c *remote.Client, want []objects.ID, commits map[objects.ID]bool) error {
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
		disk, err := r.Disk()
		if err != nil {
			return err
		}
		if _, err := c.FetchObjects(ctx, disk, plan); err != nil {
			return fmt.Errorf("fetch proofs: %w", err)
		}
	}
	return nil
}
