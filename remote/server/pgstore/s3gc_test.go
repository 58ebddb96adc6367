package pgstore_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fed-vcs/fed/internal/s3test"
	"github.com/fed-vcs/fed/internal/testpg"
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/objects/s3store"
	"github.com/fed-vcs/fed/remote"
	"github.com/fed-vcs/fed/remote/server"
	"github.com/fed-vcs/fed/repo"
	"github.com/fed-vcs/fed/transfer"
)

// Collections of objects in S3 by the leases of the database (design
// §20, "Collecting objects in shared storage"), against a real versitygw
// and a real PostgreSQL.

// s3gcSetup is a bucket and a database, and replicas on them.
type s3gcSetup struct {
	gw   *s3test.Server
	url  string
	objs s3Objects
}

func newS3GC(t *testing.T) *s3gcSetup {
	gw := s3test.Start(t)
	return &s3gcSetup{gw: gw, url: testpg.DB(t), objs: s3Objects{cfg: gw.Bucket(t, "fed", "prod/")}}
}

// replica is fed serve --db --objects s3://fed/prod with grace.
func (e *s3gcSetup) replica(t *testing.T, grace time.Duration) (*httptest.Server, *server.Server) {
	t.Helper()
	db := open(t, e.url)
	s, err := server.New(server.Options{Root: t.TempDir(), Hosting: db.Hosting(e.objs), Sessions: db.Sessions(),
		GCInterval: -1, GCGrace: grace, Rate: 1e6, Burst: 1e6})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return ts, s
}

