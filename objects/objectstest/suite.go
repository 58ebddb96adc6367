package objectstest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/fed-vcs/fed/objects"
)

// Options adapt the conformance suite to a store.
type Options struct {
	// Corrupt damages the stored form of id in place (flips a byte of
	// what the store keeps), so that the stored bytes no longer match id.
	// It acts on the store newStore returned last: the suite's subtests
	// run one at a time, each on a new store. Nil skips the corruption
	// tests.
	Corrupt func(id objects.ID) error
	// SkipLarge skips putting objects of MaxObjectSize (64 MiB), for
	// stores where that is slow. Oversized puts are still checked.
	SkipLarge bool
}

// Run runs the conformance suite against stores made by newStore, which
// must return a new, empty store each time it is called.
func Run(t *testing.T, newStore func(t *testing.T) objects.Store, opts Options) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s objects.Store, opts Options)
	}{
		{"RoundTrip", testRoundTrip},
		{"GetAbsent", testGetAbsent},
		{"PutTwice", testPutTwice},
		{"PutRejects", testPutRejects},
		{"MaxObjectSize", testMaxObjectSize},
		{"Delete", testDelete},
		{"List", testList},
		{"Concurrent", testConcurrent},
		{"Cancelled", testCancelled},
		{"Corrupt", testCorrupt},
		{"PutHints", testPutHints},
		{"DeltaChain", testDeltaChain},
		{"CorruptDeltaBase", testCorruptDeltaBase},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newStore(t), opts)
		})
	}
}

// encode encodes o, failing the test on error.
func encode(t testing.TB, o objects.Object) []byte {
	t.Helper()
	b, err := objects.Encode(o)
	if err != nil {
		t.Fatalf("encode %s: %v", o.Kind(), err)
	}
	return b
}

// put stores b and checks the returned id.
func put(t testing.TB, s objects.Store, b []byte, po objects.PutOptions) objects.ID {
	t.Helper()
	id, err := s.Put(context.Background(), b, po)
	if err != nil {
		t.Fatalf("Put(%d bytes, %+v): %v", len(b), po, err)
	}
	if want := objects.Sum(b); id != want {
		t.Fatalf("Put returned id %s, want %s", id.Short(), want.Short())
	}
	return id
}

