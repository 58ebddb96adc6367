package pgstore_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/fed-vcs/fed/internal/testpg"
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/remote"
	"github.com/fed-vcs/fed/remote/server"
	"github.com/fed-vcs/fed/remote/server/pgstore"
	"github.com/fed-vcs/fed/repometa"
)

func job(n int) server.ProveJob {
	return server.ProveJob{Repo: "o/r", Commit: objects.Sum(fmt.Appendf(nil, "job %d", n))}
}

// TestJobs: the queue's contract between two replicas' handles.
func TestJobs(t *testing.T) {
	ctx := context.Background()
	url := testpg.DB(t)
	a, b := open(t, url).Jobs(), open(t, url).Jobs()
	if err := a.Add(ctx, []server.ProveJob{job(1), job(2), job(1)}); err != nil {
		t.Fatal(err)
	}
	if err := b.Add(ctx, []server.ProveJob{job(2), job(3)}); err != nil {
		t.Fatal(err)
	}
	if n, err := a.Len(ctx); err != nil || n != 3 {
		t.Fatalf("Len = %d, %v; want 3 (a job queued twice is one)", n, err)
	}
	j1, done1, ok, err := a.Take(ctx)
	if err != nil || !ok || j1 != job(1) {
		t.Fatalf("first Take = %v %v %v, want job 1", j1, ok, err)
	}
	j2, done2, ok, err := b.Take(ctx)
	if err != nil || !ok || j2 != job(2) {
		t.Fatalf("Take beside a held job = %v %v %v, want job 2", j2, ok, err)
	}
	if err := done1(false); err != nil { // stopped: back to the queue
		t.Fatal(err)
	}
	j, done, ok, err := b.Take(ctx)
	if err != nil || !ok || j != job(1) {
		t.Fatalf("Take after a job was put back = %v %v %v, want job 1", j, ok, err)
	}
	if err := done(true); err != nil {
		t.Fatal(err)
	}
	if err := done2(true); err != nil {
		t.Fatal(err)
	}
	j, done, ok, err = a.Take(ctx)
	if err != nil || !ok || j != job(3) {
		t.Fatalf("last Take = %v %v %v, want job 3", j, ok, err)
	}
	if _, _, ok, err := b.Take(ctx); err != nil || ok {
		t.Fatalf("Take with the only job held = %v, %v; want none", ok, err)
	}
	if err := done(true); err != nil {
		t.Fatal(err)
	}
	if n, err := b.Len(ctx); err != nil || n != 0 {
		t.Fatalf("Len after every job = %d, %v", n, err)
	}
}

// provingHosting turns background proving on for a replica, proving with
// prove (the queue is what is tested here; package hosting's
// TestProvingSurvivesReplicaLoss proves with the real hooks).
type provingHosting struct {
	*pgstore.Hosting
	prove func(ctx context.Context, repo string, commit objects.ID) error
}

func (h provingHosting) Features() server.Features { return server.Features{Prove: true} }

func (h provingHosting) Open(ctx context.Context, name string) (server.Repository, error) {
	r, err := h.Hosting.Open(ctx, name)
	return provingRepo{r, name, h.prove}, err
}

func (h provingHosting) Create(ctx context.Context, name string, s repometa.Settings) (server.Repository, error) {
	r, err := h.Hosting.Create(ctx, name, s)
	return provingRepo{r, name, h.prove}, err
}

type provingRepo struct {
	server.Repository
	name  string
	prove func(ctx context.Context, repo string, commit objects.ID) error
}

func (r provingRepo) Prove(ctx context.Context, commit objects.ID) error {
	return r.prove(ctx, r.name, commit)
}

// TestJobsSurviveReplicaLoss: a commit pushed at replica A is queued in
// the database; A starts proving it and dies (its connection is cut, as
// when its process is killed); replica B proves it.
func TestJobsSurviveReplicaLoss(t *testing.T) {
	ctx := context.Background()
	url := testpg.DB(t)
	root := t.TempDir()
	type event struct {
		replica string
		commit  objects.ID
	}
	events := make(chan event, 10)
	replica := func(name string, prove func(ctx context.Context) error) (*server.Server, string) {
		db := open(t, url)
		h := provingHosting{Hosting: db.Hosting(pgstore.DiskObjects{Root: root}), prove: func(ctx context.Context, repo string, commit objects.ID) error {
			events <- event{name, commit}
			return prove(ctx)
		}}
		ts, s := replicaServer(t, url, root, server.Options{Hosting: h, Jobs: db.Jobs()})
		return s, ts.URL
	}
	// A proves forever (until it is stopped); B at once.
	sa, urlA := replica("A", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
	sb, _ := replica("B", func(context.Context) error { return nil })
	ctxA, stopA := context.WithCancel(ctx)
	doneA := make(chan struct{})
	go func() { sa.RunProver(ctxA); close(doneA) }()
	defer func() { stopA(); <-doneA }()

	p := newPusher(t, 0, []string{urlA}, http.DefaultClient)
	commit, ids, err := p.commit(ctx, objects.ZeroID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.clients[0].SendMissing(ctx, p.store, ids); err != nil {
		t.Fatal(err)
	}
	if _, err := p.clients[0].UpdateRefs(ctx, []remote.RefUpdate{{Name: "refs/heads/main", New: commit}}); err != nil {
		t.Fatal(err)
	}
	wait := func(what string) event {
		select {
		case e := <-events:
			return e
		case <-time.After(60 * time.Second): // a bound against hanging, not a measurement
			t.Fatalf("no %s within a minute", what)
		}
		return event{}
	}
	if e := wait("proving at A"); e != (event{"A", commit}) {
		t.Fatalf("first proving: %+v, want A proving %s", e, commit.Short())
	}
	// A dies: the database ends its session, and with it A's hold.
	killer := open(t, url)
	tag, err := killer.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND state LIKE 'idle in transaction%'`)
	if err != nil || tag.RowsAffected() != 1 {
		t.Fatalf("ending A's session: %v (%d sessions)", err, tag.RowsAffected())
	}
	ctxB, stopB := context.WithCancel(ctx)
	doneB := make(chan struct{})
	go func() { sb.RunProver(ctxB); close(doneB) }()
	defer func() { stopB(); <-doneB }()
	if e := wait("proving at B"); e != (event{"B", commit}) {
		t.Fatalf("after A's loss: %+v, want B proving %s", e, commit.Short())
	}
	for i := 0; sb.ProveQueueLen() != 0; i++ {
		if i == 600 {
			t.Fatalf("the queue still holds %d jobs after B proved the only one", sb.ProveQueueLen())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
