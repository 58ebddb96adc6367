package transfer

import (
	"context"
	"errors"
	"fmt"

	"github.com/fed-vcs/fed/governing"
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/objects/graph"
	"github.com/fed-vcs/fed/refs"
	"github.com/fed-vcs/fed/remote"
	"github.com/fed-vcs/fed/repo"
)

// Errors of push and pull.
var (
	// ErrDiverged reports a pull whose local and remote branches both have
	// commits the other lacks: they need a merge.
	ErrDiverged = errors.New("transfer: local and remote branches have diverged")
	// ErrRejected reports a push the server would not apply without force
	// (the remote branch has commits the local one lacks).
	ErrRejected = errors.New("transfer: push rejected: not a fast-forward")
)

// PushOptions tune Push.
type PushOptions struct {
	Remote       string // default repo.DefaultRemote
	Branch       string // local branch (default: the current one)
	RemoteBranch string // branch on the server (default: Branch)
	// Tag pushes refs/tags/Tag instead of a branch (with Branch and
	// RemoteBranch empty). A tag the server holds with another value is
	// replaced only with Force.
	Tag string
	// Force allows a push that is not a fast-forward (the server grants it
	// to the owner only). The server still checks that the branch has the
	// value this repository last saw, so nothing pushed meanwhile is lost.
	Force bool
	// PrivateWeights withholds the weights: the tensor objects of the
	// pushed commits' models stay off the server, which gets commits,
	// trees, models, proofs and other files (private.go). Every commit
	// concerned must record its zk root and have a proof. The config key
	// remote.<name>.private-weights true makes it the default for a
	// remote. Tensors this repository lacks because they were withheld
	// from it are withheld in any case.
	PrivateWeights bool
	// MarkPrivate marks the weights the push sends as private to this
	// remote (an aggregator: fed push --aggregator): whoever fetches them
	// from there withholds them from every other remote (repo's private
	// marks). The server must speak remote.FeaturePrivate. The config key
	// remote.<name>.aggregator true makes it the default for a remote.
	MarkPrivate bool
	// ReleaseWeights pushes weights this repository fetched as private to
	// another remote (their aggregator) as well; without it they are
	// withheld, and every commit reaching them needs its zk root and proof.
	ReleaseWeights bool
	// Client tunes the protocol client (Key and Progress default to the
	// repository's).
	Client remote.Options
}

// PushResult reports a push.
type PushResult struct {
	Remote   string
	Ref      string // the branch on the server
	Old, New objects.ID
	UpToDate bool
	Stats    remote.SendStats
	// Withheld counts the tensor objects the push kept off the server
	// (that the server did not already hold).
	Withheld int
	// Private reports a push that withheld weights.
	Private bool
	// KeptPrivate counts the withheld weight objects that were fetched as
	// private to another remote (their aggregator); Released counts those
	// ReleaseWeights sent instead; Marked those MarkPrivate marked.
	KeptPrivate, Released, Marked int
	// AggregatorDefault reports that this push, asked to mark weights
	// private (PushOptions.MarkPrivate) by a repository without a
	// remote.<name>.aggregator setting, set it to true.
	AggregatorDefault bool
	// PrivateDefault reports that this push, asked to withhold weights
	// (PushOptions.PrivateWeights) by a repository that had no
	// remote.<name>.private-weights setting, set it to true: later pushes
	// to the remote withhold weights too unless the setting is changed, so
	// a contributor who forgets the flag does not publish them.
	PrivateDefault bool
	// BytesSent counts every request byte (objects and control).
	BytesSent int64
}

