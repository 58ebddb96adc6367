package proving

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/refs"
	"github.com/fed-vcs/fed/remote"
	"github.com/fed-vcs/fed/repo"
	"github.com/fed-vcs/fed/zk"
)

// signSettings stores zk as the owner-signed settings of r's origin, as a
// fetch keeps them.
func signSettings(t *testing.T, r *repo.Repo, settings map[string]string) objects.ID {
	t.Helper()
	ctx := context.Background()
	owner := objects.KeypairFromSeed(bytes.Repeat([]byte{7}, 32))
	cm := remote.NewSettingsCommit(settings, objects.ZeroID, 1_700_000_000)
	if err := objects.SignCommit(cm, owner); err != nil {
		t.Fatal(err)
	}
	_, tree := remote.EmptyTree()
	if _, err := r.Objects.Put(ctx, tree, objects.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	id, err := objects.Write(ctx, r.Objects, cm)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Refs.Transaction([]refs.Update{{Name: repo.SettingsRef("origin"), New: id, Force: true}}, r.Entry("test")); err != nil {
		t.Fatal(err)
	}
	return id
}

// TestSettingsFallBackToSigned: each key .fed/config leaves unset comes
// from the owner's signed settings, but zk.prove (the owner's servers do
// not decide when a contributor proves), and the report names both sources.
func TestSettingsFallBackToSigned(t *testing.T) {
	r := newTestRepo(t)
	s, err := ReadSettings(r)
	if err != nil || s.Any() || s.ChunkSize != zk.DefaultChunk || s.describe() != "none" {
		t.Fatalf("no settings: %+v, %v", s, err)
	}
	signSettings(t, r, map[string]string{"zk.chunk": "16", "zk.linf": "0.05"})
	s, err = ReadSettings(r)
	if err != nil || !s.HasLinf || s.Linf != 0.05 || s.ChunkSize != 16 || s.HasL2 || s.Always {
		t.Fatalf("from the signed settings: %+v, %v", s, err)
	}
	if !strings.HasPrefix(s.describe(), "signed by ") {
		t.Errorf("describe %q", s.describe())
	}
	for k, v := range map[string]string{"zk.linf": "0.5", "zk.prove": "always"} {
		if err := r.Config.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	s, err = ReadSettings(r)
	if err != nil || s.Linf != 0.5 || s.ChunkSize != 16 || !s.Always {
		t.Fatalf("config over signed: %+v, %v", s, err)
	}
	if want := []string{"zk.chunk"}; len(s.FromSigned) != 1 || s.FromSigned[0] != want[0] || !strings.HasPrefix(s.describe(), ".fed/config, then signed by ") {
		t.Errorf("sources %v, %q", s.FromSigned, s.describe())
	}
	if on, _, err := Enabled(r); !on || err != nil {
		t.Errorf("Enabled = %v, %v", on, err)
	}
}

// TestConfigKeyCheck: zk keys are checked when they are set (the check
// this package registers with repo), so that a bad value never reaches a
// later command; ReadSettings refuses one written around the check.
func TestConfigKeyCheck(t *testing.T) {
	r := newTestRepo(t)
	for _, kv := range [][2]string{{"zk.linf", "-1"}, {"zk.l2", "x"}, {"zk.chunk", "7"}, {"zk.prove", "sometimes"}, {"zk.vk", "abc"}, {"zk.unknown", "1"}} {
		if err := r.Config.Set(kv[0], kv[1]); err == nil {
			t.Errorf("Set(%s, %s) accepted", kv[0], kv[1])
		}
	}
	if all := r.Config.All(); strings.Contains(strings.Join(all, " "), "zk.") {
		t.Errorf("refused values were kept: %v", all)
	}
	for _, kv := range [][2]string{{"zk.linf", "0.1"}, {"zk.l2", "2"}, {"zk.chunk", "64"}, {"zk.prove", "never"}, {"zk.vk", strings.Repeat("ab", 32)}} {
		if err := r.Config.Set(kv[0], kv[1]); err != nil {
			t.Errorf("Set(%s, %s): %v", kv[0], kv[1], err)
		}
	}
	s, err := ReadSettings(r)
	if err != nil || s.Linf != 0.1 || s.L2 != 2 || s.ChunkSize != 64 || s.Always || len(s.Pinned) != 1 {
		t.Fatalf("settings %+v, %v", s, err)
	}
	// A value the check never saw (another fed, a hand edit).
	signSettings(t, r, map[string]string{"zk.chunk": "16"})
	if err := r.Config.Unset("zk.chunk"); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadSettings(r); err != nil {
		t.Fatalf("signed chunk 16: %v", err)
	}
	// A chunk size zk cannot prove, though it is a multiple of 8.
	if _, err := parseSettings(func(k string) (string, bool) { return "1073741824", k == "zk.chunk" }); err == nil || !strings.Contains(err.Error(), "config zk.chunk") {
		t.Errorf("chunk 2^30: %v", err)
	}
}
