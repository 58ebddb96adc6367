package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
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

// OpenStored fails for *bad like GetStored: the disk store's download
// path reads files through it.
func (s failingStore) OpenStored(id objects.ID) (io.ReadSeekCloser, error) {
	if b := s.bad.Load(); b != nil && *b == id {
		return nil, errors.New("open failed")
	}
	return s.DiskStore.OpenStored(id)
}

// readOnlyObjects is failingObjects whose stores offer only the methods
// of server.ObjectStore (no OpenStored, no batches), as a remote object
// store does: downloads read every object into memory.
type readOnlyObjects struct{ failingObjects }

func (o readOnlyObjects) Open(ctx context.Context, name string, create bool) (server.ObjectStore, error) {
	st, err := o.failingObjects.Open(ctx, name, create)
	if err != nil {
		return nil, err
	}
	return struct{ server.ObjectStore }{st}, nil
}

// A download whose object read fails ends its stream early (the client
// sees it incomplete), and gives back the in-flight bytes it held for the
// objects read ahead: twenty failed downloads later, under a small
// in-flight bound (16 KiB), a whole one still goes through.
// Both ways of sending are tried: from files (a disk store) and from
// memory (a store without OpenStored).
func TestDownloadReadFailure(t *testing.T) {
	for _, files := range []bool{true, false} {
		t.Run(map[bool]string{true: "files", false: "memory"}[files], func(t *testing.T) {
			testDownloadReadFailure(t, func(root string, bad *atomic.Pointer[objects.ID]) server.ObjectStores {
				if files {
					return failingObjects{root, bad}
				}
				return readOnlyObjects{failingObjects{root, bad}}
			})
		})
	}
}

