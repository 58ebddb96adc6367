package pgstore_test

import (
	"context"
	"encoding/binary"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fed-vcs/fed/internal/s3test"
	"github.com/fed-vcs/fed/internal/testpg"
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/remote"
)

// router sends each request to one of two servers: those whose path ends
// in suffix to alt, the others to main (two replicas behind a load
// balancer that happens to split a push so).
type router struct {
	main, alt *url.URL
	suffix    string
}

func (rt *router) RoundTrip(r *http.Request) (*http.Response, error) {
	to := rt.main
	if strings.HasSuffix(r.URL.Path, rt.suffix) {
		to = rt.alt
	}
	r = r.Clone(r.Context())
	r.URL.Scheme, r.URL.Host, r.Host = to.Scheme, to.Host, to.Host
	return http.DefaultTransport.RoundTrip(r)
}

// TestUploadStorageRefused: a replica whose S3 credentials the service
// refuses (403) answers an upload 502 storage-refused, naming the storage
// and its answer but not the bucket, instead of blaming the client's
// objects (422 bad-object, as it did).
func TestUploadStorageRefused(t *testing.T) {
	gw := s3test.Start(t)
	url := testpg.DB(t)
	good := s3Objects{cfg: gw.Bucket(t, "secretbucket", "prod/")}
	bad := good
	bad.cfg.SecretKey = "not-the-secret"
	ok, refused := s3Replica(t, url, good), s3Replica(t, url, bad)
	ctx := context.Background()
	// objects/missing at the good replica (a HEAD the bad one would have
	// refused first), the upload at the refused one
	u1, _ := neturl(ok.URL)
	u2, _ := neturl(refused.URL)
	hc := &http.Client{Transport: &router{main: u2, alt: u1, suffix: "/objects/missing"}}
	p := newPusher(t, 0, []string{refused.URL}, hc)
	p.clients[0] = mustClient(t, refused.URL, p.key, hc)
	_, ids, err := p.commit(ctx, objects.ZeroID)
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.clients[0].SendMissing(ctx, p.store, ids)
	var prob *remote.Problem
	if !errors.As(err, &prob) || prob.Status != http.StatusBadGateway || prob.Code != remote.CodeStorageRefused {
		t.Fatalf("upload with the storage refusing the server: %v; want 502 %s", err, remote.CodeStorageRefused)
	}
	if !strings.Contains(prob.Detail, "S3") || !strings.Contains(prob.Detail, "403") || strings.Contains(prob.Detail, "secretbucket") || strings.Contains(prob.Detail, "not-the-secret") {
		t.Errorf("detail %q: want the storage and its answer, not the bucket or credentials", prob.Detail)
	}
	// and a request of the refused replica that only asks: 502 as well
	_, err = mustClient(t, refused.URL, p.key, http.DefaultClient).Missing(ctx, ids)
	if !errors.As(err, &prob) || prob.Code != remote.CodeStorageRefused {
		t.Fatalf("objects/missing with the storage refusing the server: %v; want %s", err, remote.CodeStorageRefused)
	}
}

func neturl(s string) (*url.URL, error) { return url.Parse(s) }

// mustClient is a client of repository o/model at base that never
// retries.
func mustClient(t *testing.T, base string, key *objects.Keypair, hc *http.Client) *remote.Client {
	t.Helper()
	c, err := remote.New(base+"/o/model", remote.Options{Key: key, HTTPClient: hc, MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// headCounter counts the HEAD requests a store sends while counting is
// on, and the most in flight at once. To see overlap without timing, a
// HEAD waits (up to 3 s) until a second one is in flight or the count
// reaches want: sequential requests would each wait the whole time, and
// peak stays 1.
type headCounter struct {
	counting             atomic.Bool
	heads, inflight, max atomic.Int64
	want                 int64
	mu                   sync.Mutex
	second               chan struct{}
}

func (h *headCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method != http.MethodHead || !h.counting.Load() {
		return http.DefaultTransport.RoundTrip(r)
	}
	n := h.heads.Add(1)
	in := h.inflight.Add(1)
	defer h.inflight.Add(-1)
	for {
		m := h.max.Load()
		if in <= m || h.max.CompareAndSwap(m, in) {
			break
		}
	}
	h.mu.Lock()
	if h.second == nil {
		h.second = make(chan struct{})
	}
	ch := h.second
	if in >= 2 || n >= h.want {
		select {
		case <-ch:
		default:
			close(ch)
		}
	}
	h.mu.Unlock()
	select {
	case <-ch:
	case <-time.After(3 * time.Second):
	}
	return http.DefaultTransport.RoundTrip(r)
}

// TestRefUpdateChecksPiecesConcurrently: a ref update's completeness
// check asks S3 about a pushed blob's 48 chunks with one HEAD each, up to
// 16 in flight at once (it asked one after another: 48 round trips in a
// row).
func TestRefUpdateChecksPiecesConcurrently(t *testing.T) {
	gw := s3test.Start(t)
	url := testpg.DB(t)
	const pieces = 48
	hc := &headCounter{want: pieces}
	objs := s3Objects{cfg: gw.Bucket(t, "fed", "prod/")}
	objs.cfg.Transport = hc
	ts := s3Replica(t, url, objs)
	ctx := context.Background()
	p := newPusher(t, 0, []string{ts.URL}, http.DefaultClient)
	var ids, chunks []objects.ID
	var size uint64
	var refsOf []objects.ChunkRef
	for i := range pieces {
		data := make([]byte, 512)
		binary.LittleEndian.PutUint64(data, uint64(i+1))
		id, err := p.store.Put(ctx, objects.EncodeChunk(data), objects.PutOptions{})
		if err != nil {
			t.Fatal(err)
		}
		chunks = append(chunks, id)
		refsOf = append(refsOf, objects.ChunkRef{ID: id, Size: uint64(len(data))})
		size += uint64(len(data))
	}
	ids = append(ids, chunks...)
	blob, err := objects.Write(ctx, p.store, &objects.Blob{Size: size, Chunks: refsOf})
	if err != nil {
		t.Fatal(err)
	}
	tree, err := objects.Write(ctx, p.store, &objects.Tree{Entries: []objects.TreeEntry{{Name: "weights.bin", Mode: objects.ModeFile, Kind: objects.KindBlob, ID: blob}}})
	if err != nil {
		t.Fatal(err)
	}
	c := &objects.Commit{Tree: tree, Time: 1_800_000_000, Message: "many pieces"}
	if err := objects.SignCommit(c, p.key); err != nil {
		t.Fatal(err)
	}
	commit, err := objects.Write(ctx, p.store, c)
	if err != nil {
		t.Fatal(err)
	}
	ids = append(ids, blob, tree, commit)
	if _, err := p.clients[0].SendMissing(ctx, p.store, ids); err != nil {
		t.Fatal(err)
	}
	hc.counting.Store(true)
	if _, err := p.clients[0].UpdateRefs(ctx, []remote.RefUpdate{{Name: "refs/heads/main", New: commit}}); err != nil {
		t.Fatal(err)
	}
	hc.counting.Store(false)
	heads, peak := hc.heads.Load(), hc.max.Load()
	t.Logf("ref update of a commit with %d chunks: %d HEAD requests, at most %d in flight", pieces, heads, peak)
	if heads < pieces || heads > pieces+3 {
		t.Errorf("%d HEAD requests for %d chunks (and 3 objects read): want one per chunk", heads, pieces)
	}
	if peak < 2 || peak > 16 {
		t.Errorf("at most %d HEAD requests in flight: want 2 to 16", peak)
	}
}
