package server_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/refs"
	"github.com/fed-vcs/fed/remote"
	"github.com/fed-vcs/fed/remote/server"
)

// refWorld is the fixture of FuzzRefUpdate: a repository whose main is
// the owner's root commit A, with these objects uploaded:
//
//	B    the collaborator's commit on A
//	X    the attacker's commit on A (not a descendant of B)
//	Bad  a commit on A whose author field is the owner's and whose
//	     signature is the attacker's
//	T    the owner's tag object on A;  U  the attacker's tag object on B
//	P    a proof of B that verifies;   Q  a proof of B that does not
type refWorld struct {
	tr      *trustRepo
	names   map[objects.ID]string
	parents map[objects.ID][]objects.ID // commits' parents and tags' targets
	signer  map[objects.ID]*objects.Keypair
	vals    []objects.ID // branch and tag values: zero, A, B, X, Bad, T, U
	proofs  []objects.ID // proof ref values: zero, P, Q
	valid   map[objects.ID]bool
	b       objects.ID
}

func newRefWorld(t testing.TB, verifying bool) *refWorld {
	ctx := context.Background()
	w := &refWorld{names: map[objects.ID]string{}, parents: map[objects.ID][]objects.ID{}, signer: map[objects.ID]*objects.Keypair{}, valid: map[objects.ID]bool{}}
	var st *objects.DiskStore
	opts := server.Options{Rate: 1e9, Burst: 1e9}
	if verifying {
		opts = withHooks(t, opts, hooks{CheckProof: func(ctx context.Context, repo string, commit objects.ID, proofs map[objects.ID]objects.ID) error {
			return fakeCheck(nil, st)(ctx, repo, commit, proofs)
		}})
	}
	tr := newTrustRepo(t, opts)
	st, _ = objects.OpenDisk(filepath.Join(tr.ts.root, "lab", "m.fed", "objects"))
	w.tr = tr
	a := tr.root
	b, _, bIDs := tr.collab.h.commit(a, 1, 256, 2, nil)
	x, _, xIDs := tr.attacker.h.commit(a, 1, 256, 3, nil)
	bad := forge(t, tr.store, x, tr.owner.key.Public(), false)
	tg := tr.owner.h.tag(a, objects.KindCommit, "t")
	u := tr.attacker.h.tag(b, objects.KindCommit, "u")
	p := tr.collab.h.proof(b, "valid")
	q := tr.collab.h.proof(b, "garbage")
	var all []objects.ID
	for _, l := range [][]objects.ID{bIDs, xIDs, {bad, tg, u, p, q}} {
		all = append(all, l...)
	}
	if _, err := tr.owner.c.SendMissing(ctx, tr.store, all); err != nil {
		t.Fatal(err)
	}
	w.b = b
	for _, e := range []struct {
		id      objects.ID
		name    string
		parents []objects.ID
		signer  *objects.Keypair
	}{
		{a, "A", nil, tr.owner.key}, {b, "B", []objects.ID{a}, tr.collab.key}, {x, "X", []objects.ID{a}, tr.attacker.key},
		{bad, "Bad", []objects.ID{a}, tr.owner.key}, {tg, "T", []objects.ID{a}, tr.owner.key}, {u, "U", []objects.ID{b}, tr.attacker.key},
		{p, "P", nil, nil}, {q, "Q", nil, nil},
	} {
		w.names[e.id], w.parents[e.id], w.signer[e.id] = e.name, e.parents, e.signer
	}
	w.vals = []objects.ID{objects.ZeroID, a, b, x, bad, tg, u}
	w.proofs = []objects.ID{objects.ZeroID, p, q}
	w.valid[p] = true
	protected := []string{"refs/heads/p"}
	if _, err := tr.owner.c.UpdateSettings(ctx, remote.SettingsUpdate{Protected: &protected}); err != nil {
		t.Fatal(err)
	}
	return w
}

// reaches reports whether x is y or reachable from y through parents
// and tag targets, in the world's graph.
func (w *refWorld) reaches(y, x objects.ID) bool {
	if y == x {
		return true
	}
	for _, p := range w.parents[y] {
		if w.reaches(p, x) {
			return true
		}
	}
	return false
}

