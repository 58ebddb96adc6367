package server_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/refs"
	"github.com/fed-vcs/fed/remote"
	"github.com/fed-vcs/fed/remote/server"
	"github.com/fed-vcs/fed/repometa"
)

// flakyHosting is the repositories under a root whose ref store fails
// with objects.ErrUnavailable while down is set (a database that went
// away).
type flakyHosting struct {
	*server.Files
	down *atomic.Bool
}

func (f flakyHosting) Open(ctx context.Context, name string) (server.Repository, error) {
	r, err := f.Files.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	return flakyRepo{r, f.down}, nil
}

func (f flakyHosting) Create(ctx context.Context, name string, s repometa.Settings) (server.Repository, error) {
	r, err := f.Files.Create(ctx, name, s)
	if err != nil {
		return nil, err
	}
	return flakyRepo{r, f.down}, nil
}

type flakyRepo struct {
	server.Repository
	down *atomic.Bool
}

func (r flakyRepo) Refs() refs.Backend { return flakyRefs{r.Repository.Refs(), r.down} }

type flakyRefs struct {
	refs.Backend
	down *atomic.Bool
}

func (r flakyRefs) Apply(ctx context.Context, ups []refs.Update, msg refs.Entry) error {
	if r.down.Load() {
		return fmt.Errorf("update refs: %w: connection refused", objects.ErrUnavailable)
	}
	return r.Backend.Apply(ctx, ups, msg)
}

// A push while the ref store cannot answer gets 503 unavailable (which
// clients retry) and moves nothing; once the store is back the same push
// succeeds.
func TestStorageUnavailable(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	f, err := server.NewFiles(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	down := new(atomic.Bool)
	ts := newServer(t, server.Options{Root: root, Hosting: flakyHosting{f, down}})
	owner := keyN(1)
	h := newHistory(t, owner)
	c := newClient(t, ts.URL+"/lab/m", owner, remote.Options{MaxRetries: -1})
	c1, _, ids := h.commit(objects.ZeroID, 1, 1024, 1, nil)
	down.Store(true)
	err = push(ctx, c, h.store, ids, "refs/heads/main", objects.ZeroID, c1, false)
	if problemCode(err) != remote.CodeUnavailable {
		t.Fatalf("push while the ref store is down: %v, want %s", err, remote.CodeUnavailable)
	}
	var p *remote.Problem
	if !errors.As(err, &p) || p.Status != 503 {
		t.Fatalf("push while the ref store is down: %v, want status 503", err)
	}
	l, err := c.Refs(ctx)
	if err != nil || len(l.Refs) != 0 {
		t.Fatalf("refs after the refused push: %+v, %v", l, err)
	}
	down.Store(false)
	if err := push(ctx, c, h.store, ids, "refs/heads/main", objects.ZeroID, c1, false); err != nil {
		t.Fatalf("push once the store is back: %v", err)
	}
}