// Push uploads what the server lacks of a branch and moves the branch on
// the server from the value it had to the local one, then the matching
// remote-tracking ref. A lost race gives an error matching
// remote.ErrStale; a non-fast-forward without Force, ErrRejected.
func Push(ctx context.Context, r *repo.Repo, opts PushOptions) (*PushResult, error) {
	if opts.Remote == "" {
		opts.Remote = repo.DefaultRemote
	}
	if r.Key == nil && opts.Client.Key == nil {
		return nil, fmt.Errorf("push: %w (pushes are signed)", repo.ErrNoKey)
	}
	localRef, remoteRef, err := pushRefs(r, &opts)
	if err != nil {
		return nil, err
	}
	local, err := r.Refs.Read(localRef)
	if err != nil {
		return nil, fmt.Errorf("push: %s: %w", localRef, err)
	}
	c, err := r.Client(opts.Remote, opts.Client)
	if err != nil {
		return nil, err
	}
	res := &PushResult{Remote: opts.Remote, Ref: remoteRef, New: local}
	defer func() { res.BytesSent = c.BytesSent() }()
	list, known, err := serverState(ctx, r, c, opts.Remote, res)
	if err != nil {
		return nil, err
	}
	if res.Old == local {
		res.UpToDate = true
		if err := pushProofs(ctx, r, c, local, list, opts.Force); err != nil {
			return nil, err
		}
		if err := governing.PushGovernance(ctx, r, c, list); err != nil {
			return nil, err
		}
		return res, setTracking(r, opts, local)
	}
	shallow, err := r.Shallow()
	if err != nil {
		return nil, err
	}
	if err := checkFastForward(ctx, r, opts, res, shallow); err != nil {
		return nil, err
	}
	pol, err := pushPolicy(ctx, r, c, &opts)
	if err != nil {
		return nil, err
	}
	ids, withheld, commits, err := pushSet(ctx, r, local, known, shallow, pol.withhold)
	if err != nil {
		return nil, err
	}
	if withheld, err = pol.count(ctx, c, res, opts, ids, withheld); err != nil {
		return nil, err
	}
	if len(withheld) > 0 {
		if err := finishWithheld(ctx, r, c, res, opts, ids, withheld, commits, list); err != nil {
			return nil, err
		}
		return res, setTracking(r, opts, local)
	}
	if err := finishPush(ctx, r, c, res, opts, ids, commits, list); err != nil {
		return nil, err
	}
	if err := setDefault(r, AggregatorKey(opts.Remote), pol.markFlag, &res.AggregatorDefault); err != nil {
		return nil, err
	}
	return res, setTracking(r, opts, local)
}

// pushRefs returns the local ref a push sends and the ref it moves on
// the server, filling in opts' default branches.
func pushRefs(r *repo.Repo, opts *PushOptions) (refs.Name, string, error) {
	if opts.Tag != "" {
		if opts.Branch != "" || opts.RemoteBranch != "" {
			return "", "", fmt.Errorf("push: a tag or a branch, not both")
		}
		return refs.Tag(opts.Tag), refs.TagsPrefix + opts.Tag, nil
	}
	if opts.Branch == "" {
		_, cur, err := r.Head()
		if err != nil {
			return "", "", err
		}
		if cur == "" {
			return "", "", fmt.Errorf("push: HEAD is detached; name the branch to push")
		}
		opts.Branch = cur.Short()
	}
	if opts.RemoteBranch == "" {
		opts.RemoteBranch = opts.Branch
	}
	return refs.Branch(opts.Branch), refs.HeadsPrefix + opts.RemoteBranch, nil
}

// serverState lists the server's refs (nil for a repository it does not
// have yet), sets res.Old, and returns the commits known to be on the
// server with their closures: its ref values this repository holds, and
// the remote-tracking refs of the remote.
func serverState(ctx context.Context, r *repo.Repo, c *remote.Client, remoteName string, res *PushResult) (*remote.RefList, map[objects.ID]bool, error) {
	list, err := c.Refs(ctx)
	if err != nil && !errors.Is(err, remote.ErrNotFound) {
		return nil, nil, fmt.Errorf("push: %w", err)
	}
	known := map[objects.ID]bool{}
	if list != nil {
		for _, ref := range list.Refs {
			if ref.Name == res.Ref {
				res.Old = ref.ID
			}
			if ok, _ := r.Objects.Has(ctx, ref.ID); ok {
				known[ref.ID] = true
			}
		}
	}
	tracking, err := r.Refs.List(refs.RemotesPrefix + remoteName + "/")
	if err != nil {
		return nil, nil, err
	}
	for _, t := range tracking {
		known[t.ID] = true
	}
	return list, known, nil
}

