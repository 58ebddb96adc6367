package repo

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fed-vcs/fed/objects"
)

// historyRepo makes a repository with commits one and two on main, a
// branch side at one that HEAD switched to and back from, and a stash
// entry. It returns the repository and the ids of one and two.
func historyRepo(tb testing.TB, dir string) (*Repo, objects.ID, objects.ID) {
	tb.Helper()
	ctx := context.Background()
	r, err := Init(dir)
	if err != nil {
		tb.Fatal(err)
	}
	r.Key = objects.KeypairFromSeed(bytes.Repeat([]byte{1}, 32))
	clock := time.Unix(1_700_000_000, 0)
	r.Now = func() time.Time { clock = clock.Add(time.Minute); return clock }
	write := func(s string) {
		if err := os.WriteFile(filepath.Join(r.Root, "a.txt"), []byte(s), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	write("one\n")
	if err := r.Add(ctx, []string{r.Root}, AddOptions{}); err != nil {
		tb.Fatal(err)
	}
	one, err := r.Commit(ctx, CommitOptions{Message: "one"})
	if err != nil {
		tb.Fatal(err)
	}
	write("two\n")
	two, err := r.Commit(ctx, CommitOptions{Message: "two", All: true})
	if err != nil {
		tb.Fatal(err)
	}
	if err := r.Switch(ctx, "side", SwitchOptions{Create: true, Start: one.String()}); err != nil {
		tb.Fatal(err)
	}
	if err := r.Switch(ctx, "main", SwitchOptions{}); err != nil {
		tb.Fatal(err)
	}
	write("stashed\n")
	if _, err := r.StashPush(ctx, "wip"); err != nil {
		tb.Fatal(err)
	}
	return r, one, two
}

func TestResolveReflog(t *testing.T) {
	ctx := context.Background()
	r, one, two := historyRepo(t, t.TempDir())
	stash, err := r.stashEntry(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		rev  string
		want objects.ID // zero: an unknown revision
	}{
		{"HEAD@{0}", two},
		{"@{0}", two},
		{"@{1}", one}, // switched to side
		{"@{2}", two}, // commit two
		{"@{3}", one}, // commit one
		{"@{4}", objects.ZeroID},
		{"main@{1}", one},
		{"main@{0}~1", one},
		{"side@{0}", one},
		{"@{-1}", one}, // side
		{"@{-2}", two}, // main
		{"@{-3}", objects.ZeroID},
		{"stash@{0}", stash.ID},
		{"stash@{1}", objects.ZeroID},
		{"main@{-1}", objects.ZeroID},
		{"HEAD@{yesterday}", objects.ZeroID},
		{"nosuch@{0}", objects.ZeroID},
	}
	for _, tt := range tests {
		got, err := r.Resolve(ctx, tt.rev)
		if tt.want.IsZero() {
			if !errors.Is(err, ErrUnknownRev) {
				t.Errorf("Resolve(%q) = %s, %v; want an unknown revision", tt.rev, got.Short(), err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Resolve(%q) = %s, %v; want %s", tt.rev, got.Short(), err, tt.want.Short())
		}
	}
}

func TestStashRoundTrip(t *testing.T) {
	ctx := context.Background()
	r, _, _ := historyRepo(t, t.TempDir())
	a := filepath.Join(r.Root, "a.txt")
	if b, _ := os.ReadFile(a); string(b) != "two\n" {
		t.Fatalf("after stash push a.txt = %q, want HEAD's", b)
	}
	if _, err := r.StashApply(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(a); string(b) != "stashed\n" {
		t.Fatalf("after apply a.txt = %q", b)
	}
	st, err := r.Status(ctx)
	if err != nil || len(st) != 1 || st[0].Staged != 0 || st[0].Worktree != 'M' {
		t.Fatalf("status after apply: %+v %v; want a.txt modified, not staged", st, err)
	}
	if _, err := r.StashDrop(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if list, err := r.Stashes(ctx); err != nil || len(list) != 0 {
		t.Fatalf("stash after drop: %v %v", list, err)
	}
	rep, err := r.Fsck(ctx)
	if err != nil || len(rep.Problems) != 0 {
		t.Fatalf("fsck: %v %v", rep, err)
	}
}