func testDownloadReadFailure(t *testing.T, stores func(root string, bad *atomic.Pointer[objects.ID]) server.ObjectStores) {
	ctx := context.Background()
	root := t.TempDir()
	files, err := server.NewFiles(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	bad := new(atomic.Pointer[objects.ID])
	ts := newServer(t, server.Options{Root: root, Hosting: server.WithObjects(files, stores(root, bad)), MaxObjectSize: 8 << 10, MaxInflightBytes: 16 << 10})
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

// rawDownload posts a download request for ids and returns the response's
// declared length (-1: chunked) and the objects of its stream.
func rawDownload(t *testing.T, url string, req remote.DownloadRequest) (int64, []remote.Frame, error) {
	t.Helper()
	body, _ := json.Marshal(req)
	hr, _ := http.NewRequest(http.MethodPost, url+remote.RepoPath("lab/m", "objects/download"), bytes.NewReader(body))
	hr.Header.Set(remote.VersionHeader, strconv.Itoa(remote.Version))
	hr.Header.Set("Content-Type", remote.MediaJSON)
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("download: %s", resp.Status)
	}
	fr := remote.NewFrameReader(resp.Body, 1<<30)
	var frames []remote.Frame
	for {
		f, err := fr.Next(nil)
		if errors.Is(err, io.EOF) {
			return resp.ContentLength, frames, nil
		}
		if err != nil {
			return resp.ContentLength, frames, err
		}
		frames = append(frames, f)
	}
}

// A disk store's download declares its length and sends every object as
// stored, a delta when the client holds its base; when an object must be
// re-encoded (a delta whose base the client lacks) the stream is chunked
// as before. Either way each frame verifies against its id in a store
// holding what the client said it holds.
func TestDownloadFromFiles(t *testing.T) {
	ctx := context.Background()
	ts := newServer(t, server.Options{})
	owner := keyN(1)
	h := newHistory(t, owner)
	c := newClient(t, ts.URL+"/lab/m", owner, remote.Options{})
	c1, t1, ids1 := h.commit(objects.ZeroID, 4, 256<<10, 1, nil) // more than the chunked response buffers
	c2, t2, ids2 := h.commit(c1, 4, 256<<10, 2, t1)
	if err := push(ctx, c, h.store, ids1, "refs/heads/main", objects.ZeroID, c1, false); err != nil {
		t.Fatal(err)
	}
	if err := push(ctx, c, h.store, ids2, "refs/heads/main", c1, c2, false); err != nil {
		t.Fatal(err)
	}
	held, _ := objects.OpenDisk(filepath.Join(ts.root, "lab", "m.fed", "objects"))
	if info, err := held.StoredInfo(ctx, t2.Pieces[0]); err != nil || info.Base != t1.Pieces[0] {
		t.Fatalf("the server keeps the second commit's pieces not as deltas: %+v %v", info, err)
	}
	for _, tc := range []struct {
		name      string
		req       remote.DownloadRequest
		haveFirst bool
		declared  bool
	}{
		{"self-contained", remote.DownloadRequest{IDs: ids1}, false, true},
		{"deltas against held bases", remote.DownloadRequest{IDs: t2.Pieces, HaveBases: t1.Pieces}, true, true},
		{"deltas re-encoded", remote.DownloadRequest{IDs: t2.Pieces}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, frames, err := rawDownload(t, ts.URL, tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if got := n >= 0; got != tc.declared {
				t.Errorf("Content-Length %d, want declared %v", n, tc.declared)
			}
			var payload int64
			dst, _ := objects.OpenDisk(t.TempDir())
			if tc.haveFirst {
				for _, id := range t1.Pieces {
					b, _ := h.store.GetStored(ctx, id, nil)
					if _, err := dst.PutStored(ctx, id, b); err != nil {
						t.Fatal(err)
					}
				}
			}
			if len(frames) != len(tc.req.IDs) {
				t.Fatalf("%d frames for %d ids", len(frames), len(tc.req.IDs))
			}
			for i, f := range frames {
				payload += int64(len(f.Payload))
				if f.ID != tc.req.IDs[i] {
					t.Fatalf("frame %d is %s, want %s", i, f.ID.Short(), tc.req.IDs[i].Short())
				}
				if _, err := dst.PutStored(ctx, f.ID, f.Payload); err != nil {
					t.Fatalf("frame %d: %v", i, err)
				}
			}
			if tc.declared && n != remote.StreamLen(len(frames), payload) {
				t.Errorf("declared %d bytes, the stream has %d", n, remote.StreamLen(len(frames), payload))
			}
		})
	}
}

// cutDialer's connections stop reading, once, after limit bytes in all:
// a network that dies in the middle of a download.
type cutDialer struct {
	read, limit atomic.Int64
}

func (d *cutDialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &cutReadConn{Conn: c, d: d}, nil
}

type cutReadConn struct {
	net.Conn
	d *cutDialer
}

func (c *cutReadConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if lim := c.d.limit.Load(); lim > 0 && c.d.read.Add(int64(n)) > lim {
		c.d.limit.Store(0) // once
		c.Conn.Close()
		return n, io.ErrUnexpectedEOF
	}
	return n, err
}

// A download from files (declared length, sendfile) cut in the middle of
// an object: the client keeps the objects it verified before the cut,
// asks again for the rest and ends with every object whole; without
// retries the fetch fails and stores nothing that does not verify.
func TestDownloadCutMidObject(t *testing.T) {
	ctx := context.Background()
	ts := newServer(t, server.Options{})
	owner := keyN(1)
	h := newHistory(t, owner)
	c := newClient(t, ts.URL+"/lab/m", owner, remote.Options{})
	tip, _, ids := h.commit(objects.ZeroID, 24, 256<<10, 1, nil)
	if err := push(ctx, c, h.store, ids, "refs/heads/main", objects.ZeroID, tip, false); err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, id := range ids {
		info, _ := h.store.StoredInfo(ctx, id)
		total += info.Size
	}
	for _, retries := range []int{2, -1} {
		d := &cutDialer{}
		anon := newClient(t, ts.URL+"/lab/m", nil, remote.Options{MaxRetries: retries, Streams: 1,
			HTTPClient: &http.Client{Transport: &http.Transport{DialContext: d.dial}}})
		plan, err := anon.Plan(ctx, remote.PlanRequest{Want: []objects.ID{tip}})
		if err != nil {
			t.Fatal(err)
		}
		d.limit.Store(total/2 + 1000) // within a piece's frame
		dst, _ := objects.OpenDisk(t.TempDir())
		st, err := anon.FetchObjects(ctx, dst, plan)
		if retries < 0 {
			if err == nil {
				t.Fatal("a fetch cut without retries succeeded")
			}
		} else if err != nil {
			t.Fatalf("fetch cut once, with retries: %v", err)
		}
		held := 0
		for _, id := range ids {
			if ok, _ := dst.Has(ctx, id); ok {
				held++
				if _, err := dst.Get(ctx, id); err != nil {
					t.Fatalf("object %s after the cut: %v", id.Short(), err)
				}
			}
		}
		if retries >= 0 {
			if held != len(ids) || st.Bytes > total+total/2 {
				t.Fatalf("after a resumed fetch: %d of %d objects, %d bytes downloaded for %d", held, len(ids), st.Bytes, total)
			}
			if rep, err := objects.Fsck(ctx, dst, []objects.ID{tip}, objects.FsckOptions{}); err != nil || len(rep.Problems) != 0 {
				t.Fatalf("fsck of the resumed fetch: %v %v", err, rep.Problems)
			}
		} else if held == 0 || held == len(ids) {
			t.Fatalf("a fetch cut halfway kept %d of %d objects; want those before the cut", held, len(ids))
		}
	}
}
