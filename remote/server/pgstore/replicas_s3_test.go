package pgstore_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fed-vcs/fed/internal/s3test"
	"github.com/fed-vcs/fed/internal/testpg"
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/objects/s3store"
	"github.com/fed-vcs/fed/refs"
	"github.com/fed-vcs/fed/remote"
	"github.com/fed-vcs/fed/remote/server"
)

// s3Objects keeps repository NAME's objects under PREFIX/NAME.fed/objects/
// of a bucket, as fed serve --objects does.
type s3Objects struct{ cfg s3store.Config }

func (o s3Objects) store(name string) (*s3store.Store, error) {
	cfg := o.cfg
	cfg.Prefix += name + ".fed/objects/"
	return s3store.Open(cfg)
}

func (o s3Objects) Open(ctx context.Context, name string, create bool) (server.ObjectStore, error) {
	return o.store(name)
}

func (o s3Objects) Check(ctx context.Context) error {
	s, err := s3store.Open(o.cfg)
	if err != nil {
		return err
	}
	return s.Check(ctx)
}

// s3Replica is what fed serve --db url --objects s3://fed/prod runs.
func s3Replica(t *testing.T, url string, objs s3Objects) *httptest.Server {
	t.Helper()
	db := open(t, url)
	s, err := server.New(server.Options{Root: t.TempDir(), Hosting: db.Hosting(objs), Sessions: db.Sessions(),
		GCInterval: -1, Rate: 1e6, Burst: 1e6})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return ts
}

// TestReplicasS3Restart: the S3 service (a real versitygw) stopped and
// restarted while clients push at two replicas on one database and one
// bucket: requests meanwhile get 503 with Retry-After, the clients'
// retries succeed once it is back, no ref ever names a commit the bucket
// lacks (watched throughout, on the gateway's directory, which stays
// readable while it is down), nothing is lost and fsck of the bucket is
// clean.
func TestReplicasS3Restart(t *testing.T) {
	gw := s3test.Start(t)
	url := testpg.DB(t)
	objs := s3Objects{cfg: gw.Bucket(t, "fed", "prod/")}
	urls := []string{s3Replica(t, url, objs).URL, s3Replica(t, url, objs).URL}
	ctx := context.Background()
	db := open(t, url)

	// The watcher: every ref's commit is a file of the gateway's.
	stop := make(chan struct{})
	var watched atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			r, err := db.OpenRepo(ctx, "o/model")
			if err != nil {
				continue // not pushed yet
			}
			all, err := r.Refs().List(ctx, "refs/")
			if err != nil {
				t.Errorf("list refs: %v", err)
				return
			}
			st, _ := objs.store("o/model")
			for _, ref := range all {
				p := filepath.Join(gw.Dir, "fed", filepath.FromSlash(st.Key(ref.ID)))
				if _, err := os.Stat(p); err != nil {
					t.Errorf("%s names %s, which the bucket lacks: %v", ref.Name, ref.ID.Short(), err)
					return
				}
				watched.Add(1)
			}
		}
	}()

	counter := &statusCounter{}
	hc := &http.Client{Transport: counter}
	const n, each, branches = 8, 4, 2
	pushed, _ := pushers(t, urls, n, each, branches, hc, func() {
		if err := gw.Stop(); err != nil {
			t.Error(err)
		}
		// a read of an object while it is down, to see its answer for certain
		r, err := db.OpenRepo(ctx, "o/model")
		if err != nil {
			t.Error(err)
		} else if tip, err := r.Refs().Read(ctx, refs.Name("refs/heads/b0")); err != nil {
			t.Error(err)
		} else if resp, err := hc.Get(urls[1] + remote.RepoPath("o/model", "objects/"+tip.String())); err != nil {
			t.Errorf("an object with S3 down: %v", err)
		} else {
			resp.Body.Close()
			if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
				t.Errorf("an object with S3 down: %d, Retry-After %q; want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
			}
		}
		time.Sleep(time.Second) // pushes meanwhile meet it down
		if err := gw.Restart(); err != nil {
			t.Error(err)
		}
	})
	close(stop)
	wg.Wait()
	if t.Failed() {
		return
	}
	if counter.unavailable.Load() == 0 || counter.noRetryAfter.Load() != 0 {
		t.Fatalf("%d answers 503, %d of them without Retry-After", counter.unavailable.Load(), counter.noRetryAfter.Load())
	}
	if watched.Load() == 0 {
		t.Fatal("the watcher checked no ref")
	}
	st, err := objs.store("o/model")
	if err != nil {
		t.Fatal(err)
	}
	r, err := db.OpenRepo(ctx, "o/model")
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
	if len(rep.Problems) > 0 || rep.Reachable < total*4 {
		t.Fatalf("fsck of the bucket: %d problems (%v), %d reachable of %d pushed", len(rep.Problems), rep.Problems, rep.Reachable, total*4)
	}
	t.Logf("%d pushes, %d answers 503 while S3 was down, %d ref checks", n*each, counter.unavailable.Load(), watched.Load())
}
