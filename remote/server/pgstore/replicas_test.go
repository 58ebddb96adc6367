package pgstore_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fed-vcs/fed/internal/testpg"
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/refs"
	"github.com/fed-vcs/fed/remote"
	"github.com/fed-vcs/fed/remote/server"
	"github.com/fed-vcs/fed/remote/server/pgstore"
)

// hostedReplica is a fed serve handler on the database at url with its
// objects under root: what fed serve --db url --root root runs.
func hostedReplica(t *testing.T, url, root string) *httptest.Server {
	t.Helper()
	ts, _ := replicaServer(t, url, root, server.Options{})
	return ts
}

// replicaServer is hostedReplica with options, returning the server too.
func replicaServer(t testing.TB, url, root string, opts server.Options) (*httptest.Server, *server.Server) {
	t.Helper()
	db := open(t, url)
	opts.Root, opts.Sessions = root, db.Sessions()
	if opts.Hosting == nil {
		opts.Hosting = db.Hosting(pgstore.DiskObjects{Root: root})
	}
	opts.GCInterval, opts.Rate, opts.Burst = -1, 1e6, 1e6
	s, err := server.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return ts, s
}

// pusher is one client of the test: a key, its own object store, and a
// client of each replica.
type pusher struct {
	key     *objects.Keypair
	store   *objects.DiskStore
	clients []*remote.Client
	seq     int
}

func newPusher(t testing.TB, n int, urls []string, hc *http.Client) *pusher {
	key := objects.KeypairFromSeed(bytes.Repeat([]byte{1}, 32)) // the owner
	st, err := objects.OpenDisk(filepath.Join(t.TempDir(), "objects"))
	if err != nil {
		t.Fatal(err)
	}
	p := &pusher{key: key, store: st, seq: n * 1000}
	for _, u := range urls {
		c, err := remote.New(u+"/o/model", remote.Options{Key: key, HTTPClient: hc, MaxRetries: 12, RetryBase: 20e6, RetryMax: 1e9})
		if err != nil {
			t.Fatal(err)
		}
		p.clients = append(p.clients, c)
	}
	return p
}

// commit stores a signed commit on parent with one small file of its own
// and returns its id and the ids it adds.
func (p *pusher) commit(ctx context.Context, parent objects.ID) (objects.ID, []objects.ID, error) {
	p.seq++
	var ids []objects.ID
	data := make([]byte, 256)
	binary.LittleEndian.PutUint64(data, uint64(p.seq))
	chunk, err := p.store.Put(ctx, objects.EncodeChunk(data), objects.PutOptions{})
	if err != nil {
		return objects.ZeroID, nil, err
	}
	ids = append(ids, chunk)
	put := func(o objects.Object) (objects.ID, error) {
		id, err := objects.Write(ctx, p.store, o)
		ids = append(ids, id)
		return id, err
	}
	blob, err := put(&objects.Blob{Size: uint64(len(data)), Chunks: []objects.ChunkRef{{ID: chunk, Size: uint64(len(data))}}})
	if err != nil {
		return objects.ZeroID, nil, err
	}
	tree, err := put(&objects.Tree{Entries: []objects.TreeEntry{{Name: "f" + strconv.Itoa(p.seq), Mode: objects.ModeFile, Kind: objects.KindBlob, ID: blob}}})
	if err != nil {
		return objects.ZeroID, nil, err
	}
	c := &objects.Commit{Tree: tree, Time: int64(1_800_000_000 + p.seq), Message: "push " + strconv.Itoa(p.seq)}
	if !parent.IsZero() {
		c.Parents = []objects.ID{parent}
	}
	if err := objects.SignCommit(c, p.key); err != nil {
		return objects.ZeroID, nil, err
	}
	cid, err := put(c)
	return cid, ids, err
}

