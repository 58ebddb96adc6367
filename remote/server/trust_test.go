package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/refs"
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
func newTrustRepo(t testing.TB, opts server.Options) *trustRepo {
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
		t.Logf("update %s: %v", u.Name, err)
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

// forge stores a copy of commit id with its author set to as (its
// signature stays the original signer's); with unsigned, without a
// signature at all.
func forge(t testing.TB, st *objects.DiskStore, id objects.ID, as objects.PublicKey, unsigned bool) objects.ID {
	t.Helper()
	ctx := context.Background()
	c, err := objects.ReadCommit(ctx, st, id)
	if err != nil {
		t.Fatal(err)
	}
	c.Author = as
	if unsigned {
		c.Signature = nil
	}
	fid, err := objects.Write(ctx, st, c)
	if err != nil {
		t.Fatal(err)
	}
	return fid
}

// TestAuthors: the server verifies the signature of every commit and tag
// object a push brings against its author (tagger), and a collaborator
// publishes as a branch or tag value only what it signed itself or what
// a branch or tag already reaches; others' commits below its own are
// accepted (doc/protocol.md §6.5, "Signatures and authors"). (Issue: a
// collaborator pushed a commit whose author field was the owner's and
// whose signature was its own: clones showed it as the owner's and every
// clone's fsck failed.)
func TestAuthors(t *testing.T) {
	ctx := context.Background()
	tr := newTrustRepo(t, server.Options{})
	st := tr.store
	owner := tr.owner.key.Public()

	// an owner's commit the server never saw (shared with collaborators
	// some other way), and one the owner published then deleted
	unpushed, _, unpushedIDs := tr.owner.h.commit(tr.root, 1, 1024, 2, nil)
	deleted, _, deletedIDs := tr.owner.h.commit(tr.root, 1, 1024, 3, nil)
	if code := tr.owner.update(t, st, deletedIDs, remote.RefUpdate{Name: "refs/heads/bad-idea", New: deleted}); code != "" {
		t.Fatal(code)
	}
	if code := tr.owner.update(t, st, nil, remote.RefUpdate{Name: "refs/heads/bad-idea", Old: deleted, Force: true}); code != "" {
		t.Fatal(code)
	}
	// the attacker's commits, one claiming the owner as author
	mine, _, mineIDs := tr.attacker.h.commit(tr.root, 1, 1024, 4, nil)
	claimed := forge(t, st, mine, owner, false)
	unsigned := forge(t, st, mine, tr.attacker.key.Public(), true)
	onClaimed, _, onClaimedIDs := tr.attacker.h.commit(claimed, 1, 1024, 5, nil)
	onUnpushed, _, onUnpushedIDs := tr.attacker.h.commit(unpushed, 1, 1024, 6, nil)
	// a collaborator's commit on the owner's unpushed one
	collabOn, _, collabOnIDs := tr.collab.h.commit(unpushed, 1, 1024, 7, nil)
	ownerTag := tr.owner.h.tag(tr.root, objects.KindCommit, "owner-release")
	forgedTag := func() objects.ID {
		tg := &objects.Tag{Target: tr.root, TargetKind: objects.KindCommit, Name: "forged", Time: 1_700_000_000}
		if err := objects.SignTag(tg, tr.attacker.key); err != nil {
			t.Fatal(err)
		}
		tg.Tagger = owner
		id, err := objects.Write(ctx, st, tg)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}()
	for _, tc := range []struct {
		name string
		p    party
		ids  []objects.ID
		u    remote.RefUpdate
		want string
	}{
		{"author field of the owner, signature of the attacker", tr.attacker, slices.Concat(mineIDs, []objects.ID{claimed}), remote.RefUpdate{Name: "refs/heads/claimed", New: claimed}, remote.CodeBadObjectSignature},
		{"unsigned commit", tr.attacker, slices.Concat(mineIDs, []objects.ID{unsigned}), remote.RefUpdate{Name: "refs/heads/unsigned", New: unsigned}, remote.CodeBadObjectSignature},
		{"forged commit below the attacker's own", tr.attacker, slices.Concat(mineIDs, []objects.ID{claimed}, onClaimedIDs), remote.RefUpdate{Name: "refs/heads/on-claimed", New: onClaimed}, remote.CodeBadObjectSignature},
		{"tag object with a forged tagger", tr.attacker, []objects.ID{forgedTag}, remote.RefUpdate{Name: "refs/tags/forged", New: forgedTag}, remote.CodeBadObjectSignature},
		{"owner's unpublished commit as a branch", tr.attacker, unpushedIDs, remote.RefUpdate{Name: "refs/heads/owners-work", New: unpushed}, remote.CodeForeignAuthor},
		{"owner's unpublished commit as a tag", tr.attacker, unpushedIDs, remote.RefUpdate{Name: "refs/tags/owners-work", New: unpushed}, remote.CodeForeignAuthor},
		{"owner's deleted commit republished", tr.attacker, nil, remote.RefUpdate{Name: "refs/heads/bad-idea-again", New: deleted}, remote.CodeForeignAuthor},
		{"owner's tag object not on the server", tr.attacker, []objects.ID{ownerTag}, remote.RefUpdate{Name: "refs/tags/owner-release", New: ownerTag}, remote.CodeForeignAuthor},
		// allowed
		{"owner's published commit as a new branch", tr.attacker, nil, remote.RefUpdate{Name: "refs/heads/from-main", New: tr.root}, ""},
		{"own commit on the owner's unpublished one", tr.collab, slices.Concat(unpushedIDs, collabOnIDs), remote.RefUpdate{Name: "refs/heads/collab", New: collabOn}, ""},
		{"the owner publishes others' commits", tr.owner, onUnpushedIDs, remote.RefUpdate{Name: "refs/heads/attackers", New: onUnpushed}, ""},
		{"the owner publishes its tag", tr.owner, nil, remote.RefUpdate{Name: "refs/tags/owner-release", New: ownerTag}, ""},
	} {
		if got := tc.p.update(t, st, tc.ids, tc.u); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
	for _, name := range []string{"refs/heads/claimed", "refs/heads/unsigned", "refs/heads/on-claimed", "refs/tags/forged", "refs/heads/owners-work", "refs/tags/owners-work", "refs/heads/bad-idea-again"} {
		if id := tr.ref(t, name); !id.IsZero() {
			t.Errorf("refused %s exists (%s)", name, id.Short())
		}
	}
	res, err := tr.ts.srv.Fsck(ctx, "lab/m")
	if err != nil || len(res.Report.Problems) != 0 {
		t.Fatalf("fsck: %+v %v", res, err)
	}
}

// fakeCheck is a CheckProof whose proofs verify when their body is
// "valid", and which counts its calls.
func fakeCheck(t testing.TB, st *objects.DiskStore) func(context.Context, string, objects.ID, map[objects.ID]objects.ID) error {
	return func(ctx context.Context, repo string, commit objects.ID, proofs map[objects.ID]objects.ID) error {
		id, ok := proofs[commit]
		if !ok {
			return errors.New("no proof")
		}
		o, err := objects.Read(ctx, st, id, objects.KindProof)
		if err != nil {
			return err
		}
		if p := o.(*objects.Proof); p.Commit != commit || string(p.Body) != "valid" {
			return fmt.Errorf("proof %s of %s: garbage", id.Short(), commit.Short())
		}
		return nil
	}
}

// setRefBehindServersBack stores a ref the way an older server could
// have: without the rules of today.
func setRefBehindServersBack(t *testing.T, tr *trustRepo, name string, old, id objects.ID) {
	t.Helper()
	rs, err := refs.Open(filepath.Join(tr.ts.root, "lab", "m.fed"))
	if err != nil {
		t.Fatal(err)
	}
	if err := rs.Transaction([]refs.Update{{Name: refs.Name(name), Old: old, New: id, Force: true}}, refs.Entry{Message: "older server"}); err != nil {
		t.Fatal(err)
	}
}

// TestProofRefs: a proof ref for commit C is taken only when the proof
// verifies with the repository's keys and settings (CheckProof), or,
// where the server cannot verify, only from C's author or the owner; a
// valid proof replaces an invalid one without force, a valid one only
// with force. (Issue: a collaborator attached a garbage proof to another
// contributor's commit; the author's later push said "Everything
// up-to-date", fed verify failed on every clone, and the owner could not
// move a protected branch there without force.)
func TestProofRefs(t *testing.T) {
	proofRef := func(c objects.ID) string { return remote.ProofsPrefix + c.String() }
	t.Run("verifying server", func(t *testing.T) {
		var st *objects.DiskStore
		tr := newTrustRepo(t, withHooks(t, server.Options{}, hooks{
			CheckProof: func(ctx context.Context, repo string, commit objects.ID, proofs map[objects.ID]objects.ID) error {
				return fakeCheck(t, st)(ctx, repo, commit, proofs)
			},
		}))
		st, _ = objects.OpenDisk(filepath.Join(tr.ts.root, "lab", "m.fed", "objects"))
		c, _, ids := tr.collab.h.commit(tr.root, 1, 1024, 2, nil)
		if code := tr.collab.update(t, tr.store, ids, remote.RefUpdate{Name: "refs/heads/collab", New: c}); code != "" {
			t.Fatal(code)
		}
		garbage := tr.attacker.h.proof(c, "garbage")
		valid := tr.attacker.h.proof(c, "valid")
		valid2 := func() objects.ID { // another valid proof object
			id, err := objects.Write(context.Background(), tr.store, &objects.Proof{Commit: c, System: "test2", Body: []byte("valid")})
			if err != nil {
				t.Fatal(err)
			}
			return id
		}()
		if code := tr.attacker.update(t, tr.store, []objects.ID{garbage}, remote.RefUpdate{Name: proofRef(c), New: garbage}); code != remote.CodeInvalidProof {
			t.Fatalf("attacker's garbage proof: %q, want invalid-proof", code)
		}
		if got := tr.ref(t, proofRef(c)); !got.IsZero() {
			t.Fatalf("refused proof stored: %s", got.Short())
		}
		if code := tr.owner.update(t, tr.store, nil, remote.RefUpdate{Name: proofRef(c), New: garbage}); code != remote.CodeInvalidProof {
			t.Fatalf("owner's garbage proof: %q, want invalid-proof", code)
		}
		// a proof that verifies is welcome from anyone
		if code := tr.attacker.update(t, tr.store, []objects.ID{valid}, remote.RefUpdate{Name: proofRef(c), New: valid}); code != "" {
			t.Fatalf("valid proof from another collaborator: %q", code)
		}
		// a valid one is replaced only with force
		if code := tr.collab.update(t, tr.store, []objects.ID{valid2}, remote.RefUpdate{Name: proofRef(c), Old: valid, New: valid2}); code != remote.CodeNonFastForward {
			t.Fatalf("replacing a valid proof without force: %q", code)
		}
		if code := tr.owner.update(t, tr.store, nil, remote.RefUpdate{Name: proofRef(c), Old: valid, New: garbage, Force: true}); code != remote.CodeInvalidProof {
			t.Fatalf("owner forcing a garbage proof: %q", code)
		}
		// an invalid one an older server took is replaced without force
		setRefBehindServersBack(t, tr, proofRef(c), valid, garbage)
		if code := tr.collab.update(t, tr.store, nil, remote.RefUpdate{Name: proofRef(c), Old: garbage, New: valid2}); code != "" {
			t.Fatalf("valid proof replacing an invalid one: %q", code)
		}
		if got := tr.ref(t, proofRef(c)); got != valid2 {
			t.Fatalf("proof ref %s, want %s", got.Short(), valid2.Short())
		}
	})
	t.Run("storage unavailable to the verifier", func(t *testing.T) {
		// a hook that cannot read the storage answers 503 (retried), not
		// invalid-proof, and takes nothing
		var st *objects.DiskStore
		var down atomic.Int32
		tr := newTrustRepo(t, withHooks(t, server.Options{}, hooks{
			CheckProof: func(ctx context.Context, repo string, commit objects.ID, proofs map[objects.ID]objects.ID) error {
				if down.Add(-1) >= 0 {
					return fmt.Errorf("read the proof of %s: %w", commit.Short(), objects.ErrUnavailable)
				}
				return fakeCheck(t, st)(ctx, repo, commit, proofs)
			},
		}))
		st, _ = objects.OpenDisk(filepath.Join(tr.ts.root, "lab", "m.fed", "objects"))
		c, _, ids := tr.collab.h.commit(tr.root, 1, 1024, 2, nil)
		if code := tr.collab.update(t, tr.store, ids, remote.RefUpdate{Name: "refs/heads/collab", New: c}); code != "" {
			t.Fatal(code)
		}
		valid := tr.collab.h.proof(c, "valid")
		once := party{key: tr.collab.key, c: newClient(t, tr.url, tr.collab.key, remote.Options{MaxRetries: -1}), h: tr.collab.h}
		down.Store(1)
		if code := once.update(t, tr.store, []objects.ID{valid}, remote.RefUpdate{Name: proofRef(c), New: valid}); code != remote.CodeUnavailable {
			t.Fatalf("a proof the hook could not read: %q, want unavailable", code)
		}
		if got := tr.ref(t, proofRef(c)); !got.IsZero() {
			t.Fatalf("a proof that was not verified is stored: %s", got.Short())
		}
		retrying := party{key: tr.collab.key, c: newClient(t, tr.url, tr.collab.key, remote.Options{RetryMax: time.Millisecond}), h: tr.collab.h}
		down.Store(1)
		if code := retrying.update(t, tr.store, nil, remote.RefUpdate{Name: proofRef(c), New: valid}); code != "" {
			t.Fatalf("the same proof, retried: %q", code)
		}
		if got := tr.ref(t, proofRef(c)); got != valid {
			t.Fatalf("proof ref %s after the retry, want %s", got.Short(), valid.Short())
		}
	})
	t.Run("server that cannot verify", func(t *testing.T) {
		tr := newTrustRepo(t, server.Options{})
		c, _, ids := tr.collab.h.commit(tr.root, 1, 1024, 2, nil)
		if code := tr.collab.update(t, tr.store, ids, remote.RefUpdate{Name: "refs/heads/collab", New: c}); code != "" {
			t.Fatal(code)
		}
		garbage := tr.attacker.h.proof(c, "garbage")
		if code := tr.attacker.update(t, tr.store, []objects.ID{garbage}, remote.RefUpdate{Name: proofRef(c), New: garbage}); code != remote.CodeForeignProof {
			t.Fatalf("attacker's proof of another's commit: %q, want foreign-proof", code)
		}
		if got := tr.ref(t, proofRef(c)); !got.IsZero() {
			t.Fatalf("refused proof stored: %s", got.Short())
		}
		mine := tr.collab.h.proof(c, "by the author")
		if code := tr.collab.update(t, tr.store, []objects.ID{mine}, remote.RefUpdate{Name: proofRef(c), New: mine}); code != "" {
			t.Fatalf("author's proof: %q", code)
		}
		if code := tr.collab.update(t, tr.store, []objects.ID{garbage}, remote.RefUpdate{Name: proofRef(c), Old: mine, New: garbage}); code != remote.CodeNonFastForward {
			t.Fatalf("author replacing its proof without force: %q", code)
		}
		a, _, aIDs := tr.attacker.h.commit(tr.root, 1, 1024, 3, nil)
		if code := tr.attacker.update(t, tr.store, aIDs, remote.RefUpdate{Name: "refs/heads/attacker", New: a}); code != "" {
			t.Fatal(code)
		}
		ownerProof := tr.owner.h.proof(a, "owner's")
		if code := tr.owner.update(t, tr.store, []objects.ID{ownerProof}, remote.RefUpdate{Name: proofRef(a), New: ownerProof}); code != "" {
			t.Fatalf("owner's proof of a collaborator's commit: %q", code)
		}
	})
}

// TestDownloadsOnlyPublished: downloads serve only objects that a ref
// reaches; an upload alone publishes nothing (doc/protocol.md §6.7).
// (Issue: an uploaded but unreferenced commit could be downloaded by
// anyone: objects of a refused push, or weights a contributor meant to
// keep off the public server.)
func TestDownloadsOnlyPublished(t *testing.T) {
	tr := newTrustRepo(t, server.Options{})
	anon := login(t, tr.ts.URL, tr.outsider.key) // a logged-in outsider: reads like anyone
	attacker := login(t, tr.ts.URL, tr.attacker.key)
	download := func(token string, ids ...objects.ID) int {
		t.Helper()
		b, err := json.Marshal(remote.DownloadRequest{IDs: ids})
		if err != nil {
			t.Fatal(err)
		}
		status, _, _ := raw(t, tr.ts.URL, "POST", remote.RepoPath("lab/m", "objects/download"), token, remote.MediaJSON, b)
		return status
	}
	get := func(token string, id objects.ID) int {
		t.Helper()
		status, _, _ := raw(t, tr.ts.URL, "GET", remote.RepoPath("lab/m", "objects/"+id.String()), token, "", nil)
		return status
	}
	// the collaborator uploads a commit and has its push refused
	c, tn, ids := tr.collab.h.commit(tr.root, 2, 1024, 2, nil)
	foreign := forge(t, tr.store, c, tr.owner.key.Public(), false)
	if code := tr.collab.update(t, tr.store, append(ids, foreign), remote.RefUpdate{Name: "refs/heads/collab", New: foreign}); code != remote.CodeBadObjectSignature {
		t.Fatalf("forged push: %q", code)
	}
	for _, who := range []struct{ name, token string }{{"anonymous", ""}, {"outsider", anon}, {"other collaborator", attacker}} {
		for _, id := range []objects.ID{c, foreign, tn.Pieces[0]} {
			if st := download(who.token, id); st != 404 {
				t.Errorf("%s downloads unreferenced %s: %d, want 404", who.name, id.Short(), st)
			}
			if st := get(who.token, id); st != 404 {
				t.Errorf("%s gets unreferenced %s: %d, want 404", who.name, id.Short(), st)
			}
		}
	}
	if st := download("", tr.rootIDs...); st != 200 {
		t.Fatalf("download of main's objects: %d", st)
	}
	// published by a push, served; unpublished by a deletion, not any more
	if code := tr.collab.update(t, tr.store, nil, remote.RefUpdate{Name: "refs/heads/collab", New: c}); code != "" {
		t.Fatal(code)
	}
	if st := download("", c, tn.Pieces[1]); st != 200 {
		t.Fatalf("download of a pushed commit: %d", st)
	}
	if code := tr.owner.update(t, tr.store, nil, remote.RefUpdate{Name: "refs/heads/collab", Old: c, Force: true}); code != "" {
		t.Fatal(code)
	}
	if st := download("", c); st != 404 {
		t.Fatalf("download of a deleted branch's commit: %d, want 404", st)
	}
	if st := get("", tn.Pieces[1]); st != 404 {
		t.Fatalf("get of a deleted branch's piece: %d, want 404", st)
	}
	// a proof ref alone publishes its proof only once a branch or tag
	// reaches its commit: the proofs pushed before a refused branch update
	// do not publish the commit
	d, dt, dIDs := tr.attacker.h.commit(tr.root, 2, 1024, 5, nil)
	proof := tr.attacker.h.proof(d, "by its author")
	if code := tr.attacker.update(t, tr.store, append(dIDs, proof), remote.RefUpdate{Name: remote.ProofsPrefix + d.String(), New: proof}); code != "" {
		t.Fatalf("author's proof: %q", code)
	}
	if code := tr.attacker.update(t, tr.store, nil, remote.RefUpdate{Name: "refs/heads/main", Old: tr.root, New: d, Force: true}); code != remote.CodeForceDenied {
		t.Fatalf("refused branch step: %q", code)
	}
	for _, id := range []objects.ID{d, dt.Pieces[0], proof} {
		if st := download("", id); st != 404 {
			t.Errorf("download of %s behind a proof ref only: %d, want 404", id.Short(), st)
		}
	}
	if _, err := tr.outsider.c.Plan(context.Background(), remote.PlanRequest{Want: []objects.ID{proof}}); !errors.Is(err, remote.ErrBadRequest) || !strings.Contains(err.Error(), "not-a-tip") {
		t.Fatalf("plan of a proof of an unpublished commit: %v", err)
	}
	if code := tr.attacker.update(t, tr.store, nil, remote.RefUpdate{Name: "refs/heads/d", New: d}); code != "" {
		t.Fatal(code)
	}
	if st := download("", d, dt.Pieces[0], proof); st != 200 {
		t.Fatalf("download once a branch publishes the commit: %d", st)
	}
	if _, err := tr.outsider.c.Plan(context.Background(), remote.PlanRequest{Want: []objects.ID{proof}}); err != nil {
		t.Fatalf("plan of a published proof: %v", err)
	}
	// a ref another writer sets (the background prover) publishes too
	setRefBehindServersBack(t, tr, "refs/heads/again", objects.ZeroID, c)
	if st := get("", tn.Pieces[0]); st != 200 {
		t.Fatalf("get after a ref set beside the server: %d", st)
	}
}

// TestGCDropsDanglingProofs: the proof ref of a commit that no branch or
// tag reaches (its branch push was refused, or never came) goes at the
// next collection after the grace period, and the commit's objects with
// it; proofs of published commits stay.
func TestGCDropsDanglingProofs(t *testing.T) {
	ctx := context.Background()
	tr := newTrustRepo(t, server.Options{GCGrace: time.Nanosecond})
	d, _, dIDs := tr.attacker.h.commit(tr.root, 1, 1024, 5, nil)
	dProof := tr.attacker.h.proof(d, "by its author")
	if code := tr.attacker.update(t, tr.store, append(dIDs, dProof), remote.RefUpdate{Name: remote.ProofsPrefix + d.String(), New: dProof}); code != "" {
		t.Fatal(code)
	}
	if code := tr.attacker.update(t, tr.store, nil, remote.RefUpdate{Name: "refs/heads/main", Old: tr.root, New: d, Force: true}); code != remote.CodeForceDenied {
		t.Fatalf("refused branch step: %q", code)
	}
	rootProof := tr.owner.h.proof(tr.root, "owner's")
	if code := tr.owner.update(t, tr.store, []objects.ID{rootProof}, remote.RefUpdate{Name: remote.ProofsPrefix + tr.root.String(), New: rootProof}); code != "" {
		t.Fatal(code)
	}
	n0 := countObjects(t, tr.ts.root, "lab/m")
	time.Sleep(10 * time.Millisecond)
	if _, err := tr.ts.srv.GC(ctx); err != nil {
		t.Fatal(err)
	}
	if got := tr.ref(t, remote.ProofsPrefix+d.String()); !got.IsZero() {
		t.Fatalf("the proof of an unpublished commit survived gc: %s", got.Short())
	}
	if got := tr.ref(t, remote.ProofsPrefix+tr.root.String()); got != rootProof {
		t.Fatalf("the proof of main's commit after gc: %s, want %s", got.Short(), rootProof.Short())
	}
	if n := countObjects(t, tr.ts.root, "lab/m"); n != n0-len(dIDs)-1 {
		t.Fatalf("%d objects after gc, want %d (the unpublished commit's %d and its proof gone)", n, n0-len(dIDs)-1, len(dIDs))
	}
	res, err := tr.ts.srv.Fsck(ctx, "lab/m")
	if err != nil || len(res.Report.Problems) != 0 {
		t.Fatalf("fsck: %+v %v", res, err)
	}
}
