package server_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

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

// slowHosting is the repositories under a root whose creation of the
// repository named slow waits until release is closed (a storage that
// takes long to create one), counting the creations.
type slowHosting struct {
	*server.Files
	slow    string
	release chan struct{}
	creates *atomic.Int32
}

func (h slowHosting) Create(ctx context.Context, name string, s repometa.Settings) (server.Repository, error) {
	if name == h.slow {
		h.creates.Add(1)
		<-h.release
	}
	return h.Files.Create(ctx, name, s)
}

// While one repository is being created, pushes to others go on (the
// server-wide lock does not cover opening a repository), and the pushes
// that wait for that repository create it once and then succeed.
func TestOpenDoesNotBlockOthers(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	f, err := server.NewFiles(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := slowHosting{Files: f, slow: "lab/slow", release: make(chan struct{}), creates: new(atomic.Int32)}
	ts := newServer(t, server.Options{Root: root, Hosting: h})
	owner := keyN(1)
	hist := newHistory(t, owner)
	c1, _, ids := hist.commit(objects.ZeroID, 1, 1024, 1, nil)
	slow := newClient(t, ts.URL+"/lab/slow", owner, remote.Options{MaxRetries: -1})
	done := make(chan error, 2)
	for range 2 {
		go func() { done <- push(ctx, slow, hist.store, ids, "refs/heads/main", objects.ZeroID, c1, false) }()
	}
	for h.creates.Load() == 0 {
		select {
		case err := <-done:
			t.Fatalf("push to the repository being created ended: %v", err)
		default:
		}
		runtime.Gosched()
	}
	fast := newClient(t, ts.URL+"/lab/fast", owner, remote.Options{MaxRetries: -1})
	fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := push(fctx, fast, hist.store, ids, "refs/heads/main", objects.ZeroID, c1, false); err != nil {
		t.Fatalf("push to another repository while one is being created: %v", err)
	}
	close(h.release)
	errs := []error{<-done, <-done}
	// the two pushes raced for main: one moved it, the other found it
	// moved by the same value (a lost response, as the client sees it)
	for _, err := range errs {
		if err != nil {
			t.Fatalf("push once the repository was created: %v", err)
		}
	}
	if n := h.creates.Load(); n != 1 {
		t.Errorf("the repository was created %d times, want once", n)
	}
	l, err := slow.Refs(ctx)
	if err != nil || len(l.Refs) != 1 || l.Refs[0].ID != c1 {
		t.Fatalf("refs of the created repository: %+v, %v", l, err)
	}
}
