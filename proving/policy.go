package proving

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/fed-vcs/fed/merge"
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/repo"
)

// The proving policy of commit and merge: whether a new commit gets a
// proof, what makes a merge provable, and what proving a commit just made
// does when it fails.

// Wanted reports whether a new commit of r gets a proof: flag (--prove)
// is set, or r's zk.prove is always.
func Wanted(r *repo.Repo, flag bool) (bool, error) {
	if flag {
		return true, nil
	}
	s, err := ReadSettings(r)
	if err != nil {
		return false, err
	}
	return s.Always, nil
}

// ErrUnprovableMerge reports merge options the merge circuit cannot prove
// (ProvableMerge).
var ErrUnprovableMerge = errors.New("proving: merge cannot be proven")

// mergeError is a refusal of ProvableMerge: its message alone, matching
// ErrUnprovableMerge.
type mergeError struct{ msg string }

func (e *mergeError) Error() string        { return e.msg }
func (e *mergeError) Is(target error) bool { return target == ErrUnprovableMerge }

// ProvableMerge makes a merge provable: the merge circuit proves fedavg's
// exact mode (integer weights, fixed-point floor average) and nothing
// else. It refuses another strategy, exact set to anything but true and
// weights that are not integers in [0, merge.MaxFixedWeight] with an error
// matching ErrUnprovableMerge; otherwise it sets params' exact to true and
// returns the strategy to merge with (fedavg). params must not be nil.
func ProvableMerge(strategy string, params map[string]string, weights []float64) (string, error) {
	if strategy != "" && strategy != merge.FedAvg {
		return "", &mergeError{fmt.Sprintf("a proven merge must use fedavg (the merge circuit proves its exact mode), not %s", strategy)}
	}
	if v, ok := params["exact"]; ok && v != "true" {
		return "", &mergeError{fmt.Sprintf("a proven merge needs fedavg's exact mode, not exact=%s", v)}
	}
	for i, w := range weights {
		if w != math.Trunc(w) || w < 0 || w > merge.MaxFixedWeight {
			return "", &mergeError{fmt.Sprintf("a proven merge needs integer weights in [0, %d]; weight %d is %v", uint64(merge.MaxFixedWeight), i+1, w)}
		}
	}
	params["exact"] = "true"
	return merge.FedAvg, nil
}

// ErrUnproven reports a commit that was made but could not be proven
// (AfterCommit): the commit stays, and 'fed prove' can prove it later.
var ErrUnproven = errors.New("proving: commit made but not proven")

// AfterCommit proves commit id, which commit or merge has just made in r
// (when Wanted says so), with opts. The commit stays when proving fails;
// the error then matches ErrUnproven and the cause, and names the commit.
func AfterCommit(ctx context.Context, r *repo.Repo, id objects.ID, opts ProveOptions) ([]Result, error) {
	res, err := Prove(ctx, r, id.String(), opts)
	if err != nil {
		return res, &unprovenError{id: id, err: err}
	}
	return res, nil
}

// unprovenError is AfterCommit's failure; its message is the one fed has
// always printed.
type unprovenError struct {
	id  objects.ID
	err error
}

func (e *unprovenError) Error() string {
	return fmt.Sprintf("commit %s was made, but proving it failed: %v", e.id.Short(), e.err)
}
func (e *unprovenError) Unwrap() []error { return []error{ErrUnproven, e.err} }
