package server_test

import (
	"context"
	"errors"
	"testing"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/remote"
	"github.com/fed-vcs/fed/remote/server"
)

// TestSettingsRef: refs/meta/settings takes only the owner's signed
// settings commits, as fast-forwards (doc/protocol.md §6.8.1).
func TestSettingsRef(t *testing.T) {
	ctx := context.Background()
	ts := newServer(t, server.Options{})
	owner, collab, outsider := keyN(1), keyN(2), keyN(3)
	url := ts.URL + "/own/m"
	h := newHistory(t, owner)
	c1, _, ids1 := h.commit(objects.ZeroID, 1, 4096, 1, nil)
	co := newClient(t, url, owner, remote.Options{})
	if err := push(ctx, co, h.store, ids1, "refs/heads/main", objects.ZeroID, c1, false); err != nil {
		t.Fatal(err)
	}
	if err := co.AddCollaborator(ctx, collab.Public()); err != nil {
		t.Fatal(err)
	}
	treeID, tree := remote.EmptyTree()
	if _, err := h.store.Put(ctx, tree, objects.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	settings := func(k *objects.Keypair, parent objects.ID, linf string, edit func(c *objects.Commit)) objects.ID {
		c := remote.NewSettingsCommit(map[string]string{"zk.linf": linf, "zk.chunk": "16"}, parent, 1_700_000_000)
		if edit != nil {
			edit(c)
		}
		if k != nil {
			if err := objects.SignCommit(c, k); err != nil {
				t.Fatal(err)
			}
		}
		id, err := objects.Write(ctx, h.store, c)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	set := func(c *remote.Client, old, new objects.ID, force bool) error {
		return push(ctx, c, h.store, []objects.ID{new, treeID}, remote.SettingsRef, old, new, force)
	}
	code := func(err error) string {
		var p *remote.Problem
		if errors.As(err, &p) {
			return p.Code
		}
		return ""
	}
	s1 := settings(owner, objects.ZeroID, "0.05", nil)
	if err := set(co, objects.ZeroID, s1, false); err != nil {
		t.Fatalf("owner's signed settings: %v", err)
	}
	weaker := settings(collab, s1, "10", nil)
	cc := newClient(t, url, collab, remote.Options{})
	if err := set(cc, s1, weaker, false); code(err) != remote.CodeForbidden {
		t.Fatalf("collaborator setting settings: %v", err)
	}
	cx := newClient(t, url, outsider, remote.Options{})
	if err := set(cx, s1, settings(outsider, s1, "10", nil), false); !errors.Is(err, remote.ErrForbidden) {
		t.Fatalf("outsider setting settings: %v", err)
	}
	for name, id := range map[string]objects.ID{
		"signed by a collaborator": weaker,
		"wrong message":            settings(owner, s1, "10", func(c *objects.Commit) { c.Message = "x\n" }),
		"unknown key": settings(owner, s1, "10", func(c *objects.Commit) {
			c.Meta = objects.SortKV(append(c.Meta, objects.KV{Key: "zk.prove", Value: "always"}))
		}),
		"bad value":      settings(owner, s1, "-1", nil),
		"a model commit": c1,
	} {
		if err := set(co, s1, id, false); code(err) != remote.CodeBadSettings || !errors.Is(err, remote.ErrBadSettings) {
			t.Errorf("owner pushing settings %s: %v, want bad-settings", name, err)
		}
	}
	// an unsigned one is refused as any unsigned commit is, or as settings
	if err := set(co, s1, settings(nil, s1, "10", nil), false); code(err) != remote.CodeBadSettings && code(err) != remote.CodeBadObjectSignature {
		t.Errorf("owner pushing unsigned settings: %v", err)
	}
	// an older or unrelated settings commit replaces the current one only with force
	other := settings(owner, objects.ZeroID, "1", nil)
	if err := set(co, s1, other, false); !errors.Is(err, remote.ErrNonFastForward) {
		t.Fatalf("settings rolled back without force: %v", err)
	}
	s2 := settings(owner, s1, "0.01", nil)
	if err := set(co, s1, s2, false); err != nil {
		t.Fatalf("owner's next settings: %v", err)
	}
	list, err := co.Refs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range list.Refs {
		found = found || r.Name == remote.SettingsRef && r.ID == s2
	}
	if !found {
		t.Fatalf("ref list %+v lacks %s = %s", list.Refs, remote.SettingsRef, s2.Short())
	}
}
