package server_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/remote"
	"github.com/fed-vcs/fed/remote/server"
)

// failingObjects opens each repository's disk store (under root) wrapped
// so that reading the stored form of *bad fails, as a remote object
// store's read can: server.WithObjects over the repository directories.
type failingObjects struct {
	root string
	bad  *atomic.Pointer[objects.ID]
}

func (o failingObjects) Open(ctx context.Context, name string, create bool) (server.ObjectStore, error) {
	st, err := objects.OpenDisk(filepath.Join(o.root, filepath.FromSlash(name)+".fed", "objects"))
	if err != nil {
		return nil, err
	}
	return failingStore{st, o.bad}, nil
}

func (o failingObjects) Check(ctx context.Context) error { return nil }

type failingStore struct {
	*objects.DiskStore
	bad *atomic.Pointer[objects.ID]
}

func (s failingStore) GetStored(ctx context.Context, id objects.ID, baseOK func(objects.ID) bool) ([]byte, error) {
	if b := s.bad.Load(); b != nil && *b == id {
		return nil, errors.New("read failed")
	}
	return s.DiskStore.GetStored(ctx, id, baseOK)
}

// A download whose object read fails ends its stream early (the client
// sees it incomplete), and gives back the in-flight bytes it held for the
// objects read ahead: twenty failed downloads later, under a small
// in-flight bound (16 KiB), a whole one still goes through.
func TestDownloadReadFailure(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	files, err := server.NewFiles(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	bad := new(atomic.Pointer[objects.ID])
	ts := newServer(t, server.Options{Root: root, Hosting: server.WithObjects(files, failingObjects{root, bad}), MaxObjectSize: 8 << 10, MaxInflightBytes: 16 << 10})
	owner := keyN(1)
	h := newHistory(t, owner)
	c := newClient(t, ts.URL+"/lab/m", owner, remote.Options{})
	c1, tensor, ids := h.commit(objects.ZeroID, 12, 1024, 1, nil)
	if err := push(ctx, c, h.store, ids, "refs/heads/main", objects.ZeroID, c1, false); err != nil {
		t.Fatal(err)
	}
	anon := newClient(t, ts.URL+"/lab/m", nil, remote.Options{MaxRetries: -1})
	plan, err := anon.Plan(ctx, remote.PlanRequest{Want: []objects.ID{c1}})
	if err != nil {
		t.Fatal(err)
	}
	bad.Store(&tensor.Pieces[5])
	fetch := func(dst *objects.DiskStore) error {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		_, err := anon.FetchObjects(ctx, dst, plan)
		return err
	}
	for i := 0; i < 20; i++ {
		dst, _ := objects.OpenDisk(t.TempDir())
		if err := fetch(dst); err == nil {
			t.Fatalf("fetch %d with a failing read succeeded", i)
		}
		if ok, _ := dst.Has(ctx, tensor.Pieces[5]); ok {
			t.Fatalf("fetch %d received the object whose read failed", i)
		}
	}
	bad.Store(nil)
	dst, _ := objects.OpenDisk(t.TempDir())
	if err := fetch(dst); err != nil {
		t.Fatalf("fetch once reads work again: %v", err)
	}
	rep, err := objects.Fsck(ctx, dst, []objects.ID{c1}, objects.FsckOptions{})
	if err != nil || len(rep.Problems) != 0 {
		t.Fatalf("fsck of the fetched objects: %v %v", err, rep.Problems)
	}
}
