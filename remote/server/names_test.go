package server_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/remote"
	"github.com/fed-vcs/fed/remote/server"
)

// TestReservedNameTrees: a tree whose entry names the repository
// directory .fed in a spelling some file system maps to it (issue 14,
// item 6: ".FED/config" was accepted, and clones wrote it into their own
// .fed on macOS and Windows) is refused with reserved-name, whoever
// pushes it and however deep it lies; names that only look alike pass.
func TestReservedNameTrees(t *testing.T) {
	ctx := context.Background()
	tr := newTrustRepo(t, server.Options{})
	// commitWith builds, on main's root, a commit of p's whose tree holds
	// the root's model plus <dir...>/name/config.
	commitWith := func(p party, name string, dirs ...string) (objects.ID, []objects.ID) {
		_, _, ids := p.h.commit(tr.root, 1, 1024, 7, nil)
		model := ids[len(ids)-3]
		write := func(o objects.Object) objects.ID {
			id, err := objects.Write(ctx, p.h.store, o)
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
			return id
		}
		sub := write(&objects.Tree{Entries: []objects.TreeEntry{{Name: "config", Mode: objects.ModeFile, Kind: objects.KindModel, ID: model}}})
		entry := objects.TreeEntry{Name: name, Mode: objects.ModeDir, Kind: objects.KindTree, ID: sub}
		for _, d := range slices.Backward(dirs) {
			entry = objects.TreeEntry{Name: d, Mode: objects.ModeDir, Kind: objects.KindTree, ID: write(&objects.Tree{Entries: []objects.TreeEntry{entry}})}
		}
		entries := []objects.TreeEntry{entry, {Name: "model.safetensors", Mode: objects.ModeFile, Kind: objects.KindModel, ID: model}}
		slices.SortFunc(entries, func(a, b objects.TreeEntry) int { return strings.Compare(a.Name, b.Name) })
		c := &objects.Commit{Tree: write(&objects.Tree{Entries: entries}), Parents: []objects.ID{tr.root}, Time: 1_700_000_100, Message: "add " + name}
		if err := objects.SignCommit(c, p.key); err != nil {
			t.Fatal(err)
		}
		return write(c), ids
	}
	for i, tc := range []struct {
		who  string
		p    party
		name string
		dirs []string
		want string
	}{
		{"collaborator", tr.attacker, ".FED", nil, remote.CodeReservedName},
		{"collaborator", tr.attacker, ".fed", nil, remote.CodeReservedName},
		{"owner", tr.owner, ".Fed", nil, remote.CodeReservedName},
		{"collaborator", tr.attacker, ".fed. .", nil, remote.CodeReservedName},
		{"collaborator", tr.attacker, ".fed::$INDEX_ALLOCATION", nil, remote.CodeReservedName},
		{"collaborator", tr.attacker, ".fe\u200cd", nil, remote.CodeReservedName},
		{"collaborator", tr.attacker, "\ufeff.FED", nil, remote.CodeReservedName},
		{"collaborator", tr.attacker, "FED~1", nil, remote.CodeReservedName},
		{"collaborator", tr.attacker, ".FED", []string{"sub", "deeper"}, remote.CodeReservedName},
		{"collaborator", tr.collab, ".fedora", nil, ""},
		{"collaborator", tr.collab, "fed", []string{"sub"}, ""},
	} {
		cid, ids := commitWith(tc.p, tc.name, tc.dirs...)
		ref := "refs/heads/names-" + string(rune('a'+i))
		got := tc.p.update(t, tr.store, ids, remote.RefUpdate{Name: ref, New: cid})
		if got != tc.want {
			t.Errorf("%s pushes a tree with %q under %q: code %q, want %q", tc.who, tc.name, strings.Join(tc.dirs, "/"), got, tc.want)
		}
		if want := objects.ZeroID; tc.want != "" && tr.ref(t, ref) != want {
			t.Errorf("%q: ref %s was set", tc.name, ref)
		}
	}
}
