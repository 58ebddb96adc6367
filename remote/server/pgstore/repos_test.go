package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fed-vcs/fed/internal/testpg"
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/refs"
	"github.com/fed-vcs/fed/refs/refstest"
	"github.com/fed-vcs/fed/remote/server"
	"github.com/fed-vcs/fed/remote/server/pgstore"
	"github.com/fed-vcs/fed/repometa"
	"github.com/fed-vcs/fed/repometa/repometatest"
)

// newRepo creates a repository with a fresh name in db.
func newRepo(t *testing.T, db *pgstore.DB, s repometa.Settings) *pgstore.Repo {
	t.Helper()
	name := fmt.Sprintf("o/r%d", repoSeq.Add(1))
	r, created, err := db.CreateRepo(context.Background(), name, s)
	if err != nil || !created {
		t.Fatalf("CreateRepo(%s): %v, created %v", name, err, created)
	}
	return r
}

var repoSeq atomic.Int64

// unavailable stops the cluster until the returned function restarts it.
func unavailable(c *testpg.Cluster) func(t *testing.T) func() {
	return func(t *testing.T) func() {
		c.Stop(t)
		return func() { c.Restart(t) }
	}
}

// The refs of a repository in PostgreSQL pass the ref stores' suite.
func TestRefsConform(t *testing.T) {
	c := testpg.Start(t)
	db := open(t, c.CreateDB(t, "fed"))
	refstest.Run(t, func(t *testing.T) refs.Backend {
		return newRepo(t, db, repometatest.Initial()).Refs()
	}, refstest.Options{Unavailable: unavailable(c)})
}

// Its records pass the repository records' suite; Reopen is another
// replica's pool.
func TestMetaConform(t *testing.T) {
	c := testpg.Start(t)
	url := c.CreateDB(t, "fed")
	db, other := open(t, url), open(t, url)
	var last string
	repometatest.Run(t, func(t *testing.T, initial repometa.Settings) repometa.Store {
		r := newRepo(t, db, initial)
		last = r.Name()
		return r.Meta()
	}, repometatest.Options{
		Reopen: func(t *testing.T) repometa.Store {
			r, err := other.OpenRepo(context.Background(), last)
			if err != nil {
				t.Fatal(err)
			}
			return r.Meta()
		},
		Unavailable: unavailable(c),
	})
}

func TestCreateOpenRepos(t *testing.T) {
	ctx := context.Background()
	url := testpg.DB(t)
	a, b := open(t, url), open(t, url)
	if _, err := a.OpenRepo(ctx, "x/y"); !errors.Is(err, repometa.ErrNotFound) {
		t.Fatalf("OpenRepo of nothing: %v", err)
	}
	// Two replicas create one repository at once: one creates it, the
	// other gets it with the winner's settings.
	var wg sync.WaitGroup
	var created atomic.Int32
	owners := []string{"AliceKey", "BobKey"}
	for i, db := range []*pgstore.DB{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := repometatest.Initial()
			s.Owner = owners[i]
			_, ok, err := db.CreateRepo(ctx, "x/y", s)
			if err != nil {
				t.Error(err)
			}
			if ok {
				created.Add(1)
			}
		}()
	}
	wg.Wait()
	if created.Load() != 1 {
		t.Fatalf("%d replicas created x/y, want 1", created.Load())
	}
	ra, err := a.OpenRepo(ctx, "x/y")
	if err != nil {
		t.Fatal(err)
	}
	rb, err := b.OpenRepo(ctx, "x/y")
	if err != nil {
		t.Fatal(err)
	}
	sa, err1 := ra.Meta().Settings(ctx)
	sb, err2 := rb.Meta().Settings(ctx)
	if err1 != nil || err2 != nil || sa.Owner != sb.Owner || !slices.Contains(owners, sa.Owner) {
		t.Fatalf("settings %+v %v / %+v %v", sa, err1, sb, err2)
	}
	h, err := ra.Refs().Head(ctx)
	if err != nil || h.Symbolic != refs.Branch("main") || !h.ID.IsZero() {
		t.Fatalf("HEAD of a new repository: %+v %v", h, err)
	}
	if _, _, err := a.CreateRepo(ctx, "a/b", repometatest.Initial()); err != nil {
		t.Fatal(err)
	}
	if names, err := b.RepoNames(ctx); err != nil || !slices.Equal(names, []string{"a/b", "x/y"}) {
		t.Fatalf("RepoNames = %v, %v", names, err)
	}
	// A ref written at one replica is read at the other, HEAD with it.
	v := objects.Sum([]byte("v"))
	if err := ra.Refs().Apply(ctx, []refs.Update{{Name: refs.Branch("main"), New: v}}, refs.Entry{Author: "AliceKey", Time: time.Unix(1_800_000_000, 0)}); err != nil {
		t.Fatal(err)
	}
	if h, err := rb.Refs().Head(ctx); err != nil || h.ID != v {
		t.Fatalf("HEAD at the other replica: %+v %v", h, err)
	}
}