type role int

const (
	roleOwner role = iota
	roleCollab
	roleAttacker
	roleOutsider
)

// modelRefUpdate is the rule book of doc/protocol.md §3, §6.5 and §7.1
// for one update of name from old (the ref holds cur) to new by role,
// written apart from the handler: the problem code it must answer, ""
// for success. heads lists the values of every branch and tag now.
func (w *refWorld) modelRefUpdate(name string, cur, old, new objects.ID, force bool, r role, verifying bool, heads []objects.ID) string {
	owner := r == roleOwner
	pusher := map[role]*objects.Keypair{roleOwner: w.tr.owner.key, roleCollab: w.tr.collab.key, roleAttacker: w.tr.attacker.key}[r]
	isProof := strings.HasPrefix(name, remote.ProofsPrefix)
	isTag := strings.HasPrefix(name, refs.TagsPrefix)
	switch {
	case old == new:
		return remote.CodeBadRequest
	case r == roleOutsider:
		return remote.CodeForbidden
	case name == "refs/heads/p" && !owner:
		return remote.CodeProtected
	case (force || new.IsZero()) && !owner:
		return remote.CodeForceDenied
	case new.IsZero() && !force:
		return remote.CodeBadRequest
	case cur != old:
		if cur == new {
			return "" // the client takes the lost race to its own value as success
		}
		return remote.CodeStale
	case new.IsZero():
		return ""
	case w.names[new] == "Bad":
		return remote.CodeBadObjectSignature
	}
	if isProof {
		if verifying {
			if !w.valid[new] {
				return remote.CodeInvalidProof
			}
			if !old.IsZero() && !force && w.valid[old] {
				return remote.CodeNonFastForward
			}
			return ""
		}
		if pusher != w.tr.collab.key && !owner { // B's author is the collaborator
			return remote.CodeForeignProof
		}
		if !old.IsZero() && !force {
			return remote.CodeNonFastForward
		}
		return ""
	}
	if !isTag && (w.names[new] == "T" || w.names[new] == "U") {
		return remote.CodeBadObject
	}
	if isTag && !old.IsZero() && !force {
		return remote.CodeTagExists
	}
	if w.signer[new] != pusher && !owner {
		published := false
		for _, h := range heads {
			published = published || w.reaches(h, new)
		}
		if !published {
			return remote.CodeForeignAuthor
		}
	}
	if !isTag && !old.IsZero() && !force && !w.reaches(new, old) {
		return remote.CodeNonFastForward
	}
	return ""
}

