package server_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/remote"
	"github.com/fed-vcs/fed/remote/server"
)

// chain stands in for the Solana lookup that fed serve injects
// (nft.HolderCache.RepoHolder): who holds which mint, for which
// repository id, or an error.
type chain struct {
	mu     sync.Mutex
	holder map[objects.PublicKey]objects.PublicKey
	repo   map[objects.PublicKey]objects.ID
	err    error
	asked  []objects.ID // repository ids the server asked about
}

func newChain() *chain {
	return &chain{holder: map[objects.PublicKey]objects.PublicKey{}, repo: map[objects.PublicKey]objects.ID{}}
}

func (ch *chain) set(mint, holder objects.PublicKey, repo objects.ID) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	ch.holder[mint], ch.repo[mint] = holder, repo
}

func (ch *chain) fail(err error) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	ch.err = err
}

func (ch *chain) holderOf(_ context.Context, mint objects.PublicKey, repoID objects.ID) (objects.PublicKey, error) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	ch.asked = append(ch.asked, repoID)
	if ch.err != nil {
		return objects.PublicKey{}, ch.err
	}
	h, ok := ch.holder[mint]
	if !ok {
		return objects.PublicKey{}, errors.New("nft: account not found")
	}
	if ch.repo[mint] != repoID {
		return objects.PublicKey{}, fmt.Errorf("NFT %s belongs to repository %s", mint, ch.repo[mint].Short())
	}
	return h, nil
}

func problemCode(err error) string {
	var p *remote.Problem
	if errors.As(err, &p) {
		return p.Code
	}
	return fmt.Sprintf("not a problem: %v", err)
}

