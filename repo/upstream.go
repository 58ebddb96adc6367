package repo

import (
	"context"
	"strings"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/refs"
)

// Upstream returns the remote-tracking branch that branch follows, from
// the config keys branch.<name>.remote and branch.<name>.merge (clone sets
// them), as git does; ok is false when branch follows none.
func (r *Repo) Upstream(branch string) (name refs.Name, ok bool) {
	remote, ok := r.Config.Get("branch." + branch + ".remote")
	if !ok || remote == "" {
		return "", false
	}
	merge, ok := r.Config.Get("branch." + branch + ".merge")
	if !ok {
		merge = branch
	}
	return refs.Remote(remote, strings.TrimPrefix(merge, refs.HeadsPrefix)), true
}

// RemoteBranches lists the remote-tracking branches (refs/remotes/...).
func (r *Repo) RemoteBranches() ([]refs.Ref, error) { return r.Refs.List(refs.RemotesPrefix) }

// AheadBehind counts the commits reachable from a but not from b (ahead)
// and from b but not from a (behind).
func (r *Repo) AheadBehind(ctx context.Context, a, b objects.ID) (ahead, behind int, err error) {
	if a == b {
		return 0, 0, nil
	}
	x, err := r.Log(ctx, LogOptions{Start: []objects.ID{a}, Exclude: []objects.ID{b}})
	if err != nil {
		return 0, 0, err
	}
	y, err := r.Log(ctx, LogOptions{Start: []objects.ID{b}, Exclude: []objects.ID{a}})
	if err != nil {
		return 0, 0, err
	}
	return len(x), len(y), nil
}