// FuzzRefUpdate drives the ref-update handler of a real server on
// loopback with one update — which ref (branch, protected branch, tag,
// proof ref), its value before, the update's old and new values, force,
// and who pushes (owner, collaborator, attacking collaborator, outsider),
// against a server that verifies proofs or one that cannot — and checks
// its answer and the ref afterwards against modelRefUpdate.
func FuzzRefUpdate(f *testing.F) {
	for _, s := range [][6]uint8{
		{0, 1, 1, 2, 0, 1}, // collaborator fast-forwards a branch
		{0, 2, 2, 3, 0, 1}, // ... not a fast-forward
		{0, 2, 2, 3, 1, 0}, // owner forces
		{1, 1, 1, 2, 0, 1}, // protected branch
		{2, 1, 1, 2, 0, 2}, // attacker moves a tag
		{2, 0, 0, 6, 0, 2}, // attacker creates a tag with its tag object
		{2, 0, 0, 5, 0, 2}, // ... with the owner's unpublished tag object
		{0, 0, 0, 4, 0, 2}, // forged author
		{0, 0, 0, 3, 0, 1}, // collaborator publishes the attacker's commit
		{3, 0, 0, 2, 0, 2}, // attacker's garbage proof
		{3, 2, 2, 1, 0, 1}, // valid proof replaces a garbage one
		{3, 1, 1, 2, 0, 1}, // ... and not the reverse
		{3, 0, 0, 1, 0, 2}, // attacker's valid proof
		{0, 1, 2, 3, 0, 1}, // stale
		{0, 1, 1, 0, 1, 0}, // owner deletes
		{3, 0, 0, 1, 2, 2}, // cannot verify: attacker's proof of B
		{3, 0, 0, 1, 2, 1}, // cannot verify: B's author
		{0, 1, 1, 2, 0, 3}, // outsider
		{2, 5, 5, 1, 1, 0}, // owner replaces a tag object by a commit
		{1, 2, 2, 3, 1, 0}, // owner forces a protected branch
		{2, 0, 0, 3, 0, 1}, // collaborator tags the attacker's unpublished commit
		{0, 0, 0, 2, 0, 2}, // attacker branches at the collaborator's commit
	} {
		f.Add(s[0], s[1], s[2], s[3], s[4], s[5])
	}
	// two worlds shared by every input
	worlds := [2]*refWorld{newRefWorld(f, true), newRefWorld(f, false)}
	f.Fuzz(func(t *testing.T, refSel, curSel, oldSel, newSel, flags, roleSel uint8) {
		verifying := flags&2 == 0
		w := worlds[0]
		if !verifying {
			w = worlds[1]
		}
		ctx := context.Background()
		names := []string{"refs/heads/f", "refs/heads/p", "refs/tags/t", remote.ProofsPrefix + w.b.String()}
		name := names[int(refSel)%len(names)]
		vals := w.vals
		if strings.HasPrefix(name, remote.ProofsPrefix) {
			vals = w.proofs
		}
		cur, old, new := vals[int(curSel)%len(vals)], vals[int(oldSel)%len(vals)], vals[int(newSel)%len(vals)]
		force := flags&1 != 0
		r := role(int(roleSel) % 4)

		// the ref holds cur, set the way an older server could have
		rs, err := refs.Open(filepath.Join(w.tr.ts.root, "lab", "m.fed"))
		if err != nil {
			t.Fatal(err)
		}
		was, err := rs.Read(refs.Name(name))
		if err != nil && !errors.Is(err, refs.ErrNotFound) {
			t.Fatal(err)
		}
		if was != cur {
			if err := rs.Transaction([]refs.Update{{Name: refs.Name(name), Old: was, New: cur, Force: true}}, refs.Entry{Message: "fuzz setup"}); err != nil {
				t.Fatal(err)
			}
		}
		all, err := rs.List("refs/")
		if err != nil {
			t.Fatal(err)
		}
		var heads []objects.ID
		for _, ref := range all {
			if strings.HasPrefix(string(ref.Name), refs.HeadsPrefix) || strings.HasPrefix(string(ref.Name), refs.TagsPrefix) {
				heads = append(heads, ref.ID)
			}
		}
		want := w.modelRefUpdate(name, cur, old, new, force, r, verifying, heads)

		p := map[role]party{roleOwner: w.tr.owner, roleCollab: w.tr.collab, roleAttacker: w.tr.attacker, roleOutsider: w.tr.outsider}[r]
		_, err = p.c.UpdateRefs(ctx, []remote.RefUpdate{{Name: name, Old: old, New: new, Force: force}})
		got := ""
		var pr *remote.Problem
		if errors.As(err, &pr) {
			got = pr.Code
		} else if err != nil {
			got = "error: " + err.Error()
		}
		desc := func(id objects.ID) string {
			if id.IsZero() {
				return "zero"
			}
			return w.names[id]
		}
		if got != want {
			t.Fatalf("%s holding %s: %s -> %s, force %v, role %d, verifying %v: got %q (%v), want %q",
				name, desc(cur), desc(old), desc(new), force, r, verifying, got, err, want)
		}
		after, err := rs.Read(refs.Name(name))
		if err != nil && !errors.Is(err, refs.ErrNotFound) {
			t.Fatal(err)
		}
		if wantAfter := map[bool]objects.ID{true: new, false: cur}[want == ""]; after != wantAfter {
			t.Fatalf("%s after %s -> %s by role %d: %s, want %s", name, desc(old), desc(new), r, desc(after), desc(wantAfter))
		}
	})
}