// pushOnce moves branch from its current value to a new commit on it, at
// replicas chosen at random for each request. It returns the commit on
// success, and conflict true when the server refused the move as stale.
func (p *pusher) pushOnce(ctx context.Context, rng *rand.Rand, branch string) (objects.ID, bool, error) {
	c := p.clients[rng.IntN(len(p.clients))]
	rl, err := c.Refs(ctx)
	var prob *remote.Problem
	if err != nil && !(errors.As(err, &prob) && prob.Code == remote.CodeNotFound) {
		return objects.ZeroID, false, fmt.Errorf("list refs: %w", err)
	}
	var cur objects.ID
	if rl != nil {
		for _, r := range rl.Refs {
			if r.Name == branch {
				cur = r.ID
			}
		}
	}
	// The server has cur's objects: a commit on it sends only its own.
	id, ids, err := p.commit(ctx, cur)
	if err != nil {
		return objects.ZeroID, false, err
	}
	c = p.clients[rng.IntN(len(p.clients))]
	if _, err := c.SendMissing(ctx, p.store, ids); err != nil {
		return objects.ZeroID, false, fmt.Errorf("send: %w", err)
	}
	c = p.clients[rng.IntN(len(p.clients))]
	_, err = c.UpdateRefs(ctx, []remote.RefUpdate{{Name: branch, Old: cur, New: id}})
	if errors.As(err, &prob) && (prob.Code == remote.CodeStale || prob.Code == remote.CodeNonFastForward) {
		return objects.ZeroID, true, nil
	}
	if err != nil {
		return objects.ZeroID, false, fmt.Errorf("update %s %s -> %s: %w", branch, cur.Short(), id.Short(), err)
	}
	return id, false, nil
}

// statusCounter counts 503 answers, and those without Retry-After.
type statusCounter struct {
	unavailable, noRetryAfter atomic.Int64
}

func (s *statusCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err == nil && resp.StatusCode == http.StatusServiceUnavailable {
		s.unavailable.Add(1)
		if resp.Header.Get("Retry-After") == "" {
			s.noRetryAfter.Add(1)
		}
	}
	return resp, err
}

// pushers runs n pushers, pusher i pushing each commits to branch
// refs/heads/b<i%branches> against urls, and returns the commits pushed
// by branch and the conflicts the server reported. during, when not nil,
// runs once every pusher has pushed once.
func pushers(t *testing.T, urls []string, n, each, branches int, hc *http.Client, during func()) (pushed map[string]map[objects.ID]bool, conflicts int64) {
	ctx := context.Background()
	var mu sync.Mutex
	pushed = map[string]map[objects.ID]bool{}
	for b := range branches {
		pushed["refs/heads/b"+strconv.Itoa(b)] = map[objects.ID]bool{}
	}
	var nconf atomic.Int64
	var first sync.WaitGroup
	first.Add(n)
	var wg sync.WaitGroup
	for i := range n {
		p := newPusher(t, i, urls, hc)
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), 7))
			branch := "refs/heads/b" + strconv.Itoa(i%branches)
			firstDone := false
			for done := 0; done < each; {
				id, conflict, err := p.pushOnce(ctx, rng, branch)
				if err != nil {
					t.Errorf("pusher %d: %v", i, err)
					break
				}
				if conflict {
					nconf.Add(1)
					continue
				}
				done++
				mu.Lock()
				pushed[branch][id] = true
				mu.Unlock()
				if !firstDone {
					firstDone = true
					first.Done()
				}
			}
			if !firstDone {
				first.Done()
			}
		}()
	}
	if during != nil {
		first.Wait()
		during()
	}
	wg.Wait()
	return pushed, nconf.Load()
}

