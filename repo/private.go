package repo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/refs"
	"github.com/fed-vcs/fed/remote"
)

// Private weights (doc/design.md, zk section "Private contributions").
//
// A private push (PushOptions.PrivateWeights) sends a branch's commits,
// trees, models, proofs and every other object, but not the tensor
// objects of its models (nor their pieces): the server gets the
// commitments and proofs, the contributor's weights stay on its machine
// and on the remotes it pushes to in full (the aggregator). Each commit
// whose tensors are withheld must record its zk root (MetaZKRoot, signed
// with the commit) and have a proof, so that verifiers can check the
// commit, and a merge's proof binds to it, without the weights.
//
// A repository that fetched such commits lists the withheld ids in
// .fed/withheld, one lowercase hex id per line, sorted: objects absent on
// purpose. Fsck and gc do not count them as missing; verify finds the
// weights absent and checks commitments and proofs only; a later push
// from this repository withholds them again (it cannot send them).

// ErrProofNeeded reports a private push of a commit that lacks a zk root
// or a proof.
var ErrProofNeeded = errors.New("repo: withheld weights need a proof")

// withheldFile lists objects a fetch found withheld by their pushers.
const withheldFile = "withheld"

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

// Withheld returns the objects listed in .fed/withheld: withheld by their
// pushers on the remote they were fetched from.
func (r *Repo) Withheld() (map[objects.ID]bool, error) {
	return r.readIDSet(withheldFile, "withheld list")
}

// WithheldAbsent lists the withheld objects this repository does not
// hold, sorted: what fsck reports as withheld rather than missing.
func (r *Repo) WithheldAbsent(ctx context.Context) ([]objects.ID, error) {
	w, err := r.Withheld()
	if err != nil {
		return nil, err
	}
	var out []objects.ID
	for id := range w {
		if ok, err := r.Objects.Has(ctx, id); err == nil && !ok {
			out = append(out, id)
		}
	}
	slices.SortFunc(out, func(a, b objects.ID) int { return strings.Compare(a.String(), b.String()) })
	return out, nil
}

func (r *Repo) addWithheld(ids []objects.ID) error {
	return r.addIDs(withheldFile, ids)
}

// absentOnPurpose lists the objects a repository lacks on purpose: the
// parents of a shallow clone's oldest commits and withheld weights (fsck
// and gc pass over them).
func (r *Repo) absentOnPurpose(ctx context.Context) (map[objects.ID]bool, error) {
	out, err := r.shallowBoundary(ctx)
	if err != nil {
		return nil, err
	}
	w, err := r.WithheldAbsent(ctx)
	if err != nil {
		return nil, err
	}
	for _, id := range w {
		out[id] = true
	}
	return out, nil
}

// privatePush returns whether a push to remoteName withholds weights:
// opts.PrivateWeights, or the remote's private-weights config.
func (r *Repo) privatePush(remoteName string, flag bool) (bool, error) {
	return r.flagOrConfig(PrivateWeightsKey(remoteName), flag)
}

