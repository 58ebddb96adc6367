package server_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/remote"
	"github.com/fed-vcs/fed/remote/server"
)

// Parties who do not trust each other (doc/security.md): a repository
// with an owner, a collaborator, and an attacker who is a collaborator too
// and plays against the others, each with a key, a client and a history
// writer signing with that key; all histories share one store.
type party struct {
	key *objects.Keypair
	c   *remote.Client
	h   *history
}

type trustRepo struct {
	ts                      *testServer
	url                     string
	owner, collab, attacker party
	outsider                party
	store                   *objects.DiskStore
	root                    objects.ID // main's first commit, by the owner
	rootIDs                 []objects.ID
}

// newTrustRepo creates repository lab/m with main at a root commit of the
// owner's, and the collaborator and the attacker as collaborators.
func newTrustRepo(t *testing.T, opts server.Options) *trustRepo {
	t.Helper()
	ctx := context.Background()
	ts := newServer(t, opts)
	tr := &trustRepo{ts: ts, url: ts.URL + "/lab/m"}
	mk := func(n byte, h0 *history) party {
		k := keyN(n)
		h := newHistory(t, k)
		if h0 != nil {
			h.store = h0.store
		}
		return party{key: k, c: newClient(t, tr.url, k, remote.Options{}), h: h}
	}
	tr.owner = mk(1, nil)
	tr.store = tr.owner.h.store
	tr.collab = mk(2, tr.owner.h)
	tr.outsider = mk(3, tr.owner.h)
	tr.attacker = mk(4, tr.owner.h)
	tr.root, _, tr.rootIDs = tr.owner.h.commit(objects.ZeroID, 1, 1024, 1, nil)
	if err := push(ctx, tr.owner.c, tr.store, tr.rootIDs, "refs/heads/main", objects.ZeroID, tr.root, false); err != nil {
		t.Fatal(err)
	}
	for _, p := range []party{tr.collab, tr.attacker} {
		if err := tr.owner.c.AddCollaborator(ctx, p.key.Public()); err != nil {
			t.Fatal(err)
		}
	}
	return tr
}

// tag stores a tag object signed by h's key.
func (h *history) tag(target objects.ID, kind objects.Kind, name string) objects.ID {
	h.t.Helper()
	tg := &objects.Tag{Target: target, TargetKind: kind, Name: name, Time: 1_700_000_000, Message: "tag " + name}
	if err := objects.SignTag(tg, h.key); err != nil {
		h.t.Fatal(err)
	}
	id, err := objects.Write(context.Background(), h.store, tg)
	if err != nil {
		h.t.Fatal(err)
	}
	return id
}

// update sends one ref update after uploading ids; it returns the problem
// code ("" on success).
func (p party) update(t *testing.T, st *objects.DiskStore, ids []objects.ID, u remote.RefUpdate) string {
	t.Helper()
	ctx := context.Background()
	if len(ids) > 0 {
		if _, err := p.c.SendMissing(ctx, st, ids); err != nil {
			t.Fatalf("upload: %v", err)
		}
	}
	_, err := p.c.UpdateRefs(ctx, []remote.RefUpdate{u})
	var pr *remote.Problem
	switch {
	case err == nil:
		return ""
	case errors.As(err, &pr):
		return pr.Code
	}
	t.Fatalf("update %s: %v", u.Name, err)
	return ""
}

func (tr *trustRepo) ref(t *testing.T, name string) objects.ID {
	t.Helper()
	l, err := tr.owner.c.Refs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range l.Refs {
		if r.Name == name {
			return r.ID
		}
	}
	return objects.ZeroID
}

