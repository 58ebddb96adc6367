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

// PullOptions tune Pull.
type PullOptions struct {
	Remote string // default: branch.<current>.remote, else repo.DefaultRemote
	Branch string // remote branch (default: branch.<current>.merge, else the current branch's name)
	Client remote.Options
	// Merge, when set, merges diverged branches: Pull calls it, without
	// the repository lock, with the remote branch's commit and the message
	// of the merge commit, and reports the commit it returns (package
	// mergeexec merges). Without it, diverged branches give ErrDiverged.
	Merge func(ctx context.Context, upstream objects.ID, message string) (objects.ID, error)
}

// PullResult reports a pull.
type PullResult struct {
	Fetch       *FetchResult
	Old, New    objects.ID
	UpToDate    bool
	FastForward bool
	Merged      bool // the branches had diverged and opts.Merge merged them
}

// Pull fetches and then brings the current branch up to the remote one:
// a fast-forward (checking out the new files, refusing to overwrite local
// changes) when the local branch has nothing the remote lacks.
// Diverged branches are merged with opts.Merge, or give ErrDiverged.
func Pull(ctx context.Context, r *repo.Repo, opts PullOptions) (*PullResult, error) {
	head, cur, err := r.Head()
	if err != nil {
		return nil, err
	}
	if cur == "" {
		return nil, fmt.Errorf("pull: HEAD is detached; switch to a branch first")
	}
	pullDefaults(r, cur, &opts)
	fr, err := Fetch(ctx, r, FetchOptions{Remote: opts.Remote, Client: opts.Client})
	if err != nil {
		return nil, err
	}
	res := &PullResult{Fetch: fr, Old: head, New: head}
	upstream, err := r.Refs.Read(refs.Remote(opts.Remote, opts.Branch))
	if errors.Is(err, refs.ErrNotFound) {
		return nil, fmt.Errorf("pull: %s has no branch %s", opts.Remote, opts.Branch)
	}
	if err != nil {
		return nil, err
	}
	unlock, err := r.LockWorktree()
	if err != nil {
		return nil, err
	}
	defer func() { unlock() }()
	shallow, err := r.Shallow()
	if err != nil {
		return nil, err
	}
	if ok, err := isAncestorShallow(ctx, r, upstream, head, shallow); err != nil {
		return nil, err
	} else if ok && !head.IsZero() {
		res.UpToDate = true
		return res, nil
	}
	if !head.IsZero() {
		ok, err := isAncestorShallow(ctx, r, head, upstream, shallow)
		if err != nil {
			return nil, err
		}
		if !ok && opts.Merge != nil {
			unlock()
			unlock = func() error { return nil }
			id, err := opts.Merge(ctx, upstream, fmt.Sprintf("Merge %s/%s into %s", opts.Remote, opts.Branch, cur.Short()))
			res.Merged = true
			if !id.IsZero() {
				res.New = id
			}
			return res, err
		}
		if !ok {
			return nil, fmt.Errorf("%w: %s and %s/%s each have commits the other lacks; merge %s/%s", ErrDiverged, cur.Short(), opts.Remote, opts.Branch, opts.Remote, opts.Branch)
		}
	}
	if err := r.FastForward(ctx, "pull", head, upstream); err != nil {
		return nil, err
	}
	res.New, res.FastForward = upstream, true
	return res, nil
}

// pullDefaults fills in the remote and branch a pull of branch cur
// takes: its upstream, else repo.DefaultRemote and a branch of its name.
func pullDefaults(r *repo.Repo, cur refs.Name, opts *PullOptions) {
	if opts.Remote == "" {
		opts.Remote, _ = r.Config.Get("branch." + cur.Short() + ".remote")
	}
	if opts.Remote == "" {
		opts.Remote = repo.DefaultRemote
	}
	if opts.Branch == "" {
		if m, ok := r.Config.Get("branch." + cur.Short() + ".merge"); ok {
			opts.Branch = strings.TrimPrefix(m, refs.HeadsPrefix)
		} else {
			opts.Branch = cur.Short()
		}
	}
}