// flagOrConfig returns flag, else the boolean config key (unset: false).
func (r *Repo) flagOrConfig(key string, flag bool) (bool, error) {
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
// private, else those in marked (private to another remote, marks.go)
// and those this repository itself lacks because they were withheld from
// it.
func (r *Repo) withholdFunc(ctx context.Context, private bool, marked map[objects.ID]bool) (func(objects.ID) bool, error) {
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

// privateCommits returns the commits among commits whose trees reach a
// tensor in withheld. It reads trees and models only.
func (r *Repo) privateCommits(ctx context.Context, commits []objects.ID, withheld map[objects.ID]bool) ([]objects.ID, error) {
	return objects.CommitsReachingTensor(ctx, r.Objects, commits, func(t objects.ID) (bool, error) {
		return withheld[t], nil
	})
}

// pushWithheld finishes a push whose set withholds tensors: it checks
// that every commit concerned records its zk root and has a proof, that
// the server speaks FeatureWithheld, then uploads ids, the proofs of the
// branch's commits, and moves the proof refs and the branch naming the
// withheld ids the server lacks.
func (r *Repo) pushWithheld(ctx context.Context, c *remote.Client, res *PushResult, opts PushOptions, ids, withheld, commits []objects.ID, list *remote.RefList) error {
	set := make(map[objects.ID]bool, len(withheld))
	for _, id := range withheld {
		set[id] = true
	}
	private, err := r.privateCommits(ctx, commits, set)
	if err != nil {
		return fmt.Errorf("push: %w", err)
	}
	for _, id := range private {
		cm, err := objects.ReadCommit(ctx, r.Objects, id)
		if err != nil {
			return fmt.Errorf("push: %w", err)
		}
		if _, ok := cm.Value(MetaZKRoot); !ok {
			return fmt.Errorf("%w: commit %s records no %s (it was made without zk settings), so nothing binds its withheld weights", ErrProofNeeded, id.Short(), MetaZKRoot)
		}
		if _, err := r.Refs.Read(ProofRef(id)); errors.Is(err, refs.ErrNotFound) {
			return fmt.Errorf("%w: commit %s has no proof (run 'fed prove %s')", ErrProofNeeded, id.Short(), id.Short())
		} else if err != nil {
			return err
		}
	}
	if err := c.RequireFeature(ctx, remote.FeatureWithheld); err != nil {
		return fmt.Errorf("push: withheld weights: %w", err)
	}
	declared, err := c.Missing(ctx, withheld)
	if err != nil {
		return fmt.Errorf("push: %w", err)
	}
	if res.Stats, err = c.SendMissing(ctx, r.Objects, ids); err != nil {
		return fmt.Errorf("push: %w", err)
	}
	res.Withheld = len(declared)
	ups, needs, err := r.proofUpdates(ctx, res.New, list, opts.Force)
	if err != nil {
		return err
	}
	if len(ups) > 0 {
		if _, err := c.SendMissing(ctx, r.Objects, needs); err != nil {
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

// proofUpdates lists the proof refs of the commits reachable from tip
// that the server lacks or holds with another value, and the objects they
// need (proof objects and their verifying keys). A new proof ref needs no
// force, so collaborators push proofs of their commits. Replacing the
// server's proof of a commit is, with force, a forced update, which
// servers allow the owner only (like moving a tag); without force, an
// offer (old set, no force) that a server takes only when the proof it
// holds does not verify (doc/protocol.md §7.1; sendProofs).
func (r *Repo) proofUpdates(ctx context.Context, tip objects.ID, onServer *remote.RefList, force bool) ([]remote.RefUpdate, []objects.ID, error) {
	local, err := r.Refs.List(ProofsPrefix)
	if err != nil || len(local) == 0 {
		return nil, nil, err
	}
	if tip, err = r.peel(ctx, tip, tip.Short()); err != nil { // a pushed tag
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
	err = r.walk(ctx, tip, func(id objects.ID, _ *objects.Commit) bool {
		if p, ok := proofOf[id]; ok {
			name := string(ProofRef(id))
			cur := server[name]
			if cur != p {
				ups = append(ups, remote.RefUpdate{Name: name, Old: cur, New: p, Force: !cur.IsZero() && force})
				ids = append(ids, p)
			}
		}
		return true
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

// WeightsWithheld reports whether commit id's tree reaches tensors this
// repository lacks because their pushers withheld them: such a commit can
// be verified (commitments and proofs) but not checked out.
func (r *Repo) WeightsWithheld(ctx context.Context, id objects.ID) (bool, error) {
	absent, err := r.WithheldAbsent(ctx)
	if err != nil || len(absent) == 0 {
		return false, err
	}
	set := make(map[objects.ID]bool, len(absent))
	for _, a := range absent {
		set[a] = true
	}
	got, err := r.privateCommits(ctx, []objects.ID{id}, set)
	return len(got) > 0, err
}

// withheldFiles answers, for model files, whether their weights were
// withheld: a tensor object they need is listed as withheld and absent.
// Such a file cannot be checked out; checkouts leave it out of the working
// tree and keep it in the index (status 'W'), so that a commit keeps it
// unchanged rather than deleting it.
type withheldFiles struct {
	r    *Repo
	set  map[objects.ID]bool // nil: nothing withheld
	seen map[objects.ID]bool
}

func (r *Repo) withheldFiles() (*withheldFiles, error) {
	w, err := r.Withheld()
	if err != nil {
		return nil, err
	}
	if len(w) == 0 {
		w = nil
	}
	return &withheldFiles{r: r, set: w, seen: map[objects.ID]bool{}}, nil
}

// file reports whether the file with object id (of kind) lacks withheld
// weights. A model object that is missing or unreadable is not withheld:
// the caller meets the real error where it reads it.
func (w *withheldFiles) file(ctx context.Context, kind objects.Kind, id objects.ID) bool {
	if w.set == nil || kind != objects.KindModel {
		return false
	}
	if v, ok := w.seen[id]; ok {
		return v
	}
	out := false
	if o, err := objects.Read(ctx, w.r.Objects, id, objects.KindModel); err == nil {
		for _, s := range o.(*objects.Model).Segments {
			if s.IsTensor() && w.set[s.ID] {
				if ok, err := w.r.Objects.Has(ctx, s.ID); err == nil && !ok {
					out = true
					break
				}
			}
		}
	}
	w.seen[id] = out
	return out
}
