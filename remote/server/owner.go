package server

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/refs"
	"github.com/fed-vcs/fed/remote"
)

// Ownership.
//
// Without an NFT, a repository's owner is the key stored in fed-repo.json
// (the creator, or whoever last linked or unlinked an NFT). When the
// settings name an NFT mint, the owner is whoever holds that NFT now, as
// Repository.NFTHolder says for the repository's id: the root commit reached
// by first parents from the default branch (the branch HEAD names). The
// stored key then has no rights of its own. Every owner check (protected
// refs, force, delete, settings, collaborators, reads and writes of the
// owner) goes through call.ownership, which asks at most once per request.
// It fails closed: when the holder cannot be resolved, nobody is the
// owner; the request gets 503 unavailable when the chain could not be
// asked (ErrChainUnavailable) and the refusal it would get otherwise.

// ErrChainUnavailable is what a Repository.NFTHolder returns (wrapped) when
// it could not ask the chain: the server then answers 503 unavailable,
// which clients retry, instead of 403.
var ErrChainUnavailable = errors.New("server: chain unavailable")

// holderTimeout bounds one NFTHolder call.
const holderTimeout = 15 * time.Second

// chainRetryAfter is the Retry-After of a 503 caused by the chain.
const chainRetryAfter = "2"

// maxRoots bounds the cache of root commits per repository.
const maxRoots = 1024

// ownership is who owns a repository at the time of a request.
type ownership struct {
	owner       objects.PublicKey
	known       bool   // owner is set
	why         string // !known: why nobody owns the repository now
	unavailable bool   // !known because the chain could not be asked
}

// is reports whether k is the owner.
func (o ownership) is(k *objects.PublicKey) bool { return o.known && k != nil && *k == o.owner }

func (o ownership) String() string {
	if o.known {
		return o.owner.String()
	}
	return "nobody (" + o.why + ")"
}

// ownership resolves who owns rp now; it is computed once per call.
func (c *call) ownership(rp *repository, m *meta) ownership {
	if c.own == nil {
		o := c.s.resolveOwner(c.r.Context(), rp, m)
		c.own = &o
	}
	return *c.own
}

// isOwner reports whether the caller owns rp now.
func (c *call) isOwner(rp *repository, m *meta) bool {
	return c.key != nil && c.ownership(rp, m).is(c.key)
}

// canWrite reports whether the caller may push: a collaborator (no chain
// needed) or the owner.
func (c *call) canWrite(rp *repository, m *meta) bool {
	return c.key != nil && (slices.Contains(m.Collaborators, c.key.String()) || c.isOwner(rp, m))
}

// canRead reports whether the caller may read rp.
func (c *call) canRead(rp *repository, m *meta) bool { return m.Public || c.canWrite(rp, m) }

// chainDown reports whether the owner check of this call failed because
// the chain could not be asked.
func (c *call) chainDown() bool { return c.own != nil && c.own.unavailable }

// failChainDown answers 503 for an owner check the chain could not
// decide.
func (c *call) failChainDown() {
	c.w.Header().Set("Retry-After", chainRetryAfter)
	c.fail(remote.NewProblem(503, remote.CodeUnavailable, "cannot tell who owns %s now: %s; retry later", c.name, c.own.why))
}

// deny answers p, or 503 when the refusal comes from an unreachable chain.
func (c *call) deny(p *remote.Problem) {
	if c.chainDown() {
		c.failChainDown()
		return
	}
	c.fail(p)
}

// resolveOwner finds rp's owner from its settings m.
func (s *Server) resolveOwner(ctx context.Context, rp *repository, m *meta) ownership {
	if m.NFT == "" {
		k, err := objects.ParsePublicKey(m.Owner)
		if err != nil {
			return ownership{why: "the settings name no valid owner"}
		}
		return ownership{owner: k, known: true}
	}
	mint, err := objects.ParsePublicKey(m.NFT)
	if err != nil {
		return ownership{why: fmt.Sprintf("the settings name an invalid NFT %q", m.NFT)}
	}
	if !s.features.NFTHolder {
		return ownership{why: fmt.Sprintf("the holder of NFT %s owns it, and this server does not ask the chain", mint)}
	}
	id, err := rp.repoID(ctx)
	if err != nil {
		if !errors.Is(err, errNoRepoID) {
			s.opts.ErrorLog("repository id of %s: %v", rp.name, err)
		}
		return ownership{why: fmt.Sprintf("the holder of NFT %s owns it, but %v", mint, err)}
	}
	return s.holder(ctx, rp, mint, id)
}

// holder asks the repository's NFTHolder who holds mint for repository
// id.
func (s *Server) holder(ctx context.Context, rp *repository, mint objects.PublicKey, id objects.ID) ownership {
	hctx, cancel := context.WithTimeout(ctx, holderTimeout)
	defer cancel()
	k, err := rp.hosted.NFTHolder(hctx, mint, id)
	switch {
	case err == nil && k == (objects.PublicKey{}):
		return ownership{why: fmt.Sprintf("nobody holds NFT %s", mint)}
	case err == nil:
		return ownership{owner: k, known: true}
	case errors.Is(err, ErrChainUnavailable) || (hctx.Err() != nil && ctx.Err() == nil):
		return ownership{why: fmt.Sprintf("NFT %s: %v", mint, err), unavailable: true}
	}
	return ownership{why: fmt.Sprintf("NFT %s: %v", mint, err)}
}

