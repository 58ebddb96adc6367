package server_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fed-vcs/fed/governance"
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/remote"
	"github.com/fed-vcs/fed/remote/server"
)

// record signs r with k and stores it (and the empty tree) in st; it
// returns the record's id and the ids to upload.
func record(t *testing.T, st *objects.DiskStore, r governance.Record, k *objects.Keypair) (objects.ID, []objects.ID) {
	t.Helper()
	ctx := context.Background()
	c, err := governance.Sign(r, k)
	if err != nil {
		t.Fatal(err)
	}
	tree, tb := governance.EmptyTree()
	if _, err := st.Put(ctx, tb, objects.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	id, err := objects.Write(ctx, st, c)
	if err != nil {
		t.Fatal(err)
	}
	return id, []objects.ID{id, tree}
}

// updateProblem is party.update returning the whole problem.
func updateProblem(t *testing.T, p party, st *objects.DiskStore, ids []objects.ID, u remote.RefUpdate) *remote.Problem {
	t.Helper()
	ctx := context.Background()
	if len(ids) > 0 {
		if _, err := p.c.SendMissing(ctx, st, ids); err != nil {
			t.Fatalf("upload: %v", err)
		}
	}
	_, err := p.c.UpdateRefs(ctx, []remote.RefUpdate{u})
	if err == nil {
		return nil
	}
	var pr *remote.Problem
	if !errors.As(err, &pr) {
		t.Fatalf("update %s: %v", u.Name, err)
	}
	t.Logf("update %s: %v", u.Name, err)
	return pr
}

func wantCode(t *testing.T, what string, pr *remote.Problem, code string, says ...string) {
	t.Helper()
	got := ""
	if pr != nil {
		got = pr.Code
	}
	if got != code {
		t.Fatalf("%s: got %q (%v), want %q", what, got, pr, code)
	}
	for _, s := range says {
		if !strings.Contains(pr.Detail, s) {
			t.Errorf("%s: %q does not say %q", what, pr.Detail, s)
		}
	}
}

// TestGovernance: a protected main under a policy of two approvals and an
// attestation accuracy>=0.9 from a listed validator, on a real server
// with an owner, a collaborator, a validator and an attacker who is a
// collaborator too (doc/security.md, "Governance").
func TestGovernance(t *testing.T) {
	ctx := context.Background()
	tr := newTrustRepo(t, server.Options{})
	st := tr.store
	valKey := keyN(5)
	val := party{key: valKey, c: newClient(t, tr.url, valKey, remote.Options{})}
	if err := tr.owner.c.AddCollaborator(ctx, valKey.Public()); err != nil {
		t.Fatal(err)
	}
	owner, collab, attacker := tr.owner, tr.collab, tr.attacker
	policy := func() *governance.Policy {
		c, _ := governance.ParseCondition("accuracy>=0.9")
		return &governance.Policy{Head: governance.Head{Time: 1_700_000_100}, Branch: "main", Approvals: 2, Attest: []governance.Condition{c}, Validators: []objects.PublicKey{valKey.Public()}}
	}
	policyRef := governance.PolicyRef("main")

	// the attacker sets a policy of its own; the owner pushes one the
	// attacker signed: both refused
	forged, ids := record(t, st, policy(), attacker.key)
	wantCode(t, "attacker sets the policy", updateProblem(t, attacker, st, ids, remote.RefUpdate{Name: policyRef, New: forged}), remote.CodeForbidden)
	wantCode(t, "owner pushes the attacker's policy", updateProblem(t, owner, st, nil, remote.RefUpdate{Name: policyRef, New: forged}), remote.CodeBadRecord, "signed by "+attacker.key.Public().String()+", not by the owner")
	pol, ids := record(t, st, policy(), owner.key)
	wantCode(t, "owner sets the policy", updateProblem(t, owner, st, ids, remote.RefUpdate{Name: policyRef, New: pol}), "")

	// the collaborator can no longer push to main directly
	c2, _, ids2 := collab.h.commit(tr.root, 1, 1024, 2, nil)
	wantCode(t, "collaborator pushes to main", updateProblem(t, collab, st, ids2, remote.RefUpdate{Name: "refs/heads/main", Old: tr.root, New: c2}), remote.CodeProtected, "protected by its policy")
	wantCode(t, "collaborator pushes a branch", updateProblem(t, collab, st, nil, remote.RefUpdate{Name: "refs/heads/update", New: c2}), "")

	// the owner's merge before any review: refused, naming each condition
	pr := updateProblem(t, owner, st, nil, remote.RefUpdate{Name: "refs/heads/main", Old: tr.root, New: c2})
	wantCode(t, "merge before reviews", pr, remote.CodePolicyUnmet, "approvals>=2 (have: 0 approval(s))", "attestation accuracy>=0.9 (have: no attestation of accuracy by a listed validator)")
	if len(pr.Unmet) != 2 || pr.Unmet[0].Condition != "approvals>=2" {
		t.Fatalf("unmet: %+v", pr.Unmet)
	}

	approve := func(p party, about objects.ID, t0 int64) (objects.ID, []objects.ID) {
		return record(t, st, &governance.Review{Head: governance.Head{Time: t0}, Commit: about, Verdict: governance.Approve}, p.key)
	}
	pushRecord := func(p party, name string, id objects.ID, ids []objects.ID) *remote.Problem {
		return updateProblem(t, p, st, ids, remote.RefUpdate{Name: name, New: id})
	}
	// a review signed for another commit, filed under c2
	other, ids := approve(attacker, tr.root, 1)
	wantCode(t, "review of another commit", pushRecord(attacker, governance.ReviewRef(c2, other), other, ids), remote.CodeBadRecord, "signed for commit "+tr.root.Short())
	// a review under a name that is not its id
	a1, ids := approve(attacker, c2, 1)
	wantCode(t, "review under another id", pushRecord(attacker, governance.ReviewRef(c2, other), a1, ids), remote.CodeBadRecord, "names record")
	// a forged review: the owner's name, the attacker's signature
	fc, _ := objects.ReadCommit(ctx, st, a1)
	fc.Author = owner.key.Public()
	forgedReview, err := objects.Write(ctx, st, fc)
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, "forged review", pushRecord(attacker, governance.ReviewRef(c2, forgedReview), forgedReview, []objects.ID{forgedReview}), remote.CodeBadObjectSignature)
	// the attacker approves twice, the author approves its own commit, and
	// the attacker attests as if it were a validator: one approval counts
	wantCode(t, "attacker approves", pushRecord(attacker, governance.ReviewRef(c2, a1), a1, ids), "")
	// replayed: the ref holds it already (the client takes stale-ref
	// naming its own value as success); it is still one record
	wantCode(t, "the same approval again", pushRecord(attacker, governance.ReviewRef(c2, a1), a1, nil), "")
	a2, ids := approve(attacker, c2, 2)
	wantCode(t, "attacker approves again", pushRecord(attacker, governance.ReviewRef(c2, a2), a2, ids), "")
	self, ids := approve(collab, c2, 1)
	wantCode(t, "author approves", pushRecord(collab, governance.ReviewRef(c2, self), self, ids), "")
	attest := func(p party, v string) (objects.ID, []objects.ID) {
		m, _ := governance.ParseMetric("accuracy", v)
		return record(t, st, &governance.Attestation{Head: governance.Head{Time: 3}, Commit: c2, Metrics: []governance.Metric{m}}, p.key)
	}
	fake, ids := attest(attacker, "0.99")
	wantCode(t, "unlisted attestation", pushRecord(attacker, governance.AttestationRef(c2, fake), fake, ids), "")
	wantCode(t, "review ref to an attestation", pushRecord(attacker, governance.ReviewRef(c2, fake), fake, nil), remote.CodeBadRecord, "belongs under refs/attestations/")
	low, ids := attest(val, "0.5")
	wantCode(t, "validator attests a failing value", pushRecord(val, governance.AttestationRef(c2, low), low, ids), "")
	pr = updateProblem(t, owner, st, nil, remote.RefUpdate{Name: "refs/heads/main", Old: tr.root, New: c2})
	wantCode(t, "merge with one approval", pr, remote.CodePolicyUnmet,
		"approvals>=2 (have: 1 approval(s) by "+attacker.key.Public().String(),
		"approval by the commit's author "+collab.key.Public().String()+" does not count",
		"accuracy=0.99 by "+attacker.key.Public().String()+", not a listed validator",
		"accuracy=0.5 by "+valKey.Public().String())

	// the owner approves and the validator attests again, passing
	o1, ids := approve(owner, c2, 4)
	wantCode(t, "owner approves", pushRecord(owner, governance.ReviewRef(c2, o1), o1, ids), "")
	m, _ := governance.ParseMetric("accuracy", "0.93")
	pass, ids := record(t, st, &governance.Attestation{Head: governance.Head{Time: 4}, Commit: c2, Metrics: []governance.Metric{m}}, valKey)
	wantCode(t, "validator attests", pushRecord(val, governance.AttestationRef(c2, pass), pass, ids), "")
	wantCode(t, "collaborator still cannot push", updateProblem(t, collab, st, nil, remote.RefUpdate{Name: "refs/heads/main", Old: tr.root, New: c2}), remote.CodeProtected)
	wantCode(t, "merge with two approvals and an attestation", updateProblem(t, owner, st, nil, remote.RefUpdate{Name: "refs/heads/main", Old: tr.root, New: c2}), "")
	if got := tr.ref(t, "refs/heads/main"); got != c2 {
		t.Fatalf("main is %s, want %s", got.Short(), c2.Short())
	}
	// a review never moves, not even by its author
	wantCode(t, "moving a review", updateProblem(t, attacker, st, nil, remote.RefUpdate{Name: governance.ReviewRef(c2, a1), Old: a1, New: a2}), remote.CodeBadRecord)

	// a policy change must replace the one the server holds
	stale := policy()
	stale.Approvals = 1
	sid, ids := record(t, st, stale, owner.key)
	wantCode(t, "policy not replacing the held one", updateProblem(t, owner, st, ids, remote.RefUpdate{Name: policyRef, Old: pol, New: sid}), remote.CodeNonFastForward)
	// unset: the collaborator pushes to main again
	off := &governance.Policy{Head: governance.Head{Time: 1_700_000_200, Parent: pol}, Branch: "main", Off: true}
	oid, ids := record(t, st, off, owner.key)
	wantCode(t, "owner unsets the policy", updateProblem(t, owner, st, ids, remote.RefUpdate{Name: policyRef, Old: pol, New: oid}), "")
	c3, _, ids3 := collab.h.commit(c2, 1, 1024, 3, nil)
	wantCode(t, "collaborator pushes to main after unset", updateProblem(t, collab, st, ids3, remote.RefUpdate{Name: "refs/heads/main", Old: c2, New: c3}), "")

	// the name map is the owner's
	names := &governance.Names{Head: governance.Head{Time: 5}, Labels: map[objects.PublicKey]string{collab.key.Public(): "St. Mary's clinic"}}
	nid, ids := record(t, st, names, attacker.key)
	wantCode(t, "attacker sets names", updateProblem(t, attacker, st, ids, remote.RefUpdate{Name: governance.NamesRef, New: nid}), remote.CodeForbidden)
	nid, ids = record(t, st, names, owner.key)
	wantCode(t, "owner sets names", updateProblem(t, owner, st, ids, remote.RefUpdate{Name: governance.NamesRef, New: nid}), "")
	// every record is published: an outsider of a public repository could
	// fetch them; here the collaborator downloads one
	var buf bytes.Buffer
	if _, err := collab.c.GetObject(ctx, nid, 0, &buf); err != nil {
		t.Fatalf("download of the name map: %v", err)
	}
}