// mustGet checks that Get(id) returns exactly want.
func mustGet(t testing.TB, s objects.Store, id objects.ID, want []byte) {
	t.Helper()
	got, err := s.Get(context.Background(), id)
	if err != nil {
		t.Fatalf("Get(%s): %v", id.Short(), err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Get(%s) returned %d bytes that differ from the %d put", id.Short(), len(got), len(want))
	}
}

// listAll returns every id List reports, with how often it reports it.
func listAll(t testing.TB, s objects.Store) map[objects.ID]int {
	t.Helper()
	seen := map[objects.ID]int{}
	err := s.List(context.Background(), func(id objects.ID) error {
		seen[id]++
		return nil
	})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	return seen
}

// checkCorrupt checks that err is a *CorruptError naming id and that no
// data came with it.
func checkCorrupt(t testing.TB, what string, id objects.ID, data []byte, err error) {
	t.Helper()
	var ce *objects.CorruptError
	switch {
	case err == nil:
		t.Errorf("%s: Get of corrupt %s returned %d bytes and no error", what, id.Short(), len(data))
	case !errors.As(err, &ce):
		t.Errorf("%s: Get of corrupt %s: %v (%T), want a *CorruptError", what, id.Short(), err, err)
	case ce.ID != id:
		t.Errorf("%s: Get of corrupt %s: CorruptError names %s", what, id.Short(), ce.ID.Short())
	case data != nil:
		t.Errorf("%s: Get of corrupt %s returned data with its error", what, id.Short())
	}
}

func testRoundTrip(t *testing.T, s objects.Store, _ Options) {
	ctx := context.Background()
	for _, o := range SampleObjects() {
		b := encode(t, o)
		id := put(t, s, b, objects.PutOptions{})
		mustGet(t, s, id, b)
		if ok, err := s.Has(ctx, id); err != nil || !ok {
			t.Errorf("Has(%s %s) = %v, %v after Put", o.Kind(), id.Short(), ok, err)
		}
		got, err := objects.Read(ctx, s, id, o.Kind())
		if err != nil {
			t.Errorf("Read(%s %s): %v", o.Kind(), id.Short(), err)
			continue
		}
		if again := encode(t, got); !bytes.Equal(again, b) {
			t.Errorf("Read(%s %s) decodes to a different object", o.Kind(), id.Short())
		}
	}
	// Get returns a buffer the caller owns: changing it changes nothing.
	b := encode(t, &objects.Chunk{Data: []byte("mutable")})
	id := put(t, s, b, objects.PutOptions{})
	got, _ := s.Get(ctx, id)
	for i := range got {
		got[i] ^= 0xff
	}
	mustGet(t, s, id, b)
	// Put does not keep the caller's buffer.
	b2 := encode(t, &objects.Chunk{Data: []byte("reused buffer")})
	orig := append([]byte(nil), b2...)
	id2 := put(t, s, b2, objects.PutOptions{ElemSize: 1})
	for i := objects.HeaderSize; i < len(b2); i++ {
		b2[i] = 0
	}
	mustGet(t, s, id2, orig)
}

func testGetAbsent(t *testing.T, s objects.Store, _ Options) {
	ctx := context.Background()
	put(t, s, encode(t, &objects.Chunk{Data: []byte("present")}), objects.PutOptions{})
	absent := objects.Sum([]byte("absent"))
	data, err := s.Get(ctx, absent)
	if !errors.Is(err, objects.ErrNotFound) {
		t.Fatalf("Get(absent) = %d bytes, %v; want ErrNotFound", len(data), err)
	}
	if data != nil {
		t.Errorf("Get(absent) returned data with its error")
	}
	if msg := err.Error(); !strings.Contains(msg, absent.String()) && !strings.Contains(msg, absent.Short()) {
		t.Errorf("Get(absent) error %q does not name %s", msg, absent.Short())
	}
	var nf *objects.NotFoundError
	if errors.As(err, &nf) && nf.ID != absent {
		t.Errorf("NotFoundError names %s, want %s", nf.ID.Short(), absent.Short())
	}
	if ok, err := s.Has(ctx, absent); ok || err != nil {
		t.Errorf("Has(absent) = %v, %v", ok, err)
	}
	if _, err := objects.Read(ctx, s, absent, 0); !errors.Is(err, objects.ErrNotFound) {
		t.Errorf("Read(absent) = %v, want ErrNotFound", err)
	}
}

func testPutTwice(t *testing.T, s objects.Store, _ Options) {
	var ids []objects.ID
	for _, o := range SampleObjects()[:6] {
		b := encode(t, o)
		id := put(t, s, b, objects.PutOptions{})
		if again := put(t, s, b, objects.PutOptions{ElemSize: 4}); again != id {
			t.Fatalf("second Put returned %s, first %s", again.Short(), id.Short())
		}
		mustGet(t, s, id, b)
		ids = append(ids, id)
	}
	seen := listAll(t, s)
	for _, id := range ids {
		if seen[id] != 1 {
			t.Errorf("List reports %s %d times, want once", id.Short(), seen[id])
		}
	}
	if len(seen) != len(ids) {
		t.Errorf("List reports %d objects, want %d", len(seen), len(ids))
	}
}

func testPutRejects(t *testing.T, s objects.Store, _ Options) {
	ctx := context.Background()
	good := encode(t, &objects.Tree{})
	withHeader := func(h ...byte) []byte { return append(h, good[len(h):]...) }
	cases := []struct {
		name string
		b    []byte
		want error
	}{
		{"nil", nil, objects.ErrMalformed},
		{"short header", []byte("FED"), objects.ErrMalformed},
		{"bad magic", withHeader('G', 'I', 'T'), objects.ErrMalformed},
		{"lowercase magic", withHeader('f', 'e', 'd'), objects.ErrMalformed},
		{"version 0", withHeader('F', 'E', 'D', 0), objects.ErrUnsupportedVersion},
		{"version 2", withHeader('F', 'E', 'D', 2), objects.ErrUnsupportedVersion},
		{"version 255", withHeader('F', 'E', 'D', 255), objects.ErrUnsupportedVersion},
		{"kind 0", withHeader('F', 'E', 'D', 1, 0), objects.ErrMalformed},
		{"kind 99", withHeader('F', 'E', 'D', 1, 99), objects.ErrMalformed},
	}
	for _, tc := range cases {
		id, err := s.Put(ctx, tc.b, objects.PutOptions{})
		if !errors.Is(err, tc.want) {
			t.Errorf("Put(%s) = %s, %v; want %v", tc.name, id.Short(), err, tc.want)
		}
		if ok, _ := s.Has(ctx, objects.Sum(tc.b)); ok {
			t.Errorf("Put(%s) failed but stored the bytes", tc.name)
		}
	}
	if n := len(listAll(t, s)); n != 0 {
		t.Errorf("rejected puts left %d objects", n)
	}
}

func testMaxObjectSize(t *testing.T, s objects.Store, opts Options) {
	ctx := context.Background()
	big := make([]byte, objects.MaxObjectSize+1)
	objects.PutChunkHeader(big)
	for _, po := range []objects.PutOptions{{}, {ElemSize: 1}} {
		if _, err := s.Put(ctx, big, po); !errors.Is(err, objects.ErrTooLarge) {
			t.Errorf("Put of %d bytes (%+v) = %v, want ErrTooLarge", len(big), po, err)
		}
	}
	if ok, _ := s.Has(ctx, objects.Sum(big)); ok {
		t.Errorf("oversized object stored")
	}
	if opts.SkipLarge {
		return
	}
	limit := big[:objects.MaxObjectSize]
	for i := objects.HeaderSize; i < len(limit); i += 4096 {
		limit[i] = byte(i >> 12)
	}
	id := put(t, s, limit, objects.PutOptions{ElemSize: 1})
	mustGet(t, s, id, limit)
}

func testDelete(t *testing.T, s objects.Store, _ Options) {
	ctx := context.Background()
	keep := put(t, s, encode(t, &objects.Chunk{Data: []byte("keep")}), objects.PutOptions{})
	goneB := encode(t, &objects.Chunk{Data: []byte("gone")})
	gone := put(t, s, goneB, objects.PutOptions{})
	if err := s.Delete(ctx, gone); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if ok, err := s.Has(ctx, gone); ok || err != nil {
		t.Errorf("Has after Delete = %v, %v", ok, err)
	}
	if _, err := s.Get(ctx, gone); !errors.Is(err, objects.ErrNotFound) {
		t.Errorf("Get after Delete = %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, gone); err != nil {
		t.Errorf("second Delete: %v", err)
	}
	if err := s.Delete(ctx, objects.Sum([]byte("never stored"))); err != nil {
		t.Errorf("Delete of an absent object: %v", err)
	}
	if seen := listAll(t, s); len(seen) != 1 || seen[keep] != 1 {
		t.Errorf("after Delete List = %v, want only %s", seen, keep.Short())
	}
	// Deleted objects can be stored again.
	put(t, s, goneB, objects.PutOptions{})
	mustGet(t, s, gone, goneB)
}

func testList(t *testing.T, s objects.Store, _ Options) {
	ctx := context.Background()
	if n := len(listAll(t, s)); n != 0 {
		t.Fatalf("new store lists %d objects", n)
	}
	want := map[objects.ID]bool{}
	for _, o := range SampleObjects() {
		want[put(t, s, encode(t, o), objects.PutOptions{})] = true
	}
	for i := 0; i < 300; i++ {
		want[put(t, s, objects.EncodeChunk([]byte(fmt.Sprint("list ", i))), objects.PutOptions{})] = true
	}
	seen := listAll(t, s)
	for id, n := range seen {
		if !want[id] {
			t.Errorf("List reports %s, never put", id.Short())
		}
		if n != 1 {
			t.Errorf("List reports %s %d times", id.Short(), n)
		}
	}
	if len(seen) != len(want) {
		t.Errorf("List reports %d objects, want %d", len(seen), len(want))
	}
	// An error from fn stops List and comes back.
	stop := errors.New("stop here")
	calls := 0
	err := s.List(ctx, func(objects.ID) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("List with a failing fn = %v after %d calls, want %v after 1", err, calls, stop)
	}
}

func testConcurrent(t *testing.T, s objects.Store, _ Options) {
	ctx := context.Background()
	const workers = 32
	shared := make([][]byte, 20)
	for i := range shared {
		shared[i] = objects.EncodeChunk(Floats(256+i*64, uint64(i)))
	}
	base := put(t, s, shared[0], objects.PutOptions{ElemSize: 4})
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	own := make([][][]byte, workers)
	for w := 0; w < workers; w++ {
		own[w] = [][]byte{
			objects.EncodeChunk([]byte(fmt.Sprint("worker ", w))),
			objects.EncodeChunk(Nudge(Floats(256, 0), 0.01, uint64(w))),
		}
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for j := range shared {
				b := shared[(j+w)%len(shared)]
				po := objects.PutOptions{ElemSize: []int{0, 1, 4}[w%3]}
				if _, err := s.Put(ctx, b, po); err != nil {
					errs <- fmt.Errorf("worker %d: put shared: %w", w, err)
					return
				}
				if got, err := s.Get(ctx, objects.Sum(b)); err != nil || !bytes.Equal(got, b) {
					errs <- fmt.Errorf("worker %d: get shared right after put: %v", w, err)
					return
				}
			}
			// own[w][1] has the length of shared[0]: a delta candidate
			for _, b := range own[w] {
				if _, err := s.Put(ctx, b, objects.PutOptions{ElemSize: 4, DeltaBase: base}); err != nil {
					errs <- fmt.Errorf("worker %d: put own: %w", w, err)
					return
				}
			}
			if err := s.List(ctx, func(objects.ID) error { return nil }); err != nil {
				errs <- fmt.Errorf("worker %d: list: %w", w, err)
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	want := map[objects.ID][]byte{}
	for _, b := range shared {
		want[objects.Sum(b)] = b
	}
	for _, o := range own {
		for _, b := range o {
			want[objects.Sum(b)] = b
		}
	}
	seen := listAll(t, s)
	if len(seen) != len(want) {
		t.Errorf("List reports %d objects, want %d", len(seen), len(want))
	}
	for id, b := range want {
		if seen[id] != 1 {
			t.Errorf("List reports %s %d times", id.Short(), seen[id])
		}
		mustGet(t, s, id, b)
	}
}

func testCancelled(t *testing.T, s objects.Store, _ Options) {
	b := encode(t, &objects.Chunk{Data: []byte("present")})
	id := put(t, s, b, objects.PutOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if data, err := s.Get(ctx, id); !errors.Is(err, context.Canceled) || data != nil {
		t.Errorf("Get with a cancelled context = %d bytes, %v; want context.Canceled", len(data), err)
	}
	nb := encode(t, &objects.Chunk{Data: []byte("new")})
	if _, err := s.Put(ctx, nb, objects.PutOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Put with a cancelled context = %v, want context.Canceled", err)
	}
	calls := 0
	if err := s.List(ctx, func(objects.ID) error { calls++; return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("List with a cancelled context = %v after %d calls, want context.Canceled", err, calls)
	}
	// The store still works with a live context.
	mustGet(t, s, id, b)
}

func testCorrupt(t *testing.T, s objects.Store, opts Options) {
	if opts.Corrupt == nil {
		t.Skip("no Options.Corrupt for this store")
	}
	ctx := context.Background()
	type obj struct {
		name string
		b    []byte
		po   objects.PutOptions
	}
	var objs []obj
	for _, o := range SampleObjects() {
		objs = append(objs, obj{o.Kind().String(), encode(t, o), objects.PutOptions{}})
	}
	floats := objects.EncodeChunk(Floats(20000, 7))
	objs = append(objs,
		obj{"grouped chunk", floats, objects.PutOptions{ElemSize: 4}},
		obj{"zero chunk", objects.EncodeChunk(make([]byte, 100000)), objects.PutOptions{ElemSize: 2}},
	)
	for _, o := range objs {
		id := put(t, s, o.b, o.po)
		if err := opts.Corrupt(id); err != nil {
			t.Fatalf("corrupt %s: %v", o.name, err)
		}
		data, err := s.Get(ctx, id)
		checkCorrupt(t, o.name, id, data, err)
		if _, err := objects.Read(ctx, s, id, 0); err == nil {
			t.Errorf("%s: Read of a corrupt object succeeded", o.name)
		}
	}
}

// testPutHints checks that no PutOptions hint changes what Get returns.
func testPutHints(t *testing.T, s objects.Store, opts Options) {
	ctx := context.Background()
	v0 := Floats(16384, 11)
	base := objects.EncodeChunk(v0)
	baseID := put(t, s, base, objects.PutOptions{ElemSize: 4})
	shorter := put(t, s, objects.EncodeChunk(v0[:len(v0)-4]), objects.PutOptions{ElemSize: 4})
	tree := put(t, s, encode(t, &objects.Tree{}), objects.PutOptions{})
	// a non-chunk object of exactly the chunk's length
	// (header, commit id, "pad", no needs, 3-byte body length, body)
	sameLen := encode(t, &objects.Proof{System: "pad", Body: make([]byte, len(base)-objects.HeaderSize-objects.IDSize-4-1-3)})
	sameLenID := put(t, s, sameLen, objects.PutOptions{})
	if len(sameLen) != len(base) {
		t.Fatalf("test setup: proof of %d bytes, chunk of %d", len(sameLen), len(base))
	}
	absent := objects.Sum([]byte("no such base"))

	hints := []struct {
		name string
		po   objects.PutOptions
	}{
		{"none", objects.PutOptions{}},
		{"elem 1", objects.PutOptions{ElemSize: 1}},
		{"elem 2", objects.PutOptions{ElemSize: 2}},
		{"elem 3", objects.PutOptions{ElemSize: 3}},
		{"elem 4", objects.PutOptions{ElemSize: 4}},
		{"elem 8", objects.PutOptions{ElemSize: 8}},
		{"elem 5", objects.PutOptions{ElemSize: 5}},
		{"elem -1", objects.PutOptions{ElemSize: -1}},
		{"elem 100", objects.PutOptions{ElemSize: 100}},
		{"delta", objects.PutOptions{ElemSize: 4, DeltaBase: baseID}},
		{"delta elem 2", objects.PutOptions{ElemSize: 2, DeltaBase: baseID}},
		{"delta no elem", objects.PutOptions{DeltaBase: baseID}},
		{"delta absent", objects.PutOptions{ElemSize: 4, DeltaBase: absent}},
		{"delta shorter", objects.PutOptions{ElemSize: 4, DeltaBase: shorter}},
		{"delta tree", objects.PutOptions{ElemSize: 4, DeltaBase: tree}},
		{"delta same-length proof", objects.PutOptions{ElemSize: 4, DeltaBase: sameLenID}},
	}
	contents := []struct {
		name string
		b    []byte
	}{
		{"nudged", objects.EncodeChunk(Nudge(v0, 0.001, 1))},
		{"odd length", objects.EncodeChunk(Nudge(v0, 0.001, 2)[:len(v0)-1])},
		{"tiny", objects.EncodeChunk([]byte{1, 2, 3})},
		{"empty", objects.EncodeChunk(nil)},
		{"tree", encode(t, SampleObjects()[13])},
	}
	for _, c := range contents {
		for _, h := range hints {
			b := append([]byte(nil), c.b...)
			id, err := s.Put(ctx, b, h.po)
			if err != nil {
				t.Errorf("Put(%s, %s): %v", c.name, h.name, err)
				continue
			}
			if id != objects.Sum(c.b) {
				t.Errorf("Put(%s, %s) returned a wrong id", c.name, h.name)
			}
			got, err := s.Get(ctx, id)
			if err != nil || !bytes.Equal(got, c.b) {
				t.Errorf("Get of %s put with hint %s: %d bytes, %v", c.name, h.name, len(got), err)
			}
			// delete so that the next hint really stores it again
			if err := s.Delete(ctx, id); err != nil {
				t.Fatalf("Delete: %v", err)
			}
		}
	}
	// An object that is its own delta base.
	self := objects.EncodeChunk(Nudge(v0, 0.01, 3))
	selfID := objects.Sum(self)
	put(t, s, self, objects.PutOptions{ElemSize: 4, DeltaBase: selfID})
	mustGet(t, s, selfID, self)
	put(t, s, self, objects.PutOptions{ElemSize: 4, DeltaBase: selfID})
	mustGet(t, s, selfID, self)
	mustGet(t, s, baseID, base)
}

func testDeltaChain(t *testing.T, s objects.Store, _ Options) {
	ctx := context.Background()
	// Each version is put with the previous one as its delta base, well
	// past MaxDeltaDepth; every version reads back, including after the
	// versions before it are read in any order.
	v := Floats(16384, 21)
	var ids []objects.ID
	var vers [][]byte
	prev := objects.ZeroID
	for i := 0; i < objects.MaxDeltaDepth*2+3; i++ {
		b := objects.EncodeChunk(v)
		id := put(t, s, b, objects.PutOptions{ElemSize: 4, DeltaBase: prev})
		ids, vers, prev = append(ids, id), append(vers, b), id
		v = Nudge(v, 0.002, uint64(i))
	}
	for i := len(ids) - 1; i >= 0; i-- {
		mustGet(t, s, ids[i], vers[i])
	}
	// Branching: two children of the same base.
	for j := 0; j < 2; j++ {
		b := objects.EncodeChunk(Nudge(v, 0.002, uint64(100+j)))
		id := put(t, s, b, objects.PutOptions{ElemSize: 4, DeltaBase: ids[3]})
		mustGet(t, s, id, b)
	}
	if ds, ok := s.(objects.DeltaStore); ok {
		// A delta base, when reported, is an object of the store.
		for _, id := range ids {
			base, err := ds.DeltaBase(ctx, id)
			if err != nil {
				t.Fatalf("DeltaBase(%s): %v", id.Short(), err)
			}
			if !base.IsZero() {
				if ok, _ := s.Has(ctx, base); !ok {
					t.Errorf("DeltaBase(%s) = %s, not in the store", id.Short(), base.Short())
				}
			}
		}
	}
}

func testCorruptDeltaBase(t *testing.T, s objects.Store, opts Options) {
	if opts.Corrupt == nil {
		t.Skip("no Options.Corrupt for this store")
	}
	ctx := context.Background()
	v := Floats(16384, 31)

	// A base that is already corrupt when the object is put: the object
	// must still read back (the store cannot use the base).
	bad := put(t, s, objects.EncodeChunk(v), objects.PutOptions{ElemSize: 4})
	if err := opts.Corrupt(bad); err != nil {
		t.Fatal(err)
	}
	b1 := objects.EncodeChunk(Nudge(v, 0.001, 1))
	id1 := put(t, s, b1, objects.PutOptions{ElemSize: 4, DeltaBase: bad})
	mustGet(t, s, id1, b1)

	// A base corrupted after the object was put against it: the object
	// reads back exactly or fails as corrupt, never with other bytes.
	good := put(t, s, objects.EncodeChunk(Nudge(v, 0.001, 2)), objects.PutOptions{ElemSize: 4})
	b2 := objects.EncodeChunk(Nudge(v, 0.001, 3))
	id2 := put(t, s, b2, objects.PutOptions{ElemSize: 4, DeltaBase: good})
	mustGet(t, s, id2, b2)
	if err := opts.Corrupt(good); err != nil {
		t.Fatal(err)
	}
	data, err := s.Get(ctx, id2)
	if err != nil {
		checkCorrupt(t, "delta on a corrupted base", id2, data, err)
	} else if !bytes.Equal(data, b2) {
		t.Errorf("delta on a corrupted base: Get returned other bytes")
	}

	// Same with a base deleted after the put.
	gone := put(t, s, objects.EncodeChunk(Nudge(v, 0.001, 4)), objects.PutOptions{ElemSize: 4})
	b3 := objects.EncodeChunk(Nudge(v, 0.001, 5))
	id3 := put(t, s, b3, objects.PutOptions{ElemSize: 4, DeltaBase: gone})
	if err := s.Delete(ctx, gone); err != nil {
		t.Fatal(err)
	}
	data, err = s.Get(ctx, id3)
	if err != nil {
		checkCorrupt(t, "delta on a deleted base", id3, data, err)
	} else if !bytes.Equal(data, b3) {
		t.Errorf("delta on a deleted base: Get returned other bytes")
	}
}
