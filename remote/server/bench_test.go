package server_test

import (
	"context"
	"testing"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/remote"
	"github.com/fed-vcs/fed/remote/server"
)

// BenchmarkSmallPush measures the push path of the server for small
// commits (one tensor of one 4 KiB piece each): an upload of the new
// objects and a ref update moving main forward, over loopback, one push
// at a time. Its ns/op is the latency of one push.
func BenchmarkSmallPush(b *testing.B) {
	ctx := context.Background()
	ts := newServer(b, server.Options{Rate: 1e9, Burst: 1e9})
	owner := keyN(1)
	h := newHistory(b, owner)
	c := newClient(b, ts.URL+"/bench/small", owner, remote.Options{})
	type step struct {
		id  objects.ID
		ids []objects.ID
	}
	steps := make([]step, b.N)
	parent := objects.ZeroID
	for i := range steps {
		id, _, ids := h.commit(parent, 1, 4096, uint64(i+1), nil)
		steps[i] = step{id, ids}
		parent = id
	}
	b.ResetTimer()
	old := objects.ZeroID
	for _, s := range steps {
		if err := push(ctx, c, h.store, s.ids, "refs/heads/main", old, s.id, false); err != nil {
			b.Fatal(err)
		}
		old = s.id
	}
}
