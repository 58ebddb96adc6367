package server

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/fed-vcs/fed/governance"
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/refs"
	"github.com/fed-vcs/fed/remote"
)

// Governance on the server (doc/protocol.md §6.9, doc/design.md §19):
// reviews and attestations anyone who may push may add (each is signed by
// its author, whoever relays it), and never move; a branch's policy and
// the name map are the owner's, signed by the owner, each replacing the
// one before it; a branch whose policy is on moves only by the owner or
// its maintainers, and only to a commit that meets the policy with the
// reviews, attestations and proofs the server holds or the same request
// brings.

// policyFor returns the policy in force for the branch ref name
// (refs/heads/X): nil when it has none or it is off.
func (rp *repository) policyFor(ctx context.Context, name string) (*governance.Policy, error) {
	branch, ok := strings.CutPrefix(name, refs.HeadsPrefix)
	if !ok {
		return nil, nil
	}
	id, err := rp.refs.Read(ctx, refs.Name(governance.PolicyRef(branch)))
	if errors.Is(err, refs.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	p, err := rp.readPolicy(ctx, id)
	if err != nil || p.Off {
		return nil, err
	}
	return p, nil
}

func (rp *repository) readPolicy(ctx context.Context, id objects.ID) (*governance.Policy, error) {
	r, err := rp.readRecord(ctx, id)
	if err != nil {
		return nil, err
	}
	p, ok := r.(*governance.Policy)
	if !ok {
		return nil, fmt.Errorf("%s is a %s, not a policy", id.Short(), r.Kind())
	}
	return p, nil
}

func (rp *repository) readRecord(ctx context.Context, id objects.ID) (governance.Record, error) {
	c, err := objects.ReadCommit(ctx, rp.store, id)
	if err != nil {
		return nil, err
	}
	return governance.Parse(id, c)
}

// checkPolicyPusher refuses an update of a branch whose policy is on by
// anyone but the owner and the policy's maintainers.
func (c *call) checkPolicyPusher(ctx context.Context, rp *repository, m *meta, u remote.RefUpdate, owner func() bool) (*remote.Problem, error) {
	p, err := rp.policyFor(ctx, u.Name)
	if p == nil || err != nil {
		return nil, err
	}
	if owner() || slices.Contains(p.Maintainers, *c.key) {
		return nil, nil
	}
	who := "the owner " + c.ownership(rp, m).String()
	if len(p.Maintainers) > 0 {
		who += " and its maintainers " + keyList(p.Maintainers)
	}
	pr := remote.NewProblem(403, remote.CodeProtected, "%s is protected by its policy %s: only %s may push to it; ask one of them to merge your commit (approvals, attestations: fed policy show)", u.Name, p.ID.Short(), who)
	pr.Ref = u.Name
	return pr, nil
}

func keyList(keys []objects.PublicKey) string {
	s := make([]string, len(keys))
	for i, k := range keys {
		s[i] = k.String()
	}
	return strings.Join(s, ", ")
}

// govRequest is what one ref-update request brings of governance: the
// records its review and attestation refs set.
type govRequest struct {
	reviews      []*governance.Review
	attestations []*governance.Attestation
}

// checkGovernanceRef checks an update of a governance ref; deny reports a
// refusal for lack of rights (403) rather than bad input.
func (c *call) checkGovernanceRef(ctx context.Context, rp *repository, u remote.RefUpdate, owner func() bool, req *govRequest) (p *remote.Problem, deny bool) {
	bad := func(format string, args ...any) (*remote.Problem, bool) {
		p := remote.NewProblem(422, remote.CodeBadRecord, format, args...)
		p.Ref = u.Name
		return p, false
	}
	if u.New.IsZero() {
		return nil, false // a deletion: force, the owner's (checked before)
	}
	rec, err := rp.readRecord(ctx, u.New)
	if err != nil {
		return bad("%s must point to a signed governance record: %v", u.Name, err)
	}
	if prefix, commit, id, ok := governance.ParseRecordRef(u.Name); ok {
		if id != u.New {
			return bad("%s names record %s but points to %s", u.Name, id.Short(), u.New.Short())
		}
		if !u.Old.IsZero() && !u.Force {
			p := remote.NewProblem(409, remote.CodeNonFastForward, "%s exists; a review or attestation never moves (sign a new one)", u.Name)
			p.Ref = u.Name
			return p, false
		}
		var about objects.ID
		switch r := rec.(type) {
		case *governance.Review:
			if prefix != governance.ReviewsPrefix {
				return bad("%s points to a review, which belongs under %s", u.Name, governance.ReviewsPrefix)
			}
			about = r.Commit
			req.reviews = append(req.reviews, r)
		case *governance.Attestation:
			if prefix != governance.AttestationsPrefix {
				return bad("%s points to an attestation, which belongs under %s", u.Name, governance.AttestationsPrefix)
			}
			about = r.Commit
			req.attestations = append(req.attestations, r)
		default:
			return bad("%s points to a %s, not a %s", u.Name, rec.Kind(), strings.TrimSuffix(strings.TrimPrefix(prefix, "refs/"), "s/"))
		}
		if about != commit {
			return bad("%s: %s %s by %s is signed for commit %s, not %s", u.Name, rec.Kind(), u.New.Short(), signerOf(rec), about.Short(), commit.Short())
		}
		return nil, false
	}
	// a policy or the name map: the owner's, signed by the owner, each
	// replacing the one before
	if !owner() {
		p := remote.NewProblem(403, remote.CodeForbidden, "only the owner may set %s", u.Name)
		p.Ref = u.Name
		return p, true
	}
	var parent objects.ID
	switch r := rec.(type) {
	case *governance.Policy:
		if u.Name != governance.PolicyRef(r.Branch) {
			return bad("%s points to the policy of branch %s", u.Name, r.Branch)
		}
		parent = r.Parent
	case *governance.Names:
		if u.Name != governance.NamesRef {
			return bad("%s points to a name map", u.Name)
		}
		parent = r.Parent
	default:
		return bad("%s points to a %s", u.Name, rec.Kind())
	}
	if signerOf(rec) != *c.key {
		return bad("%s %s is signed by %s, not by the owner %s who pushes it", rec.Kind(), u.New.Short(), signerOf(rec), c.key)
	}
	if parent != u.Old && !u.Force {
		p := remote.NewProblem(409, remote.CodeNonFastForward, "%s: %s %s replaces %s, but the server holds %s; fetch and sign again", u.Name, rec.Kind(), u.New.Short(), orNone(parent), orNone(u.Old))
		p.Ref = u.Name
		return p, false
	}
	return nil, false
}

func orNone(id objects.ID) string {
	if id.IsZero() {
		return "none"
	}
	return id.Short()
}

func signerOf(r governance.Record) objects.PublicKey { return r.Build().Author }

// checkPolicy checks that the new commit of a branch update meets the
// branch's policy, with the records the server holds and those req
// brings; proofs are the proofs the request sets.
func (c *call) checkPolicy(ctx context.Context, rp *repository, m *meta, u remote.RefUpdate, req *govRequest, proofs map[objects.ID]objects.ID) (*remote.Problem, error) {
	p, err := rp.policyFor(ctx, u.Name)
	if p == nil || err != nil {
		return nil, err
	}
	cm, err := objects.ReadCommit(ctx, rp.store, u.New)
	if err != nil {
		return nil, err
	}
	ev := governance.Evidence{Commit: u.New, Author: cm.Author, Reviews: slices.Clone(req.reviews), Attestations: slices.Clone(req.attestations)}
	own := c.ownership(rp, m)
	ev.MayReview = func(k objects.PublicKey) bool {
		return own.is(&k) || slices.Contains(m.Collaborators, k.String())
	}
	for _, prefix := range []string{governance.ReviewsPrefix, governance.AttestationsPrefix} {
		held, err := rp.refs.List(ctx, prefix+u.New.String()+"/")
		if err != nil {
			return nil, err
		}
		for _, h := range held {
			rec, err := rp.readRecord(ctx, h.ID)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", h.Name, err)
			}
			switch r := rec.(type) {
			case *governance.Review:
				ev.Reviews = append(ev.Reviews, r)
			case *governance.Attestation:
				ev.Attestations = append(ev.Attestations, r)
			}
		}
	}
	if _, ok := proofs[u.New]; ok {
		ev.HasProof = true
	} else if _, err := rp.refs.Read(ctx, refs.Name(remote.ProofsPrefix+u.New.String())); err == nil {
		ev.HasProof = true
	}
	missing := governance.Check(p, ev)
	if len(missing) == 0 {
		return nil, nil
	}
	pr := remote.NewProblem(422, remote.CodePolicyUnmet, "commit %s does not meet the policy %s of %s: %s", u.New.Short(), p.ID.Short(), u.Name, unmetText(missing))
	pr.Ref = u.Name
	for _, ms := range missing {
		pr.Unmet = append(pr.Unmet, remote.Unmet{Condition: ms.Condition, Have: ms.Have})
	}
	return pr, nil
}

func unmetText(ms []governance.Missing) string {
	s := make([]string, len(ms))
	for i, m := range ms {
		s[i] = m.String()
	}
	return strings.Join(s, "; ")
}