// errNoRepoID reports a repository whose default branch has no commits.
var errNoRepoID = errors.New("server: the default branch has no commits, so the repository has no id yet")

// repoID is the repository's id: the root commit reached by first
// parents from the default branch (the branch HEAD names). Roots are
// cached by tip, so a walk stops at the previous tip.
func (rp *repository) repoID(ctx context.Context) (objects.ID, error) {
	h, err := rp.refs.Head(ctx)
	if errors.Is(err, refs.ErrNotFound) {
		return objects.ZeroID, errNoRepoID
	}
	if err != nil {
		return objects.ZeroID, err
	}
	if h.ID.IsZero() {
		return objects.ZeroID, errNoRepoID
	}
	return rp.rootOf(ctx, h.ID, string(h.Symbolic))
}

// rootOf is the root commit reached from tip by first parents; branch
// names tip in errors.
func (rp *repository) rootOf(ctx context.Context, tip objects.ID, branch string) (objects.ID, error) {
	id := tip
	for {
		rp.mu.Lock()
		root, ok := rp.roots[id]
		rp.mu.Unlock()
		if ok {
			id = root
			break
		}
		if err := ctx.Err(); err != nil {
			return objects.ZeroID, err
		}
		c, err := objects.ReadCommit(ctx, rp.store, id)
		if err != nil {
			return objects.ZeroID, fmt.Errorf("find the root commit of %s: %w", branch, err)
		}
		if len(c.Parents) == 0 {
			break
		}
		id = c.Parents[0]
	}
	rp.mu.Lock()
	if rp.roots == nil || len(rp.roots) >= maxRoots {
		rp.roots = map[objects.ID]objects.ID{}
	}
	rp.roots[tip] = id
	rp.mu.Unlock()
	return id, nil
}

// keepsRepoID checks, for a repository linked to an NFT, that no update
// changes the repository's id, which the NFT names: the default branch
// may not be deleted nor moved to a commit of another first-parent root
// (the holder would lock everyone out, itself included). It answers the
// problem and returns false otherwise.
func (c *call) keepsRepoID(ctx context.Context, rp *repository, m *meta, updates []remote.RefUpdate) bool {
	if m.NFT == "" {
		return true
	}
	h, err := rp.refs.Head(ctx)
	if err != nil {
		return true // no default branch: no id to keep
	}
	for _, u := range updates {
		if u.Name != string(h.Symbolic) {
			continue
		}
		cur, err := rp.repoID(ctx)
		if errors.Is(err, errNoRepoID) {
			return true
		}
		if err != nil {
			c.internal(err)
			return false
		}
		hint := "unlink the NFT first (fed nft unlink), then mint and link one that names the new id"
		if u.New.IsZero() {
			p := remote.NewProblem(409, remote.CodeRepoIDChange, "deleting %s, the default branch, would leave the repository without the id %s that its NFT %s names; %s", u.Name, cur.Short(), m.NFT, hint)
			p.Ref = u.Name
			c.fail(p)
			return false
		}
		root, err := rp.rootOf(ctx, u.New, u.Name)
		if err != nil {
			c.internal(err)
			return false
		}
		if root != cur {
			p := remote.NewProblem(409, remote.CodeRepoIDChange, "%s, the default branch, would start from root commit %s instead of %s, changing the repository id that its NFT %s names; %s", u.Name, root.Short(), cur.Short(), m.NFT, hint)
			p.Ref = u.Name
			c.fail(p)
			return false
		}
	}
	return true
}

// linkNFT checks that the caller may link rp to NFT mint: the server asks
// the chain, mint's fed.repo is rp's id, and the caller holds it. It
// answers the problem and returns false otherwise.
func (c *call) linkNFT(rp *repository, mint objects.PublicKey) bool {
	if !c.s.features.NFTHolder {
		c.fail(remote.NewProblem(400, remote.CodeBadRequest, "this server does not ask a chain who holds NFTs (fed serve --solana-rpc), so it cannot link %s to NFT %s", c.name, mint))
		return false
	}
	ctx := c.r.Context()
	id, err := rp.repoID(ctx)
	if errors.Is(err, errNoRepoID) {
		c.fail(remote.NewProblem(400, remote.CodeBadRequest, "%v: push a commit to it before linking NFT %s", err, mint))
		return false
	}
	if err != nil {
		c.internal(err)
		return false
	}
	o := c.s.holder(ctx, rp, mint, id)
	switch {
	case o.unavailable:
		c.own = &o
		c.failChainDown()
		return false
	case !o.known:
		c.fail(remote.NewProblem(403, remote.CodeForbidden, "cannot link %s (repository id %s) to %s", c.name, id, o.why))
		return false
	case !o.is(c.key):
		c.fail(remote.NewProblem(403, remote.CodeForbidden, "NFT %s is held by %s, not by %s: only its holder may link it", mint, o.owner, c.key))
		return false
	}
	c.own = &o
	return true
}
