package pgstore_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/fed-vcs/fed/internal/testpg"
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/refs"
	"github.com/fed-vcs/fed/remote"
	"github.com/fed-vcs/fed/remote/server"
	"github.com/fed-vcs/fed/repometa/repometatest"
)

// BenchmarkRefsApply: one compare-and-swap transaction of a branch in
// PostgreSQL (row lock, read, check, UPDATE … WHERE value = old, reflog).
func BenchmarkRefsApply(b *testing.B) {
	ctx := context.Background()
	db := open(b, testpg.DB(b))
	r, _, err := db.CreateRepo(ctx, "o/bench", repometatest.Initial())
	if err != nil {
		b.Fatal(err)
	}
	rs := r.Refs()
	cur := objects.ZeroID
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		next := objects.Sum(fmt.Appendf(nil, "%d", i))
		if err := rs.Apply(ctx, []refs.Update{{Name: "refs/heads/main", Old: cur, New: next}}, refs.Entry{Author: "bench"}); err != nil {
			b.Fatal(err)
		}
		cur = next
	}
}

// BenchmarkPush: small pushes (a commit of one 256-byte file, each client
// on its own branch: no conflicts) by 16 concurrent clients, through the
// disk default (one server, refs in files) and through two replicas on
// PostgreSQL sharing one object directory; pushes/s is reported.
func BenchmarkPush(b *testing.B) {
	for _, layout := range []string{"disk", "pg-1", "pg-2"} {
		b.Run(layout, func(b *testing.B) {
			root := b.TempDir()
			var urls []string
			switch layout {
			case "disk":
				s, err := server.New(server.Options{Root: root, GCInterval: -1, Rate: 1e6, Burst: 1e6})
				if err != nil {
					b.Fatal(err)
				}
				ts := httptest.NewServer(s)
				b.Cleanup(ts.Close)
				urls = []string{ts.URL}
			default:
				url := testpg.DB(b)
				n := 1
				if layout == "pg-2" {
					n = 2
				}
				for range n {
					ts, _ := replicaServer(b, url, root, server.Options{})
					urls = append(urls, ts.URL)
				}
			}
			benchPush(b, urls)
		})
	}
}

func benchPush(b *testing.B, urls []string) {
	ctx := context.Background()
	const clients = 16
	ps := make([]*pusher, clients)
	tips := make([]objects.ID, clients)
	for i := range ps {
		ps[i] = newPusher(b, i, urls, http.DefaultClient)
		// log in before the clock starts
		if _, err := ps[i].clients[i%len(urls)].Missing(ctx, []objects.ID{objects.Sum(nil)}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	var wg sync.WaitGroup
	work := make(chan int, b.N)
	for i := 0; i < b.N; i++ {
		work <- i
	}
	close(work)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := ps[i]
			c := p.clients[i%len(urls)]
			branch := fmt.Sprintf("refs/heads/c%d", i)
			for range work {
				id, ids, err := p.commit(ctx, tips[i])
				if err == nil {
					_, err = c.SendMissing(ctx, p.store, ids)
				}
				if err == nil {
					_, err = c.UpdateRefs(ctx, []remote.RefUpdate{{Name: branch, Old: tips[i], New: id}})
				}
				if err != nil {
					b.Error(err)
					return
				}
				tips[i] = id
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pushes/s")
}