func (e *s3gcSetup) store(t *testing.T) *s3store.Store {
	st, err := e.objs.store("o/model")
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// age makes every object in the bucket look written d ago to the
// service (versitygw's LastModified is its file's mtime), as if the test
// had waited out the grace period.
func (e *s3gcSetup) age(t *testing.T, d time.Duration) {
	t.Helper()
	at := time.Now().Add(-d)
	n := 0
	err := filepath.WalkDir(filepath.Join(e.gw.Dir, "fed", "prod"), func(p string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		n++
		return os.Chtimes(p, at, at)
	})
	if err != nil || n == 0 {
		t.Fatalf("age the bucket's %d files: %v", n, err)
	}
}

// push sends ids and moves branch from old to id through c.
func push(t *testing.T, p *pusher, c *remote.Client, branch string, old, id objects.ID, ids []objects.ID) {
	t.Helper()
	ctx := context.Background()
	if _, err := c.SendMissing(ctx, p.store, ids); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateRefs(ctx, []remote.RefUpdate{{Name: branch, Old: old, New: id}}); err != nil {
		t.Fatal(err)
	}
}

// putDirect stores ids from p's store in st as something other than a
// push would (no objects/missing, so no lease): garbage.
func putDirect(t *testing.T, p *pusher, st objects.Store, ids []objects.ID) {
	t.Helper()
	ctx := context.Background()
	for _, id := range ids {
		b, err := p.store.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Put(ctx, b, objects.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

// present counts those of ids st has.
func present(t *testing.T, st objects.Store, ids []objects.ID) int {
	t.Helper()
	n := 0
	for _, id := range ids {
		ok, err := st.Has(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			n++
		}
	}
	return n
}

// fsckClean checks that everything tips reach is in st and sound.
func fsckClean(t *testing.T, st objects.Store, tips ...objects.ID) {
	t.Helper()
	rep, err := objects.Fsck(context.Background(), st, tips, objects.FsckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) > 0 {
		t.Fatalf("fsck of the bucket: %v", rep.Problems)
	}
}

// only runs s's collection and returns its one report.
func only(t *testing.T, s *server.Server) *objects.GCReport {
	t.Helper()
	res, err := s.GC(context.Background())
	if err != nil || len(res) != 1 || res[0].Report == nil {
		t.Fatalf("collection: %+v, %v; want one report", res, err)
	}
	return res[0].Report
}

// TestS3GCRemovesUnreachable: a collection removes from the bucket the
// objects no ref reaches that are older than the grace period and that
// no push leased, and keeps what the refs reach and what was written
// within the grace period (S3 cannot say when an object was last relied
// on, but it can say when it was written).
func TestS3GCRemovesUnreachable(t *testing.T) {
	e := newS3GC(t)
	ts, s := e.replica(t, time.Hour)
	ctx := context.Background()
	p := newPusher(t, 0, []string{ts.URL}, http.DefaultClient)
	st := e.store(t)
	main, mainIDs, err := p.commit(ctx, objects.ZeroID)
	if err != nil {
		t.Fatal(err)
	}
	push(t, p, p.clients[0], "refs/heads/main", objects.ZeroID, main, mainIDs)
	_, old, err := p.commit(ctx, main)
	if err != nil {
		t.Fatal(err)
	}
	putDirect(t, p, st, old)
	e.age(t, 2*time.Hour)
	_, fresh, err := p.commit(ctx, main)
	if err != nil {
		t.Fatal(err)
	}
	putDirect(t, p, st, fresh)

	rep := only(t, s)
	if rep.Removed != len(old) || rep.Kept != len(mainIDs) || rep.Spared != len(fresh) {
		t.Errorf("collection: %+v; want %d removed, %d kept, %d spared", rep, len(old), len(mainIDs), len(fresh))
	}
	if n := present(t, st, old); n != 0 {
		t.Errorf("%d of %d unreachable old objects still in the bucket", n, len(old))
	}
	if n := present(t, st, fresh); n != len(fresh) {
		t.Errorf("%d of %d objects written within the grace period left", n, len(fresh))
	}
	fsckClean(t, st, main)
	// once they are old, the fresh ones go too
	e.age(t, 2*time.Hour)
	if rep := only(t, s); rep.Removed != len(fresh) {
		t.Errorf("second collection: %+v; want %d removed", rep, len(fresh))
	}
	fsckClean(t, st, main)
}

// TestS3GCSparesInFlightPush: a push at one replica has asked which
// objects are missing (leasing them) and uploaded them, and has not moved
// its ref yet; another replica's collection, long after the objects were
// written, removes the garbage beside them but not them, and the push
// then completes with the bucket's fsck clean.
func TestS3GCSparesInFlightPush(t *testing.T) {
	e := newS3GC(t)
	tsA, _ := e.replica(t, time.Hour)
	tsB, sB := e.replica(t, time.Hour)
	ctx := context.Background()
	p := newPusher(t, 0, []string{tsA.URL, tsB.URL}, http.DefaultClient)
	st := e.store(t)
	base, baseIDs, err := p.commit(ctx, objects.ZeroID)
	if err != nil {
		t.Fatal(err)
	}
	push(t, p, p.clients[0], "refs/heads/main", objects.ZeroID, base, baseIDs)
	next, nextIDs, err := p.commit(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.clients[0].SendMissing(ctx, p.store, nextIDs); err != nil {
		t.Fatal(err)
	}
	_, garbage, err := p.commit(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	putDirect(t, p, st, garbage)
	e.age(t, 2*time.Hour)

	rep := only(t, sB)
	if rep.Removed != len(garbage) || rep.Spared != len(nextIDs) {
		t.Errorf("collection at B: %+v; want the %d garbage objects removed, the push's %d spared", rep, len(garbage), len(nextIDs))
	}
	if n := present(t, st, nextIDs); n != len(nextIDs) {
		t.Fatalf("%d of the in-flight push's %d objects left", n, len(nextIDs))
	}
	if n := present(t, st, garbage); n != 0 {
		t.Errorf("%d garbage objects left", n)
	}
	if _, err := p.clients[0].UpdateRefs(ctx, []remote.RefUpdate{{Name: "refs/heads/main", Old: base, New: next}}); err != nil {
		t.Fatalf("the push after the collection: %v", err)
	}
	fsckClean(t, st, next)
}

// TestS3GCLeaseExpired: a push slower than its lease (the grace period,
// here a nanosecond) has its uploads collected; its ref update is refused
// with lease-expired (409, naming them), nothing moves, and the push
// sent again (as fed push does) completes with the bucket's fsck clean.
func TestS3GCLeaseExpired(t *testing.T) {
	e := newS3GC(t)
	ts, s := e.replica(t, time.Nanosecond)
	ctx := context.Background()
	p := newPusher(t, 0, []string{ts.URL}, http.DefaultClient)
	c := p.clients[0]
	st := e.store(t)
	base, baseIDs, err := p.commit(ctx, objects.ZeroID)
	if err != nil {
		t.Fatal(err)
	}
	push(t, p, c, "refs/heads/main", objects.ZeroID, base, baseIDs)
	next, nextIDs, err := p.commit(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.SendMissing(ctx, p.store, nextIDs); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond) // past the lease, by the database's clock too
	if rep := only(t, s); rep.Removed != len(nextIDs) {
		t.Fatalf("collection: %+v; want the %d objects of the push whose lease ran out removed", rep, len(nextIDs))
	}
	update := []remote.RefUpdate{{Name: "refs/heads/main", Old: base, New: next}}
	_, err = c.UpdateRefs(ctx, update)
	var prob *remote.Problem
	if !errors.As(err, &prob) || prob.Status != http.StatusConflict || prob.Code != remote.CodeLeaseExpired || len(prob.Missing) == 0 {
		t.Fatalf("ref update after its objects were collected: %v; want 409 %s", err, remote.CodeLeaseExpired)
	}
	rl, err := c.Refs(ctx)
	if err != nil || len(rl.Refs) != 1 || rl.Refs[0].ID != base {
		t.Fatalf("refs after the refusal: %+v, %v; want main still at %s", rl, err, base.Short())
	}
	// what fed push does on lease-expired: send again, update again
	if _, err := c.SendMissing(ctx, p.store, nextIDs); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateRefs(ctx, update); err != nil {
		t.Fatalf("the push sent again: %v", err)
	}
	fsckClean(t, st, next)
	// a push that never sent an object is still told incomplete
	_, other, err := p.commit(ctx, next)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.UpdateRefs(ctx, []remote.RefUpdate{{Name: "refs/heads/other", New: other[len(other)-1]}})
	if !errors.As(err, &prob) || prob.Code != remote.CodeIncomplete {
		t.Fatalf("a ref update whose objects were never sent: %v; want %s", err, remote.CodeIncomplete)
	}
}

// TestS3GCReplicasAtOnce: two replicas collecting the same repository at
// the same moment neither fail nor both delete: between them they remove
// each garbage object once (a second delete would count it twice), and
// what the refs reach stays.
func TestS3GCReplicasAtOnce(t *testing.T) {
	e := newS3GC(t)
	tsA, sA := e.replica(t, time.Nanosecond)
	_, sB := e.replica(t, time.Nanosecond)
	ctx := context.Background()
	p := newPusher(t, 0, []string{tsA.URL}, http.DefaultClient)
	st := e.store(t)
	main, mainIDs, err := p.commit(ctx, objects.ZeroID)
	if err != nil {
		t.Fatal(err)
	}
	push(t, p, p.clients[0], "refs/heads/main", objects.ZeroID, main, mainIDs)
	var garbage []objects.ID
	for range 5 {
		_, ids, err := p.commit(ctx, main)
		if err != nil {
			t.Fatal(err)
		}
		putDirect(t, p, st, ids)
		garbage = append(garbage, ids...)
	}
	var wg sync.WaitGroup
	reps := make([][]server.GCResult, 2)
	errs := make([]error, 2)
	for i, s := range []*server.Server{sA, sB} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reps[i], errs[i] = s.GC(ctx)
		}()
	}
	wg.Wait()
	removed := 0
	for i := range reps {
		if errs[i] != nil || len(reps[i]) != 1 {
			t.Fatalf("replica %d's collection: %+v, %v", i, reps[i], errs[i])
		}
		if r := reps[i][0].Report; r != nil {
			removed += r.Removed
		}
	}
	if removed != len(garbage) {
		t.Errorf("the replicas removed %d objects between them; want each of the %d garbage objects once", removed, len(garbage))
	}
	if n := present(t, st, garbage); n != 0 {
		t.Errorf("%d garbage objects left", n)
	}
	fsckClean(t, st, main)
}

// TestS3GCSweepAbandoned: a replica that died in the middle of a sweep
// left fed_repos.sweeping set (what it deleted, a push checked at another
// replica may have relied on); the next push's ref update clears it and
// is refused with 503, and its retry, checked anew, applies.
func TestS3GCSweepAbandoned(t *testing.T) {
	e := newS3GC(t)
	ts, _ := e.replica(t, time.Hour)
	ctx := context.Background()
	counter := &statusCounter{}
	p := newPusher(t, 0, []string{ts.URL}, &http.Client{Transport: counter})
	base, baseIDs, err := p.commit(ctx, objects.ZeroID)
	if err != nil {
		t.Fatal(err)
	}
	push(t, p, p.clients[0], "refs/heads/main", objects.ZeroID, base, baseIDs)
	db := open(t, e.url)
	if _, err := db.Exec(ctx, `UPDATE fed_repos SET sweeping = true`); err != nil {
		t.Fatal(err)
	}
	next, nextIDs, err := p.commit(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	push(t, p, p.clients[0], "refs/heads/main", base, next, nextIDs)
	if counter.unavailable.Load() != 1 || counter.noRetryAfter.Load() != 0 {
		t.Errorf("%d answers 503 (%d without Retry-After); want the one refusal with Retry-After", counter.unavailable.Load(), counter.noRetryAfter.Load())
	}
	rows, err := db.Rows(ctx, "(SELECT sweeping FROM fed_repos)")
	if err != nil || len(rows) != 1 || rows[0] != "(f)" {
		t.Errorf("sweeping after the push: %v, %v; want cleared", rows, err)
	}
	fsckClean(t, e.store(t), next)
}

// gcBeforeRefs is a client's transport that, before it sends the first
// ref update, has the server collect (what an hourly collection at
// another replica may do in the middle of a slow push), and counts the
// answers lease-expired.
type gcBeforeRefs struct {
	t       *testing.T
	s       *server.Server
	once    sync.Once
	removed int
	expired int
	mu      sync.Mutex
}

func (g *gcBeforeRefs) RoundTrip(r *http.Request) (*http.Response, error) {
	isRefs := r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/refs")
	if isRefs {
		g.once.Do(func() {
			time.Sleep(10 * time.Millisecond) // past the nanosecond lease, by the database's clock too
			res, err := g.s.GC(r.Context())
			if err != nil || len(res) != 1 || res[0].Report == nil {
				g.t.Errorf("collection in the middle of the push: %+v, %v", res, err)
				return
			}
			g.removed = res[0].Report.Removed
		})
	}
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err == nil && isRefs && resp.StatusCode == http.StatusConflict {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(b), remote.CodeLeaseExpired) {
			g.mu.Lock()
			g.expired++
			g.mu.Unlock()
		}
		resp.Body = io.NopCloser(bytes.NewReader(b))
	}
	return resp, err
}

// TestS3GCPushSendsAgain: fed push (transfer.Push) whose uploads a
// collection removed before its ref update, their lease (a nanosecond
// here) having run out, is told lease-expired, sends them again and
// completes; the repository's fsck is clean.
func TestS3GCPushSendsAgain(t *testing.T) {
	e := newS3GC(t)
	ts, s := e.replica(t, time.Nanosecond)
	ctx := context.Background()
	r, err := repo.Init(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	r.Key = objects.KeypairFromSeed(bytes.Repeat([]byte{1}, 32))
	if err := r.RemoteAdd("origin", ts.URL+"/o/model"); err != nil {
		t.Fatal(err)
	}
	commit := func(text string) objects.ID {
		if err := os.WriteFile(filepath.Join(r.Root, "notes.txt"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := r.Add(ctx, []string{r.Root}, repo.AddOptions{}); err != nil {
			t.Fatal(err)
		}
		id, err := r.Commit(ctx, repo.CommitOptions{Message: text})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	commit("first")
	if _, err := transfer.Push(ctx, r, transfer.PushOptions{}); err != nil {
		t.Fatal(err)
	}
	tip := commit("second, which a collection meets half-pushed")
	g := &gcBeforeRefs{t: t, s: s}
	res, err := transfer.Push(ctx, r, transfer.PushOptions{Client: remote.Options{HTTPClient: &http.Client{Transport: g}}})
	if err != nil {
		t.Fatalf("push with a collection before its ref update: %v", err)
	}
	if res.New != tip || g.removed == 0 || g.expired != 1 {
		t.Fatalf("push: %+v; the collection removed %d objects, %d answers lease-expired; want the push's objects removed, one lease-expired, the push through", res, g.removed, g.expired)
	}
	fsckClean(t, e.store(t), tip)
}

// TestS3GCDropsDanglingProofs: a proof ref whose commit no branch or tag
// reaches (its branch's push never came) is dropped once its proof was
// written more than the grace period ago (S3's LastModified; the disk
// store's rule by modification time), and the commit and the proof are
// collected; a published commit's proof stays.
func TestS3GCDropsDanglingProofs(t *testing.T) {
	e := newS3GC(t)
	ts, s := e.replica(t, time.Nanosecond)
	ctx := context.Background()
	p := newPusher(t, 0, []string{ts.URL}, http.DefaultClient)
	c := p.clients[0]
	st := e.store(t)
	main, mainIDs, err := p.commit(ctx, objects.ZeroID)
	if err != nil {
		t.Fatal(err)
	}
	push(t, p, c, "refs/heads/main", objects.ZeroID, main, mainIDs)
	proofOf := func(commit objects.ID) objects.ID {
		id, err := objects.Write(ctx, p.store, &objects.Proof{Commit: commit, System: "test", Body: []byte("proof of " + commit.String())})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	mainProof := proofOf(main)
	push(t, p, c, remote.ProofsPrefix+main.String(), objects.ZeroID, mainProof, []objects.ID{mainProof})
	lone, loneIDs, err := p.commit(ctx, main)
	if err != nil {
		t.Fatal(err)
	}
	loneProof := proofOf(lone)
	push(t, p, c, remote.ProofsPrefix+lone.String(), objects.ZeroID, loneProof, append(loneIDs, loneProof))
	time.Sleep(10 * time.Millisecond) // past the grace and the leases
	if rep := only(t, s); rep.Removed != len(loneIDs)+1 {
		t.Errorf("collection: %+v; want the unpublished commit's %d objects and its proof removed", rep, len(loneIDs))
	}
	rl, err := c.Refs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]objects.ID{}
	for _, r := range rl.Refs {
		got[r.Name] = r.ID
	}
	if len(got) != 2 || got[remote.ProofsPrefix+main.String()] != mainProof || got["refs/heads/main"] != main {
		t.Fatalf("refs after the collection: %v; want main and its proof only", got)
	}
	fsckClean(t, st, main, mainProof)
}