// TestTagsNeedForce: a tag, once on the server, is moved or replaced only
// with force, the owner's right; creating one needs only the right to
// push. (Issue: a collaborator moved v0 forward, repointed the annotated
// v1 at a tag object on an unrelated root, and replaced v0 by a tag
// object, all without force.)
func TestTagsNeedForce(t *testing.T) {
	tr := newTrustRepo(t, server.Options{})
	st := tr.store
	// the collaborator builds on main and tags: new tags need no force
	c2, _, ids2 := tr.collab.h.commit(tr.root, 1, 1024, 2, nil)
	if code := tr.collab.update(t, st, ids2, remote.RefUpdate{Name: "refs/heads/main", Old: tr.root, New: c2}); code != "" {
		t.Fatalf("collaborator's push to main: %s", code)
	}
	if code := tr.collab.update(t, st, nil, remote.RefUpdate{Name: "refs/tags/v0", New: tr.root}); code != "" {
		t.Fatalf("collaborator creating lightweight tag v0: %s", code)
	}
	v1 := tr.owner.h.tag(tr.root, objects.KindCommit, "v1")
	if code := tr.owner.update(t, st, []objects.ID{v1}, remote.RefUpdate{Name: "refs/tags/v1", New: v1}); code != "" {
		t.Fatalf("owner creating annotated tag v1: %s", code)
	}
	other, _, otherIDs := tr.attacker.h.commit(objects.ZeroID, 1, 1024, 9, nil)
	if code := tr.attacker.update(t, st, otherIDs, remote.RefUpdate{Name: "refs/heads/attacker", New: other}); code != "" {
		t.Fatalf("attacker's own branch: %s", code)
	}
	forged := tr.attacker.h.tag(other, objects.KindCommit, "v1")
	asTag := tr.attacker.h.tag(c2, objects.KindCommit, "v0")
	for _, tc := range []struct {
		name string
		p    party
		ids  []objects.ID
		u    remote.RefUpdate
		want string
	}{
		{"collaborator moves lightweight tag forward", tr.attacker, nil, remote.RefUpdate{Name: "refs/tags/v0", Old: tr.root, New: c2}, remote.CodeTagExists},
		{"collaborator forces a lightweight tag", tr.attacker, nil, remote.RefUpdate{Name: "refs/tags/v0", Old: tr.root, New: c2, Force: true}, remote.CodeForceDenied},
		{"collaborator repoints annotated tag to another root", tr.attacker, []objects.ID{forged}, remote.RefUpdate{Name: "refs/tags/v1", Old: v1, New: forged}, remote.CodeTagExists},
		{"collaborator replaces lightweight tag by a tag object", tr.attacker, []objects.ID{asTag}, remote.RefUpdate{Name: "refs/tags/v0", Old: tr.root, New: asTag}, remote.CodeTagExists},
		{"collaborator replaces annotated tag by a commit", tr.attacker, nil, remote.RefUpdate{Name: "refs/tags/v1", Old: v1, New: tr.root}, remote.CodeTagExists},
		{"owner moves a tag without force", tr.owner, nil, remote.RefUpdate{Name: "refs/tags/v0", Old: tr.root, New: c2}, remote.CodeTagExists},
	} {
		if got := tc.p.update(t, st, tc.ids, tc.u); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
	if got := tr.ref(t, "refs/tags/v0"); got != tr.root {
		t.Fatalf("v0 is %s after refused moves, want %s", got.Short(), tr.root.Short())
	}
	if got := tr.ref(t, "refs/tags/v1"); got != v1 {
		t.Fatalf("v1 is %s after refused moves, want %s", got.Short(), v1.Short())
	}
	// the owner forces
	if code := tr.owner.update(t, st, nil, remote.RefUpdate{Name: "refs/tags/v0", Old: tr.root, New: c2, Force: true}); code != "" {
		t.Fatalf("owner forcing v0: %s", code)
	}
}

// TestPushOnCollectedParent: after the owner deletes a branch or forces
// one back and the server's gc removes the commits no ref reaches any
// more, a push building on one of them is refused as incomplete (it was
// accepted, leaving a ref whose history had holes: fsck failed, fetch
// plans answered 500).
func TestPushOnCollectedParent(t *testing.T) {
	ctx := context.Background()
	tr := newTrustRepo(t, server.Options{GCGrace: time.Nanosecond})
	st := tr.store
	gone, _, goneIDs := tr.owner.h.commit(tr.root, 1, 1024, 2, nil)
	if code := tr.owner.update(t, st, goneIDs, remote.RefUpdate{Name: "refs/heads/old", New: gone}); code != "" {
		t.Fatal(code)
	}
	if code := tr.owner.update(t, st, nil, remote.RefUpdate{Name: "refs/heads/old", Old: gone, Force: true}); code != "" {
		t.Fatal(code)
	}
	rewound, _, rewoundIDs := tr.owner.h.commit(tr.root, 1, 1024, 3, nil)
	if code := tr.owner.update(t, st, rewoundIDs, remote.RefUpdate{Name: "refs/heads/main", Old: tr.root, New: rewound}); code != "" {
		t.Fatal(code)
	}
	if code := tr.owner.update(t, st, nil, remote.RefUpdate{Name: "refs/heads/main", Old: rewound, New: tr.root, Force: true}); code != "" {
		t.Fatal(code)
	}
	time.Sleep(10 * time.Millisecond)
	if _, err := tr.ts.srv.GC(ctx); err != nil {
		t.Fatal(err)
	}
	for i, parent := range []objects.ID{gone, rewound} {
		c, _, ids := tr.collab.h.commit(parent, 1, 1024, uint64(10+i), nil)
		if _, err := tr.collab.c.SendMissing(ctx, st, ids); err != nil {
			t.Fatal(err)
		}
		_, err := tr.collab.c.UpdateRefs(ctx, []remote.RefUpdate{{Name: fmt.Sprintf("refs/heads/on-collected-%d", i), New: c}})
		var p *remote.Problem
		if !errors.As(err, &p) || p.Code != remote.CodeIncomplete || !slices.Contains(p.Missing, parent) {
			t.Fatalf("push on collected parent %s: %v, want incomplete naming it", parent.Short(), err)
		}
	}
	res, err := tr.ts.srv.Fsck(ctx, "lab/m")
	if err != nil || len(res.Report.Problems) != 0 {
		t.Fatalf("fsck after the refused pushes: %+v %v", res, err)
	}
	refs, err := tr.outsider.c.Refs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var want []objects.ID
	for _, r := range refs.Refs {
		want = append(want, r.ID)
	}
	if _, err := tr.outsider.c.Plan(ctx, remote.PlanRequest{Want: want}); err != nil {
		t.Fatalf("plan of every ref: %v", err)
	}
}
