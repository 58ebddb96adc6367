package transfer

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/refs"
	"github.com/fed-vcs/fed/remote"
	"github.com/fed-vcs/fed/repo"
)

// Private weights (doc/design.md, zk section "Private contributions").
//
// A private push (PushOptions.PrivateWeights) sends a branch's commits,
// trees, models, proofs and every other object, but not the tensor
// objects of its models (nor their pieces): the server gets the
// commitments and proofs, the contributor's weights stay on its machine
// and on the remotes it pushes to in full (the aggregator). Each commit
// whose tensors are withheld must record its zk root (repo.MetaZKRoot,
// signed with the commit) and have a proof, so that verifiers can check
// the commit, and a merge's proof binds to it, without the weights.
//
// A repository that fetched such commits lists the withheld ids in
// .fed/withheld (repo.Repo.Withheld): objects absent on purpose. A later
// push from it withholds them again (it cannot send them).

// ErrProofNeeded reports a private push of a commit that lacks a zk root
// or a proof.
var ErrProofNeeded = errors.New("transfer: withheld weights need a proof")

// PrivateWeightsKey is the config key (remote.<name>.private-weights) that
// makes every push to that remote private.
func PrivateWeightsKey(remoteName string) string {
	return "remote." + remoteName + ".private-weights"
}

// AggregatorKey is the config key (remote.<name>.aggregator) that makes
// every push to that remote mark the weights it sends private to it
// (PushOptions.MarkPrivate).
func AggregatorKey(remoteName string) string {
	return "remote." + remoteName + ".aggregator"
}

// policy is what a push withholds and marks.
type policy struct {
	private  bool                // every weight is withheld
	marked   map[objects.ID]bool // weights private to another remote
	markFlag bool                // MarkPrivate was asked for (not only configured)
	withhold func(objects.ID) bool
}

// pushPolicy decides what a push to opts.Remote withholds and whether it
// marks weights private (setting opts.MarkPrivate from the config); a
// push that marks needs a server that keeps them private, checked before
// anything is sent.
func pushPolicy(ctx context.Context, r *repo.Repo, c *remote.Client, opts *PushOptions) (*policy, error) {
	p := &policy{markFlag: opts.MarkPrivate}
	var err error
	if p.private, err = flagOrConfig(r, PrivateWeightsKey(opts.Remote), opts.PrivateWeights); err != nil {
		return nil, err
	}
	url, err := r.RemoteURL(opts.Remote)
	if err != nil {
		return nil, err
	}
	if p.marked, err = r.PrivateTo(url); err != nil {
		return nil, err
	}
	keep := p.marked
	if opts.ReleaseWeights || p.private {
		keep = nil
	}
	if opts.MarkPrivate, err = flagOrConfig(r, AggregatorKey(opts.Remote), opts.MarkPrivate); err != nil {
		return nil, err
	}
	if opts.MarkPrivate {
		// before anything is sent: a server that cannot keep them
		// private gets none of them
		if err := c.RequireFeature(ctx, remote.FeaturePrivate); err != nil {
			return nil, fmt.Errorf("push: weights private to %s: %w", opts.Remote, err)
		}
	}
	if p.withhold, err = withholdFunc(ctx, r, p.private, keep); err != nil {
		return nil, err
	}
	return p, nil
}

// count narrows withheld to what the server lacks (unless every weight
// is withheld) and counts in res the weights kept private to another
// remote and those released.
func (p *policy) count(ctx context.Context, c *remote.Client, res *PushResult, opts PushOptions, ids, withheld []objects.ID) ([]objects.ID, error) {
	if len(withheld) > 0 && !p.private {
		// weights the server holds already are no secret there
		var err error
		if withheld, err = c.Missing(ctx, withheld); err != nil {
			return nil, fmt.Errorf("push: %w", err)
		}
		for _, id := range withheld {
			if p.marked[id] {
				res.KeptPrivate++
			}
		}
	}
	if opts.ReleaseWeights {
		for _, id := range ids {
			if p.marked[id] {
				res.Released++
			}
		}
	}
	return withheld, nil
}

// flagOrConfig returns flag, else the boolean config key (unset: false).
func flagOrConfig(r *repo.Repo, key string, flag bool) (bool, error) {
	if flag {
		return true, nil
	}
	v, ok := r.Config.Get(key)
	if !ok {
		return false, nil
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "yes", "on", "1":
		return true, nil
	case "false", "no", "off", "0", "":
		return false, nil
	}
	return false, fmt.Errorf("config %s %q: want true or false", key, v)
}

// withholdFunc returns which tensors a push leaves out: every one when
// private, else those in marked (private to another remote) and those
// this repository itself lacks because they were withheld from it.
func withholdFunc(ctx context.Context, r *repo.Repo, private bool, marked map[objects.ID]bool) (func(objects.ID) bool, error) {
	if private {
		return func(objects.ID) bool { return true }, nil
	}
	w, err := r.Withheld()
	if err != nil || len(w) == 0 && len(marked) == 0 {
		return nil, err
	}
	return func(id objects.ID) bool {
		if marked[id] {
			return true
		}
		if !w[id] {
			return false
		}
		ok, err := r.Objects.Has(ctx, id)
		return err == nil && !ok
	}, nil
}