// checkHistory checks that each branch's first-parent history is exactly
// the commits pushed to it (nothing lost, nothing else), and that the
// repository's objects are complete and sound (fsck).
func checkHistory(t *testing.T, url, root string, pushed map[string]map[objects.ID]bool) {
	ctx := context.Background()
	db := open(t, url)
	r, err := db.OpenRepo(ctx, "o/model")
	if err != nil {
		t.Fatal(err)
	}
	st, err := objects.OpenDisk(filepath.Join(root, "o", "model.fed", "objects"))
	if err != nil {
		t.Fatal(err)
	}
	var tips []objects.ID
	total := 0
	for branch, commits := range pushed {
		tip, err := r.Refs().Read(ctx, refs.Name(branch))
		if err != nil {
			t.Fatal(err)
		}
		tips = append(tips, tip)
		total += len(commits)
		checkBranch(t, st, branch, tip, commits)
	}
	rep, err := objects.Fsck(ctx, st, tips, objects.FsckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) > 0 {
		t.Fatalf("fsck: %d problems, first %s", len(rep.Problems), rep.Problems[0])
	}
	if rep.Reachable < total*4 { // a chunk, a blob, a tree and a commit each
		t.Fatalf("fsck reached %d objects, fewer than the %d pushed", rep.Reachable, total*4)
	}
}

func checkBranch(t *testing.T, st objects.Store, branch string, tip objects.ID, pushed map[objects.ID]bool) {
	ctx := context.Background()
	seen := 0
	for id := tip; !id.IsZero(); {
		c, err := objects.ReadCommit(ctx, st, id)
		if err != nil {
			t.Fatalf("%s's history: %v", branch, err)
		}
		if !pushed[id] {
			t.Fatalf("%s's history holds %s, which no pusher was told was pushed", branch, id.Short())
		}
		seen++
		if len(c.Parents) == 0 {
			break
		}
		id = c.Parents[0]
	}
	if seen != len(pushed) {
		t.Fatalf("%s's history has %d commits, %d were pushed to it: pushes were lost", branch, seen, len(pushed))
	}
}

// TestReplicasPushConcurrently: two replicas on one database and one
// object directory, 100 clients pushing to ten branches at both at
// random: every push the server accepted is in its branch's history,
// every other attempt was told it lost (stale-ref), and fsck finds the
// repository sound.
func TestReplicasPushConcurrently(t *testing.T) {
	url := testpg.DB(t)
	root := t.TempDir()
	urls := []string{hostedReplica(t, url, root).URL, hostedReplica(t, url, root).URL}
	const n, each, branches = 100, 1, 10
	pushed, conflicts := pushers(t, urls, n, each, branches, http.DefaultClient, nil)
	if t.Failed() {
		return
	}
	checkHistory(t, url, root, pushed)
	t.Logf("%d clients pushed %d commits each at 2 replicas to %d branches; %d conflicts reported and retried", n, each, branches, conflicts)
}

// TestReplicasDatabaseRestart: PostgreSQL stopped and restarted while
// clients push at two replicas: requests meanwhile get 503 with
// Retry-After, the clients' retries succeed once it is back, nothing is
// lost and no ref names a missing object.
func TestReplicasDatabaseRestart(t *testing.T) {
	c := testpg.Start(t)
	url := c.CreateDB(t, "fed")
	root := t.TempDir()
	urls := []string{hostedReplica(t, url, root).URL, hostedReplica(t, url, root).URL}
	counter := &statusCounter{}
	hc := &http.Client{Transport: counter}
	const n, each, branches = 8, 4, 2
	pushed, _ := pushers(t, urls, n, each, branches, hc, func() {
		c.Stop(t)
		// a request while it is down, to see its answer for certain
		resp, err := hc.Get(urls[0] + remote.RepoPath("o/model", "refs"))
		if err != nil {
			t.Errorf("refs with the database down: %v", err)
		} else {
			resp.Body.Close()
			if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
				t.Errorf("refs with the database down: %d, Retry-After %q; want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
			}
		}
		c.Restart(t)
	})
	if t.Failed() {
		return
	}
	if counter.unavailable.Load() == 0 || counter.noRetryAfter.Load() != 0 {
		t.Fatalf("%d answers 503, %d of them without Retry-After", counter.unavailable.Load(), counter.noRetryAfter.Load())
	}
	checkHistory(t, url, root, pushed)
	t.Logf("%d pushes, %d answers 503 while the database was down", n*each, counter.unavailable.Load())
}

