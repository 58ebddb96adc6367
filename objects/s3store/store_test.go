package s3store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fed-vcs/fed/internal/s3test"
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/objects/objectstest"
	"github.com/fed-vcs/fed/objects/s3store"
)

// newStore opens a store on srv under a new prefix of bucket "fed".
func newStore(t *testing.T, srv *s3test.Server, prefix string, tune func(*s3store.Config)) *s3store.Store {
	t.Helper()
	cfg := srv.Bucket(t, "fed", prefix)
	if tune != nil {
		tune(&cfg)
	}
	s, err := s3store.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// corrupt flips a byte of the file versitygw keeps id's object in.
func corrupt(srv *s3test.Server, s *s3store.Store, id objects.ID) error {
	p := filepath.Join(srv.Dir, s.Bucket(), filepath.FromSlash(s.Key(id)))
	b, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	b[len(b)-1-len(b)/3] ^= 0x10
	return os.WriteFile(p, b, 0o644)
}

func TestConformance(t *testing.T) {
	srv := s3test.Start(t)
	var cur *s3store.Store
	n := 0
	objectstest.Run(t, func(t *testing.T) objects.Store {
		n++
		cur = newStore(t, srv, fmt.Sprintf("conformance/%d/objects", n), nil)
		return cur
	}, objectstest.Options{Corrupt: func(id objects.ID) error { return corrupt(srv, cur, id) }})
}

// The suite through objectstest.Faulty (delays on some reads), as the
// callers that inject faults see the store.
func TestFaultyConformance(t *testing.T) {
	srv := s3test.Start(t)
	var cur *s3store.Store
	n := 0
	objectstest.Run(t, func(t *testing.T) objects.Store {
		n++
		cur = newStore(t, srv, fmt.Sprintf("faulty/%d", n), nil)
		return objectstest.NewFaulty(cur, objectstest.Fault{Op: objectstest.OpGet, N: 3, Mode: objectstest.Pass, Delay: time.Millisecond})
	}, objectstest.Options{SkipLarge: true, Corrupt: func(id objects.ID) error { return corrupt(srv, cur, id) }})
}

func TestKeyLayout(t *testing.T) {
	srv := s3test.Start(t)
	s := newStore(t, srv, "org/repo/objects", nil)
	ctx := context.Background()
	b := objects.EncodeChunk([]byte("where am I"))
	id, err := s.Put(ctx, b, objects.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h := id.String()
	want := "org/repo/objects/" + h[:2] + "/" + h[2:]
	if s.Key(id) != want {
		t.Errorf("Key = %s, want %s", s.Key(id), want)
	}
	if _, err := os.Stat(filepath.Join(srv.Dir, "fed", filepath.FromSlash(want))); err != nil {
		t.Errorf("object not at its key: %v", err)
	}
	// Keys under the prefix that are not objects' are not listed.
	for _, k := range []string{"org/repo/objects/README", "org/repo/objects/ab/cd", "org/repo/objects/" + strings.ToUpper(h[:2]) + "/" + h[2:]} {
		p := filepath.Join(srv.Dir, "fed", filepath.FromSlash(k))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var got []objects.ID
	if err := s.List(ctx, func(id objects.ID) error { got = append(got, id); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != id {
		t.Errorf("List = %v, want only %s", got, id.Short())
	}
}

// Write once: a second put of an id never replaces what its key holds,
// even when that is damaged (fsck reports it; gc or an operator deletes
// it, and the next put stores it again).
func TestWriteOnce(t *testing.T) {
	srv := s3test.Start(t)
	s := newStore(t, srv, "once", nil)
	ctx := context.Background()
	b := objects.EncodeChunk(objectstest.Floats(5000, 1))
	id, err := s.Put(ctx, b, objects.PutOptions{ElemSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	if err := corrupt(srv, s, id); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, b, objects.PutOptions{}); err != nil {
		t.Fatalf("second Put: %v", err)
	}
	if added, err := s.PutStored(ctx, id, objects.EncodeStored(b, 4)); err != nil || added {
		t.Fatalf("PutStored of a present id = %v, %v; want false, nil", added, err)
	}
	var ce *objects.CorruptError
	if _, err := s.Get(ctx, id); !errors.As(err, &ce) {
		t.Fatalf("Get after a second Put over a damaged object = %v: the put replaced it", err)
	}
	if err := s.Delete(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, b, objects.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get(ctx, id); err != nil || !bytes.Equal(got, b) {
		t.Fatalf("Get after delete and put: %v", err)
	}
}

// incompressible returns an encoded chunk of n random bytes.
func incompressible(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	d := make([]byte, n)
	for i := range d {
		d[i] = byte(r.Uint32())
	}
	return objects.EncodeChunk(d)
}

// countingTransport counts requests by method and query.
type countingTransport struct {
	mu    sync.Mutex
	calls map[string]int
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	k := r.Method
	switch q := r.URL.Query(); {
	case q.Has("uploads"):
		k += " uploads"
	case q.Has("partNumber"):
		k += " part"
	case q.Has("uploadId"):
		k += " uploadId"
	}
	if c.calls == nil {
		c.calls = map[string]int{}
	}
	c.calls[k]++
	c.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

func (c *countingTransport) count(k string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[k]
}

func TestMultipart(t *testing.T) {
	srv := s3test.Start(t)
	ct := &countingTransport{}
	s := newStore(t, srv, "mp", func(c *s3store.Config) { c.PartSize = s3store.MinPartSize; c.Transport = ct })
	ctx := context.Background()
	b := incompressible(12<<20, 3) // three parts: 5, 5 and 2 MiB
	id, err := s.Put(ctx, b, objects.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n := ct.count("PUT part"); n != 3 {
		t.Errorf("%d parts uploaded, want 3", n)
	}
	if n := ct.count("POST uploadId"); n != 1 {
		t.Errorf("%d completions, want 1", n)
	}
	got, err := s.Get(ctx, id)
	if err != nil || !bytes.Equal(got, b) {
		t.Fatalf("Get: %v", err)
	}
	// Present: no second upload.
	if _, err := s.Put(ctx, b, objects.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if n := ct.count("POST uploads"); n != 1 {
		t.Errorf("%d uploads started, want 1 (the object was there)", n)
	}
	// Two writers of one large object at once: both succeed, one wins.
	b2 := incompressible(11<<20, 4)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.Put(ctx, b2, objects.PutOptions{})
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Errorf("concurrent multipart Put: %v", err)
		}
	}
	if got, err := s.Get(ctx, objects.Sum(b2)); err != nil || !bytes.Equal(got, b2) {
		t.Errorf("Get after concurrent multipart puts: %v", err)
	}
	// No upload is left behind.
	uploads, err := filepath.Glob(filepath.Join(srv.Dir, "fed", ".sgwtmp", "multipart", "*", "*"))
	if err == nil && len(uploads) != 0 {
		t.Errorf("incomplete uploads left: %v", uploads)
	}
}

// damagingTransport flips a byte of the body of every PUT it carries.
type damagingTransport struct{ n atomic.Int32 }

func (d *damagingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPut && r.Body != nil {
		b, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			return nil, err
		}
		if len(b) > 0 {
			b[len(b)/2] ^= 1
			d.n.Add(1)
		}
		r = r.Clone(r.Context())
		r.Body = io.NopCloser(bytes.NewReader(b))
		r.GetBody = nil
	}
	return http.DefaultTransport.RoundTrip(r)
}

// The store checks what it receives: a body damaged on the way is
// refused, for single puts and for parts.
func TestChecksumRefusesDamagedUpload(t *testing.T) {
	srv := s3test.Start(t)
	dt := &damagingTransport{}
	s := newStore(t, srv, "damaged", func(c *s3store.Config) { c.PartSize = s3store.MinPartSize; c.Transport = dt; c.Retries = -1 })
	ctx := context.Background()
	for _, b := range [][]byte{incompressible(1000, 5), incompressible(6<<20, 6)} {
		_, err := s.Put(ctx, b, objects.PutOptions{})
		if err == nil {
			t.Fatalf("Put of %d bytes damaged in flight succeeded", len(b))
		}
		// The store's refusal must not read as retryable. When the service
		// answers before the whole body is sent and closes the connection
		// (seen under -race), the client sees a reset, not the refusal:
		// that is retryable, as any reset is.
		if errors.Is(err, objects.ErrUnavailable) && !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
			t.Errorf("a refused body is reported as retryable: %v", err)
		}
		clean, _ := s3store.Open(srv.Config("fed", "damaged"))
		if ok, err := clean.Has(ctx, objects.Sum(b)); ok || err != nil {
			t.Errorf("damaged upload stored: %v, %v", ok, err)
		}
	}
	if dt.n.Load() == 0 {
		t.Fatal("nothing was damaged")
	}
}

func TestUnavailable(t *testing.T) {
	srv := s3test.Start(t)
	s := newStore(t, srv, "down", func(c *s3store.Config) { c.Retries = -1 })
	ctx := context.Background()
	b := objects.EncodeChunk([]byte("before"))
	id, err := s.Put(ctx, b, objects.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	nb := objects.EncodeChunk([]byte("while down"))
	checks := map[string]error{}
	_, checks["Get"] = s.Get(ctx, id)
	_, checks["Has"] = s.Has(ctx, id)
	_, checks["Put"] = s.Put(ctx, nb, objects.PutOptions{})
	checks["Delete"] = s.Delete(ctx, id)
	checks["List"] = s.List(ctx, func(objects.ID) error { return nil })
	_, checks["StoredInfo"] = s.StoredInfo(ctx, objects.Sum([]byte("never seen")))
	checks["Check"] = s.Check(ctx)
	for op, err := range checks {
		if !errors.Is(err, objects.ErrUnavailable) || errors.Is(err, objects.ErrNotFound) {
			t.Errorf("%s with the server down = %v, want ErrUnavailable", op, err)
		}
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get(ctx, id); err != nil || !bytes.Equal(got, b) {
		t.Errorf("Get after restart: %v", err)
	}
	if _, err := s.Put(ctx, nb, objects.PutOptions{}); err != nil {
		t.Errorf("Put after restart: %v", err)
	}
	if err := s.Check(ctx); err != nil {
		t.Errorf("Check after restart: %v", err)
	}
}

// A store that refuses the credentials or lacks the bucket says so, and
// not as something to retry.
func TestMisconfigured(t *testing.T) {
	srv := s3test.Start(t)
	newStore(t, srv, "", nil)
	ctx := context.Background()
	cfg := srv.Config("fed", "")
	cfg.SecretKey = "wrong"
	s, _ := s3store.Open(cfg)
	_, err := s.Get(ctx, objects.Sum([]byte("x")))
	if err == nil || errors.Is(err, objects.ErrUnavailable) || errors.Is(err, objects.ErrNotFound) {
		t.Errorf("Get with a wrong secret = %v", err)
	}
	s, _ = s3store.Open(srv.Config("nosuchbucket", ""))
	if err := s.Check(ctx); err == nil || !strings.Contains(err.Error(), "nosuchbucket") {
		t.Errorf("Check of a missing bucket = %v", err)
	}
	// (a HEAD's 404 has no body to tell a missing bucket from a missing
	// key: Has cannot, which is why servers Check at start)
	if _, err := s.Get(ctx, objects.Sum([]byte("x"))); err == nil || errors.Is(err, objects.ErrUnavailable) || errors.Is(err, objects.ErrNotFound) {
		t.Errorf("Get in a missing bucket = %v", err)
	}
	for _, c := range []s3store.Config{
		{Endpoint: "127.0.0.1:9000", Bucket: "b"},
		{Endpoint: "ftp://h", Bucket: "b"},
		{Endpoint: "http://h/path", Bucket: "b"},
		{Endpoint: "http://h", Bucket: ""},
		{Endpoint: "http://h", Bucket: "b", Prefix: "/abs"},
		{Endpoint: "http://h", Bucket: "b", Prefix: "a//b"},
		{Endpoint: "http://h", Bucket: "b", PartSize: 1 << 20},
	} {
		if _, err := s3store.Open(c); err == nil {
			t.Errorf("Open(%+v) succeeded", c)
		}
	}
}

// Stored forms move between a disk store and an S3 store as the server
// moves them: a delta form is stored self-contained when its base is
// there, and refused when it is not.
func TestStoredForms(t *testing.T) {
	srv := s3test.Start(t)
	s := newStore(t, srv, "stored", nil)
	ctx := context.Background()
	disk, err := objects.OpenDisk(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	v := objectstest.Floats(20000, 9)
	base := objects.EncodeChunk(v)
	next := objects.EncodeChunk(objectstest.Nudge(v, 0.001, 1))
	baseID, _ := disk.Put(ctx, base, objects.PutOptions{ElemSize: 4})
	nextID, _ := disk.Put(ctx, next, objects.PutOptions{ElemSize: 4, DeltaBase: baseID})
	if info, _ := disk.StoredInfo(ctx, nextID); info.Base != baseID {
		t.Fatalf("test setup: the disk store kept no delta (%+v)", info)
	}
	delta, err := disk.GetStored(ctx, nextID, func(objects.ID) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutStored(ctx, nextID, append([]byte(nil), delta...)); !errors.Is(err, objects.ErrMissingBase) {
		t.Fatalf("PutStored of a delta without its base = %v, want ErrMissingBase", err)
	}
	baseForm, _ := disk.GetStored(ctx, baseID, nil)
	if added, err := s.PutStored(ctx, baseID, baseForm); err != nil || !added {
		t.Fatalf("PutStored(base) = %v, %v", added, err)
	}
	var seen []byte
	if added, err := s.PutStoredFunc(ctx, nextID, delta, func(obj []byte) { seen = append(seen, obj...) }); err != nil || !added {
		t.Fatalf("PutStored(delta) = %v, %v", added, err)
	}
	if !bytes.Equal(seen, next) {
		t.Error("PutStoredFunc did not pass the canonical bytes")
	}
	info, err := s.StoredInfo(ctx, nextID)
	if err != nil || !info.Base.IsZero() {
		t.Fatalf("StoredInfo = %+v, %v; want a self-contained form", info, err)
	}
	form, err := s.GetStored(ctx, nextID, func(objects.ID) bool { return true })
	if err != nil || int64(len(form)) != info.Size {
		t.Fatalf("GetStored: %d bytes, %v; StoredInfo says %d", len(form), err, info.Size)
	}
	if obj, err := objects.DecodeStored(form); err != nil || !bytes.Equal(obj, next) {
		t.Fatalf("the stored form does not decode alone: %v", err)
	}
	// Forms that lie are refused.
	if _, err := s.PutStored(ctx, objects.Sum([]byte("other")), baseForm); !errors.Is(err, objects.ErrMismatch) {
		t.Errorf("PutStored under a wrong id = %v, want ErrMismatch", err)
	}
	if _, err := s.PutStored(ctx, baseID, []byte("FZ\x09garbage")); err == nil {
		t.Error("PutStored of garbage succeeded")
	}
	// Ranged reads.
	r, size, err := s.OpenStoredContext(ctx, nextID)
	if err != nil || size != info.Size {
		t.Fatalf("OpenStored: %d, %v", size, err)
	}
	defer r.Close()
	if _, err := r.Seek(size/2, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	tail, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(tail, form[size/2:]) {
		t.Errorf("ranged read from %d: %d bytes, %v", size/2, len(tail), err)
	}
	if _, err := s.OpenStored(objects.Sum([]byte("absent"))); !errors.Is(err, objects.ErrNotFound) {
		t.Errorf("OpenStored(absent) = %v", err)
	}
	if ok, err := s.Touch(ctx, nextID); !ok || err != nil {
		t.Errorf("Touch(present) = %v, %v", ok, err)
	}
	if ok, err := s.Touch(ctx, objects.Sum([]byte("absent"))); ok || err != nil {
		t.Errorf("Touch(absent) = %v, %v", ok, err)
	}
}

// stopAt stops the server just before the nth Put reaches it.
type stopAt struct {
	objects.Store
	srv  *s3test.Server
	n    int
	puts atomic.Int32
}

func (s *stopAt) Put(ctx context.Context, obj []byte, opts objects.PutOptions) (objects.ID, error) {
	if int(s.puts.Add(1)) == s.n {
		s.srv.Stop()
	}
	return s.Store.Put(ctx, obj, opts)
}

// The server going away in the middle of a write: the writer fails with a
// retryable error, and once the server is back nothing in the store
// refers to an object that is not there (objects are written before
// anything that names them), and the same write then succeeds.
func TestWriterAcrossOutage(t *testing.T) {
	srv := s3test.Start(t)
	ctx := context.Background()
	tensor := objectstest.Floats(2048, 2) // 8 pieces of 1 KiB
	for _, n := range []int{1, 4, 9, 10} {
		t.Run(fmt.Sprint("stop at put ", n), func(t *testing.T) {
			s := newStore(t, srv, fmt.Sprintf("outage/%d", n), func(c *s3store.Config) { c.Retries = -1 })
			write := func(st objects.Store) (objects.ID, error) {
				w := objects.NewWriter(ctx, st)
				w.PieceSize = 1024
				tid, tt, err := w.Tensor(bytes.NewReader(tensor), objects.TensorInfo{DType: objects.F32, Shape: []uint64{2048}, Size: 8192}, nil)
				var mid objects.ID
				if err == nil {
					mid, err = w.Object(&objects.Model{Format: "safetensors", Size: tt.Size, Segments: []objects.Segment{{Name: "w", ID: tid, Size: tt.Size}}})
				}
				if ferr := w.Flush(); err == nil {
					err = ferr
				}
				return mid, err
			}
			_, err := write(&stopAt{Store: s, srv: srv, n: n})
			if !errors.Is(err, objects.ErrUnavailable) {
				t.Fatalf("write with the server stopped at put %d = %v, want ErrUnavailable", n, err)
			}
			if err := srv.Restart(); err != nil {
				t.Fatal(err)
			}
			var all []objects.ID
			if err := s.List(ctx, func(id objects.ID) error { all = append(all, id); return nil }); err != nil {
				t.Fatal(err)
			}
			rep, err := objects.Fsck(ctx, s, all, objects.FsckOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Problems) != 0 {
				t.Errorf("after the outage the store refers to missing objects: %v", rep.Problems)
			}
			mid, err := write(s)
			if err != nil {
				t.Fatalf("write after restart: %v", err)
			}
			rep, err = objects.Fsck(ctx, s, []objects.ID{mid}, objects.FsckOptions{})
			if err != nil || len(rep.Problems) != 0 || rep.Reachable != 10 {
				t.Errorf("fsck of the rewritten model: %+v, %v", rep, err)
			}
		})
	}
}

// StoredInfo after Has, Get or a put needs no request; after Delete it
// asks again.
func TestSizeCache(t *testing.T) {
	srv := s3test.Start(t)
	ct := &countingTransport{}
	s := newStore(t, srv, "sizes", func(c *s3store.Config) { c.Transport = ct })
	other, _ := s3store.Open(srv.Config("fed", "sizes"))
	ctx := context.Background()
	b := objects.EncodeChunk(objectstest.Floats(3000, 4))
	id, err := other.Put(ctx, b, objects.PutOptions{ElemSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	want, err := other.StoredInfo(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Has(ctx, id); !ok || err != nil {
		t.Fatalf("Has = %v, %v", ok, err)
	}
	heads := ct.count("HEAD")
	for i := 0; i < 3; i++ {
		if got, err := s.StoredInfo(ctx, id); err != nil || got != want {
			t.Fatalf("StoredInfo = %+v, %v; want %+v", got, err, want)
		}
	}
	if n := ct.count("HEAD"); n != heads {
		t.Errorf("StoredInfo after Has sent %d HEAD requests, want none", n-heads)
	}
	// Has itself always asks: another process may have deleted the key.
	if err := other.Delete(ctx, id); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Has(ctx, id); ok || err != nil {
		t.Errorf("Has after another store's Delete = %v, %v", ok, err)
	}
	if _, err := s.StoredInfo(ctx, id); !errors.Is(err, objects.ErrNotFound) {
		t.Errorf("StoredInfo after Has found it gone = %v, want ErrNotFound", err)
	}
	if _, err := s.Put(ctx, b, objects.PutOptions{ElemSize: 4}); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := s.StoredInfo(ctx, id); !errors.Is(err, objects.ErrNotFound) {
		t.Errorf("StoredInfo after Delete = %v, want ErrNotFound", err)
	}
}
