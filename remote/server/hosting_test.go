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

// flakyHosting is the repositories under a root whose ref store or
// object store fails with objects.ErrUnavailable while down or objDown is
// set (a database or an object server that went away).
type flakyHosting struct {
	*server.Files
	down    *atomic.Bool // the ref store fails
	objDown *atomic.Bool // the object store fails
}

func (f flakyHosting) Open(ctx context.Context, name string) (server.Repository, error) {
	r, err := f.Files.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	return flakyRepo{r, f.down, f.objDown}, nil
}

func (f flakyHosting) Create(ctx context.Context, name string, s repometa.Settings) (server.Repository, error) {
	r, err := f.Files.Create(ctx, name, s)
	if err != nil {
		return nil, err
	}
	return flakyRepo{r, f.down, f.objDown}, nil
}

type flakyRepo struct {
	server.Repository
	down, objDown *atomic.Bool
}

func (r flakyRepo) Refs() refs.Backend { return flakyRefs{r.Repository.Refs(), r.down} }

func (r flakyRepo) Objects() server.ObjectStore {
	return flakyObjects{r.Repository.Objects(), r.objDown}
}

// flakyObjects fails uploads while down (an object server that went away).
type flakyObjects struct {
	server.ObjectStore
	down *atomic.Bool
}

func (o flakyObjects) Put(ctx context.Context, obj []byte, po objects.PutOptions) (objects.ID, error) {
	if o.down.Load() {
		return objects.ZeroID, fmt.Errorf("put: %w: connection refused", objects.ErrUnavailable)
	}
	return o.ObjectStore.Put(ctx, obj, po)
}

func (o flakyObjects) PutStored(ctx context.Context, id objects.ID, stored []byte) (bool, error) {
	if o.down.Load() {
		return false, fmt.Errorf("put %s: %w: connection refused", id.Short(), objects.ErrUnavailable)
	}
	return o.ObjectStore.PutStored(ctx, id, stored)
}

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

// A push while the object store or the ref store cannot answer gets 503
// unavailable (which clients retry), not a refusal of the client's objects,
// and moves nothing; once the store is back the same push succeeds.
func TestStorageUnavailable(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	f, err := server.NewFiles(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	down, objDown := new(atomic.Bool), new(atomic.Bool)
	ts := newServer(t, server.Options{Root: root, Hosting: flakyHosting{f, down, objDown}})
	owner := keyN(1)
	h := newHistory(t, owner)
	c := newClient(t, ts.URL+"/lab/m", owner, remote.Options{MaxRetries: -1})
	c1, _, ids := h.commit(objects.ZeroID, 1, 1024, 1, nil)
	// objects (clients send their stored forms)
	objDown.Store(true)
	_, err = c.SendMissing(ctx, h.store, ids)
	var p *remote.Problem
	if !errors.As(err, &p) || p.Status != 503 || p.Code != remote.CodeUnavailable {
		t.Fatalf("upload while the object store is down: %v, want 503 %s", err, remote.CodeUnavailable)
	}
	objDown.Store(false)
	// refs
	down.Store(true)
	err = push(ctx, c, h.store, ids, "refs/heads/main", objects.ZeroID, c1, false)
	if problemCode(err) != remote.CodeUnavailable {
		t.Fatalf("push while the ref store is down: %v, want %s", err, remote.CodeUnavailable)
	}
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
