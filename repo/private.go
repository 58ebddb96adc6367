package repo

import (
	"context"
	"slices"
	"strings"

	"github.com/fed-vcs/fed/objects"
)

// Private weights (doc/design.md, zk section "Private contributions").
// Package transfer pushes and fetches them; repo keeps the list of the
// weights withheld from this repository and answers for checkouts,
// fsck and gc.
//
// A private push (transfer.PushOptions.PrivateWeights) sends a branch's
// commits, trees, models, proofs and every other object, but not the
// tensor objects of its models (nor their pieces): the server gets the
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

// withheldFile lists objects a fetch found withheld by their pushers.
const withheldFile = "withheld"

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

// AddWithheld adds ids to the withheld list (a fetch writes the ids its
// plan reports withheld before the refs that reach them).
func (r *Repo) AddWithheld(ids []objects.ID) error {
	return r.addIDs(withheldFile, ids)
}

// absentOnPurpose lists the objects a repository lacks on purpose: the
// parents of a shallow clone's oldest commits and withheld weights (fsck
// and gc pass over them).
func (r *Repo) absentOnPurpose(ctx context.Context) (map[objects.ID]bool, error) {
	out, err := r.ShallowBoundary(ctx)
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
	got, err := objects.CommitsReachingTensor(ctx, r.Objects, []objects.ID{id}, func(t objects.ID) (bool, error) {
		return set[t], nil
	})
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