// finishWithheld finishes a push that withholds weights (pushWithheld),
// explaining a refusal that concerns weights private to an aggregator,
// and makes PrivateWeights the remote's default when asked.
func finishWithheld(ctx context.Context, r *repo.Repo, c *remote.Client, res *PushResult, opts PushOptions, ids, withheld, commits []objects.ID, list *remote.RefList) error {
	res.Private = true
	if err := pushWithheld(ctx, r, c, res, opts, ids, withheld, commits, list); err != nil {
		if res.KeptPrivate > 0 && errors.Is(err, ErrProofNeeded) {
			err = fmt.Errorf("%w; %d weight object(s) it reaches were sent to this repository as private to their aggregator, and stay off %s (their authors publish them, or push --release-weights does)", err, res.KeptPrivate, opts.Remote)
		}
		return err
	}
	return setDefault(r, PrivateWeightsKey(opts.Remote), opts.PrivateWeights, &res.PrivateDefault)
}

// pushWithheld finishes a push whose set withholds tensors: it checks
// that every commit concerned records its zk root and has a proof, that
// the server speaks FeatureWithheld, then uploads ids, the proofs of the
// branch's commits, and moves the proof refs and the branch naming the
// withheld ids the server lacks.
func pushWithheld(ctx context.Context, r *repo.Repo, c *remote.Client, res *PushResult, opts PushOptions, ids, withheld, commits []objects.ID, list *remote.RefList) error {
	if err := checkProvable(ctx, r, commits, withheld); err != nil {
		return err
	}
	if err := c.RequireFeature(ctx, remote.FeatureWithheld); err != nil {
		return fmt.Errorf("push: withheld weights: %w", err)
	}
	declared, err := c.Missing(ctx, withheld)
	if err != nil {
		return fmt.Errorf("push: %w", err)
	}
	disk, err := r.Disk()
	if err != nil {
		return err
	}
	if res.Stats, err = c.SendMissing(ctx, disk, ids); err != nil {
		return fmt.Errorf("push: %w", err)
	}
	res.Withheld = len(declared)
	ups, needs, err := proofUpdates(ctx, r, res.New, list, opts.Force)
	if err != nil {
		return err
	}
	if len(ups) > 0 {
		if _, err := c.SendMissing(ctx, disk, needs); err != nil {
			return fmt.Errorf("push proofs: %w", err)
		}
	}
	if err := sendProofs(ctx, c, ups, declared); err != nil {
		return err
	}
	if res.UpToDate {
		return nil
	}
	_, err = c.UpdateRefsWithheld(ctx, []remote.RefUpdate{{Name: res.Ref, Old: res.Old, New: res.New, Force: opts.Force}}, declared)
	if errors.Is(err, remote.ErrNonFastForward) {
		return fmt.Errorf("%w: %v", ErrRejected, err)
	}
	if err != nil {
		return fmt.Errorf("push: %w", err)
	}
	return nil
}

// checkProvable checks that every commit among commits whose trees reach
// a tensor in withheld records its zk root and has a proof. It reads
// trees and models only.
func checkProvable(ctx context.Context, r *repo.Repo, commits, withheld []objects.ID) error {
	set := make(map[objects.ID]bool, len(withheld))
	for _, id := range withheld {
		set[id] = true
	}
	private, err := objects.CommitsReachingTensor(ctx, r.Objects, commits, func(t objects.ID) (bool, error) {
		return set[t], nil
	})
	if err != nil {
		return fmt.Errorf("push: %w", err)
	}
	for _, id := range private {
		cm, err := objects.ReadCommit(ctx, r.Objects, id)
		if err != nil {
			return fmt.Errorf("push: %w", err)
		}
		if _, ok := cm.Value(repo.MetaZKRoot); !ok {
			return fmt.Errorf("%w: commit %s records no %s (it was made without zk settings), so nothing binds its withheld weights", ErrProofNeeded, id.Short(), repo.MetaZKRoot)
		}
		if _, err := r.Refs.Read(repo.ProofRef(id)); errors.Is(err, refs.ErrNotFound) {
			return fmt.Errorf("%w: commit %s has no proof (run 'fed prove %s')", ErrProofNeeded, id.Short(), id.Short())
		} else if err != nil {
			return err
		}
	}
	return nil
}

// tensorsToMark lists the tensor objects among ids (a push's objects)
// that the models of commits name: what a push to an aggregator marks
// private.
func tensorsToMark(ctx context.Context, r *repo.Repo, commits, ids []objects.ID) ([]objects.ID, error) {
	sending := make(map[objects.ID]bool, len(ids))
	for _, id := range ids {
		sending[id] = true
	}
	var out []objects.ID
	seen := map[objects.ID]bool{}
	_, err := objects.CommitsReachingTensor(ctx, r.Objects, commits, func(t objects.ID) (bool, error) {
		if sending[t] && !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
		return false, nil
	})
	if err != nil {
		return nil, fmt.Errorf("push: private marks: %w", err)
	}
	if len(out) > remote.MaxBatch {
		return nil, fmt.Errorf("push: %d weight objects to mark private (at most %d a push): push fewer commits at a time", len(out), remote.MaxBatch)
	}
	return out, nil
}