// checkFastForward refuses, without Force, to replace a tag or to move a
// branch to a value that does not descend from the server's.
func checkFastForward(ctx context.Context, r *repo.Repo, opts PushOptions, res *PushResult, shallow map[objects.ID]bool) error {
	if opts.Force || res.Old.IsZero() {
		return nil
	}
	if opts.Tag != "" {
		return fmt.Errorf("%w: tag %s on %s names %s, not %s; replacing a tag needs --force (the owner's right)", ErrRejected, opts.Tag, opts.Remote, res.Old.Short(), res.New.Short())
	}
	ok, err := isAncestorShallow(ctx, r, res.Old, res.New, shallow)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: %s on %s has commits this repository lacks (fetch and merge first, or force)", ErrRejected, res.Ref, opts.Remote)
	}
	return nil
}

// isAncestorShallow is repo's IsAncestor that stops at shallow commits; a
// commit it cannot read counts as not leading to a.
func isAncestorShallow(ctx context.Context, r *repo.Repo, a, b objects.ID, shallow map[objects.ID]bool) (bool, error) {
	h := graph.History{Parents: graph.Boundary(shallow, false), SkipAbsent: true}
	return h.IsAncestor(ctx, r.Objects, a, b)
}

// finishPush uploads ids, the proofs of the branch's commits and the
// reviews and attestations held here, then moves the branch on the server (marking the weights private to it
// when opts.MarkPrivate).
func finishPush(ctx context.Context, r *repo.Repo, c *remote.Client, res *PushResult, opts PushOptions, ids, commits []objects.ID, list *remote.RefList) error {
	disk, err := r.Disk()
	if err != nil {
		return err
	}
	if res.Stats, err = c.SendMissing(ctx, disk, ids); err != nil {
		return fmt.Errorf("push: %w", err)
	}
	if err := pushProofs(ctx, r, c, res.New, list, opts.Force); err != nil {
		return err
	}
	// reviews and attestations first: the branch's policy may need them
	if err := governing.PushGovernance(ctx, r, c, list); err != nil {
		return err
	}
	var marks []objects.ID
	if opts.MarkPrivate {
		if marks, err = tensorsToMark(ctx, r, commits, ids); err != nil {
			return err
		}
		res.Marked = len(marks)
	}
	update := []remote.RefUpdate{{Name: res.Ref, Old: res.Old, New: res.New, Force: opts.Force}}
	_, err = c.UpdateRefsPrivate(ctx, update, nil, marks)
	// A server whose collection removed objects this push sent, once
	// their lease ran out (a push slower than its grace period), says
	// lease-expired: send what it lacks again and update again.
	for retry := 0; retry < leaseRetries && isLeaseExpired(err); retry++ {
		if _, err = c.SendMissing(ctx, disk, ids); err != nil {
			return fmt.Errorf("push: %w", err)
		}
		_, err = c.UpdateRefsPrivate(ctx, update, nil, marks)
	}
	if errors.Is(err, remote.ErrNonFastForward) {
		return fmt.Errorf("%w: %v", ErrRejected, err)
	}
	if err != nil {
		return fmt.Errorf("push: %w", err)
	}
	return nil
}

// leaseRetries bounds how often a push sends its objects again after
// the server answered lease-expired.
const leaseRetries = 3

func isLeaseExpired(err error) bool {
	var p *remote.Problem
	return errors.As(err, &p) && p.Code == remote.CodeLeaseExpired
}

// setTracking records a pushed branch's remote-tracking ref; tags have
// none (fetch writes them under refs/tags/ directly).
func setTracking(r *repo.Repo, opts PushOptions, id objects.ID) error {
	if opts.Tag != "" {
		return nil
	}
	return r.Refs.Transaction([]refs.Update{{Name: refs.Remote(opts.Remote, opts.RemoteBranch), New: id, Force: true}}, r.Entry("update by push"))
}

// setDefault sets the boolean config key to true when flag asked for it
// and the repository has no setting, so that later pushes to the remote
// do the same without the flag; *set reports that it did.
func setDefault(r *repo.Repo, key string, flag bool, set *bool) error {
	if !flag {
		return nil
	}
	if _, ok := r.Config.Get(key); ok {
		return nil
	}
	r.Config.Set(key, "true")
	if err := r.Config.Save(); err != nil {
		return err
	}
	*set = true
	return nil
}