// TestGovernanceRequireProofs: a policy that requires proofs takes the
// branch's new commit only with a proof, here one the same request sets,
// on a server that verifies proofs.
func TestGovernanceRequireProofs(t *testing.T) {
	var st *objects.DiskStore
	tr := newTrustRepo(t, withHooks(t, server.Options{}, hooks{
		CheckProof: func(ctx context.Context, repo string, commit objects.ID, proofs map[objects.ID]objects.ID) error {
			return fakeCheck(t, st)(ctx, repo, commit, proofs)
		},
	}))
	st, _ = objects.OpenDisk(filepath.Join(tr.ts.root, "lab", "m.fed", "objects"))
	owner := tr.owner
	pol, ids := record(t, tr.store, &governance.Policy{Head: governance.Head{Time: 1}, Branch: "main", RequireProofs: true}, owner.key)
	wantCode(t, "owner sets the policy", updateProblem(t, owner, tr.store, ids, remote.RefUpdate{Name: governance.PolicyRef("main"), New: pol}), "")
	c2, _, ids2 := owner.h.commit(tr.root, 1, 1024, 2, nil)
	pr := updateProblem(t, owner, tr.store, ids2, remote.RefUpdate{Name: "refs/heads/main", Old: tr.root, New: c2})
	wantCode(t, "no proof", pr, remote.CodePolicyUnmet, "proof (have: no proof of the commit)")
	valid := owner.h.proof(c2, "valid")
	if _, err := owner.c.SendMissing(context.Background(), tr.store, []objects.ID{valid}); err != nil {
		t.Fatal(err)
	}
	_, err := owner.c.UpdateRefs(context.Background(), []remote.RefUpdate{
		{Name: remote.ProofsPrefix + c2.String(), New: valid},
		{Name: "refs/heads/main", Old: tr.root, New: c2},
	})
	if err != nil {
		t.Fatalf("main with its proof in the same push: %v", err)
	}
}
