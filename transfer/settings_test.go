package transfer

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/refs"
	"github.com/fed-vcs/fed/remote"
	"github.com/fed-vcs/fed/repo"
)

// TestSignedSettingsTampering: clones and fetches keep the settings the
// owner signed; a server that hands out settings someone else signed, or
// rolls them back to an unrelated commit, is refused, and nothing changes.
func TestSignedSettingsTampering(t *testing.T) {
	ctx := context.Background()
	url, root := startServer(t)
	url += "/alice/model"
	owner := newTestRepo(t) // key 1
	commitSeeded(t, owner, map[string][2]int{"w": {64, 1}}, "v1")
	if err := owner.RemoteAdd("origin", url); err != nil {
		t.Fatal(err)
	}
	if _, err := Push(ctx, owner, PushOptions{}); err != nil {
		t.Fatal(err)
	}
	s1, err := owner.PublishSettings(ctx, "origin", map[string]string{"zk.chunk": "16", "zk.linf": "0.05"})
	if err != nil {
		t.Fatal(err)
	}

	clone := func(name string) (*repo.Repo, error) {
		return Clone(ctx, CloneOptions{URL: url, Dir: filepath.Join(t.TempDir(), name), Key: keyN(2)})
	}
	b, err := clone("b")
	if err != nil {
		t.Fatal(err)
	}
	got, err := b.RemoteSettings(ctx, "origin")
	if err != nil || got == nil || got.Commit != s1 || got.Signer != owner.Key.Public() || got.ZK["zk.linf"] != "0.05" {
		t.Fatalf("clone's settings %+v, %v", got, err)
	}
	// (proving.ReadSettings takes each zk key .fed/config leaves unset
	// from them: proving's TestSettingsFallBackToSigned)
	if got.ZK["zk.chunk"] != "16" || got.Remote != "origin" || b.SettingsRemote() != "origin" {
		t.Fatalf("clone's settings %+v, settings remote %q", got, b.SettingsRemote())
	}

	// The server's operator replaces them: weaker ones signed by another
	// key, then the owner's own older, unrelated settings.
	dir := filepath.Join(root, "alice/model.fed")
	st, err := objects.OpenDisk(filepath.Join(dir, "objects"))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := refs.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	forge := func(k *objects.Keypair, parent objects.ID, linf string) objects.ID {
		c := remote.NewSettingsCommit(map[string]string{"zk.chunk": "16", "zk.linf": linf}, parent, 1_700_000_000)
		if err := objects.SignCommit(c, k); err != nil {
			t.Fatal(err)
		}
		id, err := objects.Write(ctx, st, c)
		if err != nil {
			t.Fatal(err)
		}
		cur, _ := rs.Read(remote.SettingsRef)
		if err := rs.Update(remote.SettingsRef, cur, id, refs.Entry{Message: "tamper"}); err != nil {
			t.Fatal(err)
		}
		return id
	}
	forge(keyN(9), s1, "10")
	if _, err := Fetch(ctx, b, FetchOptions{}); !errors.Is(err, remote.ErrBadSettings) {
		t.Fatalf("fetch of settings signed by another key: %v, want ErrBadSettings", err)
	}
	if got, _ := b.RemoteSettings(ctx, "origin"); got == nil || got.Commit != s1 {
		t.Fatalf("settings after a refused fetch: %+v", got)
	}
	if _, err := clone("c"); !errors.Is(err, remote.ErrBadSettings) {
		t.Fatalf("clone of settings signed by another key: %v, want ErrBadSettings", err)
	}
	forge(owner.Key, objects.ZeroID, "10")
	if _, err := Fetch(ctx, b, FetchOptions{}); !errors.Is(err, repo.ErrSettingsRollback) {
		t.Fatalf("fetch of settings that do not descend from the held ones: %v, want repo.ErrSettingsRollback", err)
	}
	if got, _ := b.RemoteSettings(ctx, "origin"); got == nil || got.Commit != s1 {
		t.Fatalf("settings after a refused fetch: %+v", got)
	}
	// The owner's next settings, signed and descending, are taken.
	cur, _ := rs.Read(remote.SettingsRef)
	if err := rs.Update(remote.SettingsRef, cur, s1, refs.Entry{Message: "restore"}); err != nil {
		t.Fatal(err)
	}
	s2, err := owner.PublishSettings(ctx, "origin", map[string]string{"zk.chunk": "16", "zk.linf": "0.01"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Fetch(ctx, b, FetchOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, _ := b.RemoteSettings(ctx, "origin"); got == nil || got.Commit != s2 || got.ZK["zk.linf"] != "0.01" {
		t.Fatalf("settings after the owner's change: %+v", got)
	}
	// removing the remote forgets its settings (a remote added again under
	// the name may be another repository)
	if err := b.RemoteRemove("origin"); err != nil {
		t.Fatal(err)
	}
	if got, err := b.RemoteSettings(ctx, "origin"); got != nil || err != nil {
		t.Fatalf("settings after remote remove: %+v, %v", got, err)
	}
}