// TestRefsAcrossReplicas: replicas (pools) moving one branch by
// compare-and-swap, each retrying what it lost: no move is lost, every
// refusal is a stale ref, and the log has every move in order.
func TestRefsAcrossReplicas(t *testing.T) {
	ctx := context.Background()
	url := testpg.DB(t)
	dbs := []*pgstore.DB{open(t, url), open(t, url), open(t, url)}
	r, _, err := dbs[0].CreateRepo(ctx, "o/r", repometatest.Initial())
	if err != nil {
		t.Fatal(err)
	}
	step := func(n int) objects.ID { return objects.Sum(fmt.Appendf(nil, "step %d", n)) }
	value := map[objects.ID]int{}
	const workers, each = 6, 15
	for i := 0; i <= workers*each; i++ {
		value[step(i)] = i
	}
	main := refs.Branch("main")
	if err := r.Refs().Apply(ctx, []refs.Update{{Name: main, New: step(0)}}, refs.Entry{}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var stale atomic.Int64
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rr, err := dbs[w%len(dbs)].OpenRepo(ctx, "o/r")
			if err != nil {
				t.Error(err)
				return
			}
			b := rr.Refs()
			for done := 0; done < each; {
				cur, err := b.Read(ctx, main)
				if err != nil {
					t.Error(err)
					return
				}
				err = b.Apply(ctx, []refs.Update{{Name: main, Old: cur, New: step(value[cur] + 1)}}, refs.Entry{Author: fmt.Sprint("replica", w)})
				switch {
				case err == nil:
					done++
				case errors.Is(err, refs.ErrStale):
					stale.Add(1)
				default:
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	got, err := r.Refs().Read(ctx, main)
	if err != nil || value[got] != workers*each {
		t.Fatalf("main at step %d (%v), want %d", value[got], err, workers*each)
	}
	rl, err := r.Refs().Reflog(ctx, main)
	if err != nil || len(rl) != workers*each+1 {
		t.Fatalf("reflog: %d entries, %v", len(rl), err)
	}
	for i, e := range rl {
		if value[e.New] != i {
			t.Fatalf("reflog entry %d moves to step %d", i, value[e.New])
		}
	}
	t.Logf("%d moves, %d lost compares retried", workers*each, stale.Load())
}

// TestApplyCollected: a push checked before a collection began is not
// applied after it (retryable, nothing changed); one checked at the
// current count is.
func TestApplyCollected(t *testing.T) {
	ctx := context.Background()
	db := open(t, testpg.DB(t))
	r := newRepo(t, db, repometatest.Initial())
	sh := r.Refs().(server.SharedState)
	c0, _, err := sh.Generations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := sh.Bump(ctx, true, false); err != nil { // a collection begins elsewhere
		t.Fatal(err)
	}
	v := objects.Sum([]byte("v"))
	up := []refs.Update{{Name: refs.Branch("main"), New: v}}
	err = sh.ApplyCollected(ctx, c0, up, refs.Entry{})
	if !errors.Is(err, objects.ErrUnavailable) || errors.Is(err, refs.ErrStale) {
		t.Fatalf("a push checked before the collection: %v, want a retryable refusal", err)
	}
	if _, err := r.Refs().Read(ctx, refs.Branch("main")); !errors.Is(err, refs.ErrNotFound) {
		t.Fatalf("the refused push changed main: %v", err)
	}
	c1, _, _ := sh.Generations(ctx)
	if err := sh.ApplyCollected(ctx, c1, up, refs.Entry{}); err != nil {
		t.Fatalf("a push checked at the current count: %v", err)
	}
}
