package server

import (
	"context"
	"errors"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/remote"
)

// checkSettingsRef checks an update of remote.SettingsRef (doc/protocol.md
// §6.8.1): only the owner moves it, to a well-formed settings commit that
// the owner signed, as a fast-forward of the settings it replaces unless
// forced. It answers the problem to send, nil when the update may go on;
// owner reports whether the caller owns the repository now.
func (c *call) checkSettingsRef(ctx context.Context, rp *repository, u remote.RefUpdate, owner func() bool) (*remote.Problem, bool) {
	if !owner() {
		p := remote.NewProblem(403, remote.CodeForbidden, "only the owner may set %s (the repository's signed zk settings)", u.Name)
		p.Ref = u.Name
		return p, true
	}
	if u.New.IsZero() {
		return nil, false
	}
	bad := func(format string, args ...any) (*remote.Problem, bool) {
		p := remote.NewProblem(422, remote.CodeBadSettings, format, args...)
		p.Ref = u.Name
		return p, false
	}
	o, err := objects.Read(ctx, rp.store, u.New, objects.KindCommit)
	if err != nil {
		return bad("%s must point to a settings commit: %v", u.Name, err)
	}
	cm := o.(*objects.Commit)
	if _, err := remote.ParseSettingsCommit(cm); err != nil {
		return bad("%s %s: %v", u.Name, u.New.Short(), err)
	}
	if cm.Author != *c.key {
		return bad("%s %s is signed by %s, not by the owner %s who pushes it", u.Name, u.New.Short(), cm.Author, c.key)
	}
	if !u.Old.IsZero() && !u.Force {
		ok, _, err := rp.isAncestor(ctx, u.Old, u.New, 1000)
		if err != nil && !errors.Is(err, objects.ErrNotFound) {
			return bad("%s: %v", u.Name, err)
		}
		if !ok {
			p := remote.NewProblem(409, remote.CodeNonFastForward, "%s: %s does not replace %s (its parent); fetch and try again, or force", u.Name, u.New.Short(), u.Old.Short())
			p.Ref = u.Name
			return p, false
		}
	}
	return nil, false
}