func TestNFTOwnership(t *testing.T) {
	ctx := context.Background()
	owner, bob, carol := keyN(1), keyN(2), keyN(3)
	mint := keyN(40).Public()
	ch := newChain()
	root := t.TempDir()
	ts := newServer(t, withHooks(t, server.Options{Root: root}, hooks{NFTHolder: ch.holderOf}))
	url := ts.URL + "/lab/m"
	noRetry := remote.Options{MaxRetries: -1}
	co := newClient(t, url, owner, noRetry)
	cb := newClient(t, url, bob, noRetry)
	cc := newClient(t, url, carol, noRetry)

	h := newHistory(t, owner)
	c1, _, ids1 := h.commit(objects.ZeroID, 1, 4096, 1, nil)
	c2, _, ids2 := h.commit(c1, 1, 4096, 2, nil)
	c3, _, ids3 := h.commit(c2, 1, 4096, 3, nil)
	c4, _, ids4 := h.commit(c3, 1, 4096, 4, nil)
	nft := mint.String()

	// A repository whose default branch has no commits has no id to link.
	if err := push(ctx, co, h.store, ids1, "refs/heads/dev", objects.ZeroID, c1, false); err != nil {
		t.Fatal(err)
	}
	if _, err := co.UpdateSettings(ctx, remote.SettingsUpdate{NFT: &nft}); problemCode(err) != remote.CodeBadRequest {
		t.Fatalf("linking a repository whose default branch has no commits: %v", err)
	}
	if err := push(ctx, co, h.store, ids1, "refs/heads/main", objects.ZeroID, c1, false); err != nil {
		t.Fatal(err)
	}

	// Linking: only the holder, only an NFT naming this repository.
	if _, err := co.UpdateSettings(ctx, remote.SettingsUpdate{NFT: &nft}); problemCode(err) != remote.CodeForbidden {
		t.Fatalf("linking an NFT that does not exist: %v", err)
	}
	ch.set(mint, owner.Public(), c2)
	if _, err := co.UpdateSettings(ctx, remote.SettingsUpdate{NFT: &nft}); problemCode(err) != remote.CodeForbidden {
		t.Fatalf("linking another repository's NFT: %v", err)
	}
	ch.set(mint, bob.Public(), c1)
	if _, err := co.UpdateSettings(ctx, remote.SettingsUpdate{NFT: &nft}); problemCode(err) != remote.CodeForbidden {
		t.Fatalf("linking an NFT someone else holds: %v", err)
	}
	ch.set(mint, owner.Public(), c1)
	s, err := co.UpdateSettings(ctx, remote.SettingsUpdate{NFT: &nft})
	if err != nil {
		t.Fatalf("link: %v", err)
	}
	if s.NFT != nft || s.Owner != owner.Public().String() {
		t.Fatalf("settings after linking: %+v", s)
	}
	protected := []string{"refs/heads/main"}
	if _, err := co.UpdateSettings(ctx, remote.SettingsUpdate{Protected: &protected}); err != nil {
		t.Fatalf("the holder protects main: %v", err)
	}
	if err := push(ctx, co, h.store, ids2, "refs/heads/main", c1, c2, false); err != nil {
		t.Fatalf("the holder pushes to the protected branch: %v", err)
	}
	if err := push(ctx, cb, h.store, ids3, "refs/heads/main", c2, c3, false); problemCode(err) != remote.CodeForbidden {
		t.Fatalf("push by a stranger: %v", err)
	}

	// The NFT moves to bob: he owns the repository, the previous holder
	// does not.
	ch.set(mint, bob.Public(), c1)
	if s, err := cc.Settings(ctx); err != nil || s.Owner != bob.Public().String() || s.NFT != nft {
		t.Fatalf("settings after the transfer: %+v %v", s, err)
	}
	if err := push(ctx, cb, h.store, ids3, "refs/heads/main", c2, c3, false); err != nil {
		t.Fatalf("the new holder pushes to the protected branch: %v", err)
	}
	if err := push(ctx, co, h.store, ids4, "refs/heads/main", c3, c4, false); problemCode(err) != remote.CodeForbidden {
		t.Fatalf("the previous holder pushes: %v", err)
	}
	if _, err := co.UpdateSettings(ctx, remote.SettingsUpdate{Protected: &[]string{}}); problemCode(err) != remote.CodeForbidden {
		t.Fatalf("the previous holder changes settings: %v", err)
	}
	if err := co.AddCollaborator(ctx, owner.Public()); problemCode(err) != remote.CodeForbidden {
		t.Fatalf("the previous holder adds itself: %v", err)
	}
	if err := cb.AddCollaborator(ctx, owner.Public()); err != nil {
		t.Fatalf("the new holder adds the previous one as collaborator: %v", err)
	}
	if err := push(ctx, co, h.store, ids4, "refs/heads/main", c3, c4, false); problemCode(err) != remote.CodeProtected {
		t.Fatalf("a collaborator pushes to the protected branch: %v", err)
	}
	if _, err := co.UpdateRefs(ctx, []remote.RefUpdate{{Name: "refs/heads/dev", Old: c1, New: objects.ZeroID, Force: true}}); problemCode(err) != remote.CodeForceDenied {
		t.Fatalf("a collaborator deletes a branch: %v", err)
	}
	if err := push(ctx, co, h.store, ids4, "refs/heads/feature", objects.ZeroID, c4, false); err != nil {
		t.Fatalf("a collaborator pushes another branch: %v", err)
	}
	if _, err := cb.UpdateRefs(ctx, []remote.RefUpdate{{Name: "refs/heads/dev", Old: c1, New: objects.ZeroID, Force: true}}); err != nil {
		t.Fatalf("the holder deletes a branch: %v", err)
	}

	// The id asked for is always the first-parent root of main.
	ch.mu.Lock()
	for _, id := range ch.asked {
		if id != c1 {
			t.Errorf("the server asked about repository %s, want the root commit %s", id.Short(), c1.Short())
		}
	}
	ch.mu.Unlock()

	// The chain is down: owner checks fail closed with 503; a
	// collaborator's ordinary push does not need the chain.
	ch.fail(fmt.Errorf("nft: RPC node unreachable: %w", server.ErrChainUnavailable))
	if err := push(ctx, cb, h.store, ids4, "refs/heads/main", c3, c4, false); problemCode(err) != remote.CodeUnavailable {
		t.Fatalf("holder push with the chain down: %v", err)
	}
	var p *remote.Problem
	if _, err := cb.UpdateRefs(ctx, []remote.RefUpdate{{Name: "refs/heads/main", Old: c3, New: c4}}); !errors.As(err, &p) || p.Status != 503 || !p.Retryable() || p.RetryAfter == 0 {
		t.Fatalf("holder push with the chain down: %v (want a retryable 503 with Retry-After)", err)
	}
	if _, err := cc.Settings(ctx); problemCode(err) != remote.CodeUnavailable {
		t.Fatalf("settings with the chain down: %v", err)
	}
	if err := push(ctx, co, h.store, ids4, "refs/heads/feature2", objects.ZeroID, c4, false); err != nil {
		t.Fatalf("collaborator push with the chain down: %v", err)
	}

	// Any other lookup error: nobody is the owner (403, no owner shown).
	ch.fail(errors.New("nft: the NFT belongs to another repository"))
	if _, err := cb.UpdateRefs(ctx, []remote.RefUpdate{{Name: "refs/heads/main", Old: c3, New: c4}}); problemCode(err) != remote.CodeForbidden {
		t.Fatalf("holder push when the lookup fails: %v", err)
	}
	if s, err := cc.Settings(ctx); err != nil || s.Owner != "" || s.NFT != nft {
		t.Fatalf("settings when the lookup fails: %+v %v", s, err)
	}
	ch.fail(nil)

	// A server that does not ask the chain: nobody owns a linked
	// repository, and nothing can be linked there.
	ts2 := newServer(t, server.Options{Root: root})
	cb2 := newClient(t, ts2.URL+"/lab/m", bob, noRetry)
	if _, err := cb2.UpdateSettings(ctx, remote.SettingsUpdate{Protected: &[]string{}}); problemCode(err) != remote.CodeForbidden {
		t.Fatalf("settings change on a server without a chain: %v", err)
	}
	co2 := newClient(t, ts2.URL+"/other/m", owner, noRetry)
	if err := push(ctx, co2, h.store, ids1, "refs/heads/main", objects.ZeroID, c1, false); err != nil {
		t.Fatal(err)
	}
	if _, err := co2.UpdateSettings(ctx, remote.SettingsUpdate{NFT: &nft}); problemCode(err) != remote.CodeBadRequest {
		t.Fatalf("linking on a server without a chain: %v", err)
	}

	// While linked, the default branch keeps its root: not even the
	// holder may move it to another history or delete it (the NFT would
	// name nothing and nobody would own the repository).
	other, _, otherIDs := h.commit(objects.ZeroID, 1, 4096, 9, nil)
	if err := push(ctx, cb, h.store, otherIDs, "refs/heads/main", c3, other, true); problemCode(err) != remote.CodeRepoIDChange {
		t.Fatalf("the holder force-pushes main to another root: %v", err)
	}
	if _, err := cb.UpdateRefs(ctx, []remote.RefUpdate{{Name: "refs/heads/main", Old: c3, New: objects.ZeroID, Force: true}}); problemCode(err) != remote.CodeRepoIDChange {
		t.Fatalf("the holder deletes main: %v", err)
	}
	if err := push(ctx, cb, h.store, otherIDs, "refs/heads/other", objects.ZeroID, other, false); err != nil {
		t.Fatalf("another root on another branch: %v", err)
	}
	if s, err := cc.Settings(ctx); err != nil || s.Owner != bob.Public().String() {
		t.Fatalf("settings after the refused rewrites: %+v %v", s, err)
	}

	// The holder unlinks: the owner is then the key that unlinked, who
	// may then rewrite main.
	empty := ""
	s, err = cb.UpdateSettings(ctx, remote.SettingsUpdate{NFT: &empty})
	if err != nil || s.NFT != "" || s.Owner != bob.Public().String() {
		t.Fatalf("unlink: %+v %v", s, err)
	}
	if err := push(ctx, cb, h.store, otherIDs, "refs/heads/main", c3, other, true); err != nil {
		t.Fatalf("force-pushing main to another root after unlinking: %v", err)
	}
	ch.set(mint, owner.Public(), c1)
	if _, err := co.UpdateSettings(ctx, remote.SettingsUpdate{Protected: &[]string{}}); problemCode(err) != remote.CodeForbidden {
		t.Fatalf("the NFT's holder changes the settings of an unlinked repository: %v", err)
	}

	// Bad mints are refused by the decoder.
	bad := "not-a-mint"
	if _, err := cb.UpdateSettings(ctx, remote.SettingsUpdate{NFT: &bad}); problemCode(err) != remote.CodeBadRequest {
		t.Fatalf("a bad mint: %v", err)
	}
}