// TestReplicasUnpublish: a branch deleted through one replica takes what
// only it reached out of the other replica's downloads too.
func TestReplicasUnpublish(t *testing.T) {
	ctx := context.Background()
	url := testpg.DB(t)
	root := t.TempDir()
	urls := []string{hostedReplica(t, url, root).URL, hostedReplica(t, url, root).URL}
	p := newPusher(t, 0, urls, http.DefaultClient)
	a, b := p.clients[0], p.clients[1]
	main, mids, err := p.commit(ctx, objects.ZeroID)
	if err != nil {
		t.Fatal(err)
	}
	topic, ids, err := p.commit(ctx, objects.ZeroID) // a second root, for the doomed branch
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.SendMissing(ctx, p.store, append(ids, mids...)); err != nil {
		t.Fatal(err)
	}
	if _, err := a.UpdateRefs(ctx, []remote.RefUpdate{{Name: "refs/heads/main", New: main}, {Name: "refs/heads/topic", New: topic}}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := a.GetObject(ctx, topic, 0, &buf); err != nil {
		t.Fatalf("the topic commit at replica A while published: %v", err)
	}
	if _, err := b.UpdateRefs(ctx, []remote.RefUpdate{{Name: "refs/heads/topic", Old: topic, Force: true}}); err != nil {
		t.Fatal(err)
	}
	_, err = a.GetObject(ctx, topic, 0, &buf)
	var prob *remote.Problem
	if !errors.As(err, &prob) || prob.Code != remote.CodeNotFound {
		t.Fatalf("replica A serves the commit of a branch replica B deleted: %v", err)
	}
	if _, err := a.GetObject(ctx, main, 0, &buf); err != nil {
		t.Fatalf("main's commit at A: %v", err)
	}
}

// TestReplicasCollected: after one replica collected the objects of a
// branch deleted elsewhere, the other refuses a push that builds on them
// (incomplete) instead of trusting its memory that they were complete.
func TestReplicasCollected(t *testing.T) {
	ctx := context.Background()
	url := testpg.DB(t)
	root := t.TempDir()
	tsA, _ := replicaServer(t, url, root, server.Options{})
	tsB, sB := replicaServer(t, url, root, server.Options{GCGrace: time.Nanosecond})
	p := newPusher(t, 0, []string{tsA.URL, tsB.URL}, http.DefaultClient)
	a, b := p.clients[0], p.clients[1]
	base, ids, err := p.commit(ctx, objects.ZeroID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.SendMissing(ctx, p.store, ids); err != nil {
		t.Fatal(err)
	}
	if _, err := a.UpdateRefs(ctx, []remote.RefUpdate{{Name: "refs/heads/topic", New: base}}); err != nil {
		t.Fatal(err)
	}
	// A knows base complete. B deletes the branch and collects.
	if _, err := b.UpdateRefs(ctx, []remote.RefUpdate{{Name: "refs/heads/topic", Old: base, Force: true}}); err != nil {
		t.Fatal(err)
	}
	res, err := sB.GC(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].Report.Removed == 0 {
		t.Fatalf("B's collection: %+v", res)
	}
	// A push of a commit on base, sending only the new commit's objects.
	next, ids2, err := p.commit(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.SendMissing(ctx, p.store, ids2); err != nil {
		t.Fatal(err)
	}
	_, err = a.UpdateRefs(ctx, []remote.RefUpdate{{Name: "refs/heads/topic", New: next}})
	var prob *remote.Problem
	if !errors.As(err, &prob) || prob.Code != remote.CodeIncomplete {
		t.Fatalf("a push at A on a commit B collected: %v, want incomplete", err)
	}
}

// TestReplicasCollectOneAtATime: while one replica collects a repository
// (holds its collection lock), another skips it; once released, the
// other collects.
func TestReplicasCollectOneAtATime(t *testing.T) {
	ctx := context.Background()
	url := testpg.DB(t)
	root := t.TempDir()
	tsA, sA := replicaServer(t, url, root, server.Options{GCGrace: time.Nanosecond})
	p := newPusher(t, 0, []string{tsA.URL}, http.DefaultClient)
	// an upload no ref reaches: garbage once the grace has passed
	_, ids, err := p.commit(ctx, objects.ZeroID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.clients[0].SendMissing(ctx, p.store, ids); err != nil {
		t.Fatal(err)
	}
	r, err := open(t, url).OpenRepo(ctx, "o/model")
	if err != nil {
		t.Fatal(err)
	}
	release, ok, err := r.Refs().(server.SharedState).Collecting(ctx) // replica B collects
	if err != nil || !ok {
		t.Fatalf("B's collection lock: %v, %v", ok, err)
	}
	res, err := sA.GC(ctx)
	if err != nil || len(res) != 1 || res[0].Report != nil {
		t.Fatalf("A's collection while B collects: %+v, %v; want the repository skipped", res, err)
	}
	if _, ok, err := r.Refs().(server.SharedState).Collecting(ctx); err != nil || ok {
		t.Fatalf("a second holder of the collection lock: %v, %v", ok, err)
	}
	release()
	res, err = sA.GC(ctx)
	if err != nil || len(res) != 1 || res[0].Report == nil || res[0].Report.Removed != len(ids) {
		t.Fatalf("A's collection after B's: %+v, %v; want the %d objects removed", res, err, len(ids))
	}
}

// balancer is a load balancer in front of replicas: requests go to the
// live ones in turn; a replica that cannot be reached is taken out (as a
// proxy's passive health check does) and the request gets 502, which
// clients retry.
type balancer struct {
	mu       sync.Mutex
	next     int
	backends []*url.URL
	dead     map[*url.URL]bool
}

func (lb *balancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	lb.mu.Lock()
	var u *url.URL
	for range lb.backends {
		u = lb.backends[lb.next%len(lb.backends)]
		lb.next++
		if !lb.dead[u] {
			break
		}
	}
	lb.mu.Unlock()
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		lb.mu.Lock()
		lb.dead[u] = true
		lb.mu.Unlock()
		w.WriteHeader(http.StatusBadGateway)
	}
	rp.ServeHTTP(w, r)
}

// TestReplicaKilledMidPush: clients push through a load balancer to two
// replicas; one is killed in the middle (its connections cut); the
// clients' retries reach the other and every push completes, nothing
// lost, fsck clean.
func TestReplicaKilledMidPush(t *testing.T) {
	dbURL := testpg.DB(t)
	root := t.TempDir()
	tsA, _ := replicaServer(t, dbURL, root, server.Options{})
	tsB, _ := replicaServer(t, dbURL, root, server.Options{})
	lb := &balancer{dead: map[*url.URL]bool{}}
	for _, ts := range []*httptest.Server{tsA, tsB} {
		u, err := url.Parse(ts.URL)
		if err != nil {
			t.Fatal(err)
		}
		lb.backends = append(lb.backends, u)
	}
	front := httptest.NewServer(lb)
	t.Cleanup(front.Close)
	const n, each, branches = 12, 4, 3
	pushed, _ := pushers(t, []string{front.URL}, n, each, branches, http.DefaultClient, func() {
		tsA.CloseClientConnections() // requests in flight at A are cut
		tsA.Close()
	})
	if t.Failed() {
		return
	}
	checkHistory(t, dbURL, root, pushed)
}

// TestReadyzDatabase: a replica is ready while its database answers, not
// while it is stopped (503 with Retry-After: a load balancer sends the
// requests elsewhere), and ready again once it is back.
func TestReadyzDatabase(t *testing.T) {
	c := testpg.Start(t)
	ts := hostedReplica(t, c.CreateDB(t, "fed"), t.TempDir())
	status := func() (int, string) {
		resp, err := http.Get(ts.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Retry-After")
	}
	// the answer is reused for up to a second: poll, within a bound that
	// only keeps a broken check from hanging the test
	until := func(want int) string {
		for i := 0; ; i++ {
			st, ra := status()
			if st == want {
				return ra
			}
			if i == 300 {
				t.Fatalf("/readyz answers %d for 30 s, want %d", st, want)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	until(200)
	c.Stop(t)
	if ra := until(503); ra == "" {
		t.Fatal("/readyz answers 503 without Retry-After")
	}
	c.Restart(t)
	until(200)
}
