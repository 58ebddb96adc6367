package transfer

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/refs"
	"github.com/fed-vcs/fed/remote"
	"github.com/fed-vcs/fed/remote/server"
	"github.com/fed-vcs/fed/repo"
)

// faultyServer runs a fed server on loopback behind a switch: while
// failing holds, requests whose path ends in one of the suffixes (for
// the method given) are cut off without an answer.
func faultyServer(t *testing.T, method string, suffixes ...string) (url, root string, failing *atomic.Bool) {
	t.Helper()
	root = t.TempDir()
	s, err := server.New(server.Options{Root: root, ErrorLog: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	failing = &atomic.Bool{}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() && r.Method == method {
			for _, suf := range suffixes {
				if strings.HasSuffix(r.URL.Path, suf) {
					panic(http.ErrAbortHandler)
				}
			}
		}
		s.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	return ts.URL, root, failing
}

// noRetries makes a client give up at the first failure.
var noRetries = remote.Options{MaxRetries: -1}

// TestFetchFailureMovesNoRef: a fetch whose download fails leaves the
// remote-tracking refs and the shallow list as they were; the next
// fetch gets everything.
func TestFetchFailureMovesNoRef(t *testing.T) {
	ctx := context.Background()
	url, _, failing := faultyServer(t, http.MethodPost, "/objects/download")
	url += "/alice/m"
	a := newTestRepo(t)
	commitModel(t, a, 9, map[string]int{"w": 50_000}, "v0")
	c1 := commitModel(t, a, 1, map[string]int{"w": 50_000}, "v1")
	if err := a.RemoteAdd("origin", url); err != nil {
		t.Fatal(err)
	}
	if _, err := Push(ctx, a, PushOptions{}); err != nil {
		t.Fatal(err)
	}
	b, err := Clone(ctx, CloneOptions{URL: url, Dir: filepath.Join(t.TempDir(), "b"), Key: keyN(2), Depth: 1})
	if err != nil {
		t.Fatal(err)
	}
	c2 := commitModel(t, a, 2, map[string]int{"w": 50_000}, "v2")
	if _, err := Push(ctx, a, PushOptions{}); err != nil {
		t.Fatal(err)
	}
	failing.Store(true)
	if _, err := Fetch(ctx, b, FetchOptions{Client: noRetries}); err == nil {
		t.Fatal("a fetch whose downloads fail succeeded")
	}
	if got, _ := b.Refs.Read(refs.Remote("origin", "main")); got != c1 {
		t.Fatalf("after a failed fetch origin/main is %s, want %s (unchanged)", got.Short(), c1.Short())
	}
	if sh, err := b.Shallow(); err != nil || len(sh) != 1 || !sh[c1] {
		t.Fatalf("shallow list after a failed fetch: %v %v", sh, err)
	}
	failing.Store(false)
	res, err := Fetch(ctx, b, FetchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Changes) != 1 || res.Changes[0].Old != c1 || res.Changes[0].New != c2 {
		t.Fatalf("changes %+v, want origin/main %s..%s", res.Changes, c1.Short(), c2.Short())
	}
	if rep, err := b.Fsck(ctx); err != nil || len(rep.Problems) != 0 {
		t.Fatalf("fsck after the fetch: %v %v", err, rep)
	}
}

// TestPushFailureMovesNoRef: a push whose upload fails moves neither the
// branch on the server nor the remote-tracking ref.
func TestPushFailureMovesNoRef(t *testing.T) {
	ctx := context.Background()
	url, _, failing := faultyServer(t, http.MethodPost, "/objects")
	url += "/alice/m"
	a := newTestRepo(t)
	c1 := commitModel(t, a, 1, map[string]int{"w": 50_000}, "v1")
	a.RemoteAdd("origin", url)
	if _, err := Push(ctx, a, PushOptions{}); err != nil {
		t.Fatal(err)
	}
	c2 := commitModel(t, a, 2, map[string]int{"w": 50_000}, "v2")
	failing.Store(true)
	if _, err := Push(ctx, a, PushOptions{Client: noRetries}); err == nil {
		t.Fatal("a push whose upload fails succeeded")
	}
	failing.Store(false)
	if got, _ := a.Refs.Read(refs.Remote("origin", "main")); got != c1 {
		t.Fatalf("tracking ref after a failed push: %s, want %s", got.Short(), c1.Short())
	}
	c, err := a.Client("origin", remote.Options{})
	if err != nil {
		t.Fatal(err)
	}
	list, err := c.Refs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if i := slices.IndexFunc(list.Refs, func(r remote.Ref) bool { return r.Name == "refs/heads/main" }); i < 0 || list.Refs[i].ID != c1 {
		t.Fatalf("server refs after a failed push: %+v, want main at %s", list.Refs, c1.Short())
	}
	res, err := Push(ctx, a, PushOptions{})
	if err != nil || res.Old != c1 || res.New != c2 {
		t.Fatalf("push after the failure: %+v %v", res, err)
	}
}

// TestPushSet: what a push sends is the closure of the branch minus what
// the server's known commits reach; withheld tensors are listed apart,
// without their pieces.
func TestPushSet(t *testing.T) {
	ctx := context.Background()
	r := newTestRepo(t)
	c1 := commitSeeded(t, r, map[string][2]int{"w": {20_000, 1}, "b": {100, 2}}, "v1")
	c2 := commitSeeded(t, r, map[string][2]int{"w": {20_000, 3}, "b": {100, 2}}, "v2")
	w1, w2, b := tensorOf(t, r, c1, "w"), tensorOf(t, r, c2, "w"), tensorOf(t, r, c2, "b")
	ids, withheld, commits, err := pushSet(ctx, r, c2, map[objects.ID]bool{c1: true}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(commits, []objects.ID{c2}) || len(withheld) != 0 {
		t.Fatalf("commits %v, withheld %v", commits, withheld)
	}
	set := map[objects.ID]bool{}
	for _, id := range ids {
		if set[id] {
			t.Errorf("%s listed twice", id.Short())
		}
		set[id] = true
	}
	t2, _ := objects.ReadTensor(ctx, r.Objects, w2)
	for _, id := range append([]objects.ID{c2, w2}, t2.Pieces...) {
		if !set[id] {
			t.Errorf("%s missing from the push set", id.Short())
		}
	}
	for _, id := range []objects.ID{c1, w1, b} {
		if set[id] {
			t.Errorf("%s is known to the server but listed", id.Short())
		}
	}
	// withholding w: listed apart, its pieces not walked
	ids, withheld, _, err = pushSet(ctx, r, c2, map[objects.ID]bool{c1: true}, nil, func(id objects.ID) bool { return id == w2 })
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(withheld, []objects.ID{w2}) || slices.Contains(ids, w2) || slices.Contains(ids, t2.Pieces[0]) {
		t.Fatalf("withheld %v; set holds w: %v", withheld, slices.Contains(ids, w2))
	}
	// nothing known: the whole history
	_, _, commits, err = pushSet(ctx, r, c2, nil, nil, nil)
	if err != nil || len(commits) != 2 {
		t.Fatalf("commits without known ones: %v %v", commits, err)
	}
	// at a shallow boundary the walk stops
	_, _, commits, err = pushSet(ctx, r, c2, nil, map[objects.ID]bool{c2: true}, nil)
	if err != nil || !slices.Equal(commits, []objects.ID{c2}) {
		t.Fatalf("commits behind a shallow boundary: %v %v", commits, err)
	}
}

// TestCheckClosureNamesMissing: after a download, a missing object is an
// error naming it, a missing chunk one of remote.ErrIncomplete naming it.
func TestCheckClosureNamesMissing(t *testing.T) {
	ctx := context.Background()
	r := newTestRepo(t)
	c1 := commitSeeded(t, r, map[string][2]int{"w": {20_000, 1}}, "v1")
	if err := checkClosure(ctx, r, []objects.ID{c1}, nil, nil, nil); err != nil {
		t.Fatalf("complete closure: %v", err)
	}
	w := tensorOf(t, r, c1, "w")
	tw, _ := objects.ReadTensor(ctx, r.Objects, w)
	piece := tw.Pieces[0]
	if err := r.Objects.Delete(ctx, piece); err != nil {
		t.Fatal(err)
	}
	err := checkClosure(ctx, r, []objects.ID{c1}, nil, nil, nil)
	if !errors.Is(err, remote.ErrIncomplete) || !strings.Contains(err.Error(), piece.Short()) {
		t.Fatalf("missing chunk: %v, want ErrIncomplete naming %s", err, piece.Short())
	}
	if err := r.Objects.Delete(ctx, w); err != nil {
		t.Fatal(err)
	}
	err = checkClosure(ctx, r, []objects.ID{c1}, nil, nil, nil)
	if !errors.Is(err, objects.ErrNotFound) || !strings.Contains(err.Error(), w.String()) {
		t.Fatalf("missing tensor: %v, want not found naming %s", err, w)
	}
	// a withheld one is absent on purpose; a complete commit is not walked
	if err := checkClosure(ctx, r, []objects.ID{c1}, nil, nil, map[objects.ID]bool{w: true}); err != nil {
		t.Fatalf("withheld tensor: %v", err)
	}
	if err := checkClosure(ctx, r, []objects.ID{c1}, map[objects.ID]bool{c1: true}, nil, nil); err != nil {
		t.Fatalf("complete commit: %v", err)
	}
}

// TestPullDivergedCallsMerge: diverged branches go to the caller's merge
// with the remote branch's commit and the merge message, outside the
// repository lock; its error comes back with Merged set.
func TestPullDivergedCallsMerge(t *testing.T) {
	ctx := context.Background()
	url, _ := startServer(t)
	url += "/team/m"
	a := newTestRepo(t)
	commitModel(t, a, 1, map[string]int{"w": 1000}, "base")
	a.RemoteAdd("origin", url)
	if _, err := Push(ctx, a, PushOptions{}); err != nil {
		t.Fatal(err)
	}
	b, err := Clone(ctx, CloneOptions{URL: url, Dir: filepath.Join(t.TempDir(), "b"), Key: a.Key})
	if err != nil {
		t.Fatal(err)
	}
	b.Now = a.Now
	theirs := commitModel(t, a, 2, map[string]int{"w": 1000}, "from a")
	if _, err := Push(ctx, a, PushOptions{}); err != nil {
		t.Fatal(err)
	}
	ours := commitModel(t, b, 3, map[string]int{"w": 1000}, "from b")
	boom := errors.New("merge refused")
	var gotUp objects.ID
	var gotMsg string
	res, err := Pull(ctx, b, PullOptions{Merge: func(_ context.Context, up objects.ID, msg string) (objects.ID, error) {
		gotUp, gotMsg = up, msg
		// the lock is free: the merge takes it
		unlock, err := b.Lock(0)
		if err != nil {
			return objects.ZeroID, err
		}
		unlock()
		return objects.ZeroID, boom
	}})
	if !errors.Is(err, boom) || res == nil || !res.Merged || res.New != ours {
		t.Fatalf("pull: %+v, %v", res, err)
	}
	if gotUp != theirs || gotMsg != "Merge origin/main into main" {
		t.Fatalf("merge called with %s %q", gotUp.Short(), gotMsg)
	}
}

// TestCloneFailureRemovesWhatItMade: a clone that fails removes the
// directory it created, and only the .fed directory of an empty one it
// was given.
func TestCloneFailureRemovesWhatItMade(t *testing.T) {
	ctx := context.Background()
	url, _ := startServer(t)
	dir := filepath.Join(t.TempDir(), "new")
	if _, err := Clone(ctx, CloneOptions{URL: url + "/nobody/nothing", Dir: dir}); err == nil {
		t.Fatal("clone of a repository the server lacks succeeded")
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("failed clone left its directory: %v", err)
	}
	empty := t.TempDir()
	if _, err := Clone(ctx, CloneOptions{URL: url + "/nobody/nothing", Dir: empty}); err == nil {
		t.Fatal("clone of a repository the server lacks succeeded")
	}
	if _, err := os.Stat(empty); err != nil {
		t.Fatalf("failed clone removed the directory it was given: %v", err)
	}
	if _, err := os.Stat(filepath.Join(empty, ".fed")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("failed clone left .fed: %v", err)
	}
	if _, err := repo.Open(empty); err == nil {
		t.Fatal("a repository is left after a failed clone")
	}
}