// TestNFTPrivateChainDown checks that a private repository stays
// indistinguishable from an absent one while the chain is down.
func TestNFTPrivateChainDown(t *testing.T) {
	ctx := context.Background()
	owner, stranger := keyN(1), keyN(3)
	mint := keyN(41).Public()
	ch := newChain()
	ts := newServer(t, withHooks(t, server.Options{}, hooks{NFTHolder: ch.holderOf}))
	noRetry := remote.Options{MaxRetries: -1}
	co := newClient(t, ts.URL+"/lab/p", owner, noRetry)
	h := newHistory(t, owner)
	c1, _, ids1 := h.commit(objects.ZeroID, 1, 4096, 1, nil)
	if err := push(ctx, co, h.store, ids1, "refs/heads/main", objects.ZeroID, c1, false); err != nil {
		t.Fatal(err)
	}
	ch.set(mint, owner.Public(), c1)
	nft, priv := mint.String(), false
	if _, err := co.UpdateSettings(ctx, remote.SettingsUpdate{NFT: &nft, Public: &priv}); err != nil {
		t.Fatal(err)
	}
	if _, err := co.Refs(ctx); err != nil {
		t.Fatalf("the holder reads the private repository: %v", err)
	}
	ch.fail(server.ErrChainUnavailable)
	cs := newClient(t, ts.URL+"/lab/p", stranger, noRetry)
	if _, err := cs.Refs(ctx); problemCode(err) != remote.CodeNotFound {
		t.Fatalf("a stranger reads a private repository with the chain down: %v", err)
	}
}
