package graph

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/fed-vcs/fed/objects"
)

// store is an objects.Store over a map that does not check that bytes
// hash to their id, so that a test can build graphs a verifying store
// would refuse (a cycle), and that counts the reads of each id.
type store struct {
	mu    sync.Mutex
	objs  map[objects.ID][]byte
	reads map[objects.ID]int
}

func newStore() *store {
	return &store{objs: map[objects.ID][]byte{}, reads: map[objects.ID]int{}}
}

func (s *store) Get(_ context.Context, id objects.ID) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads[id]++
	b, ok := s.objs[id]
	if !ok {
		return nil, &objects.NotFoundError{ID: id}
	}
	return b, nil
}

func (s *store) Has(_ context.Context, id objects.ID) (bool, error) {
	_, ok := s.objs[id]
	return ok, nil
}

func (s *store) Put(_ context.Context, b []byte, _ objects.PutOptions) (objects.ID, error) {
	id := objects.Sum(b)
	s.objs[id] = b
	return id, nil
}

func (s *store) Delete(_ context.Context, id objects.ID) error { delete(s.objs, id); return nil }

func (s *store) List(_ context.Context, fn func(objects.ID) error) error {
	for id := range s.objs {
		if err := fn(id); err != nil {
			return err
		}
	}
	return nil
}

func (s *store) put(t *testing.T, o objects.Object) objects.ID {
	t.Helper()
	id, err := objects.Write(context.Background(), s, o)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// putAs stores o under a chosen id (which it does not hash to).
func (s *store) putAs(t *testing.T, id objects.ID, o objects.Object) {
	t.Helper()
	b, err := objects.Encode(o)
	if err != nil {
		t.Fatal(err)
	}
	s.objs[id] = b
}

func fakeID(n int) objects.ID { return objects.Sum([]byte(fmt.Sprint("fake ", n))) }

// sample is a commit with a parent; its tree holds a blob of two chunks
// and a model with one tensor of two pieces and one raw segment.
type sample struct {
	s                      *store
	parent, commit, tag    objects.ID
	tree, sub, blob, model objects.ID
	tensor, raw            objects.ID
	chunks                 []objects.ID // of the blob, the tensor and raw
	parentTree, parentBlob objects.ID
	parentChunk            objects.ID
}

func newSample(t *testing.T) *sample {
	x := &sample{s: newStore()}
	s := x.s
	chunk := func(data string) objects.ID {
		id := s.put(t, &objects.Chunk{Data: []byte(data)})
		x.chunks = append(x.chunks, id)
		return id
	}
	x.parentChunk = s.put(t, &objects.Chunk{Data: []byte("old")})
	x.parentBlob = s.put(t, &objects.Blob{Size: 3, Chunks: []objects.ChunkRef{{ID: x.parentChunk, Size: 3}}})
	x.parentTree = s.put(t, &objects.Tree{Entries: []objects.TreeEntry{{Name: "a.txt", Mode: objects.ModeFile, Kind: objects.KindBlob, ID: x.parentBlob}}})
	x.parent = s.put(t, &objects.Commit{Tree: x.parentTree, Time: 1, Message: "first"})

	c1, c2 := chunk("hello "), chunk("world")
	x.blob = s.put(t, &objects.Blob{Size: 11, Chunks: []objects.ChunkRef{{ID: c1, Size: 6}, {ID: c2, Size: 5}}})
	p1, p2 := chunk("abcd"), chunk("efgh")
	x.tensor = s.put(t, &objects.Tensor{DType: objects.F32, Shape: []uint64{2}, Size: 8, PieceSize: 4, Pieces: []objects.ID{p1, p2}})
	r1 := chunk("header")
	x.raw = s.put(t, &objects.Blob{Size: 6, Chunks: []objects.ChunkRef{{ID: r1, Size: 6}}})
	x.model = s.put(t, &objects.Model{Format: "test", Size: 14, Segments: []objects.Segment{{ID: x.raw, Size: 6}, {Name: "w", ID: x.tensor, Size: 8}}})
	x.sub = s.put(t, &objects.Tree{Entries: []objects.TreeEntry{{Name: "m.bin", Mode: objects.ModeFile, Kind: objects.KindModel, ID: x.model}}})
	x.tree = s.put(t, &objects.Tree{Entries: []objects.TreeEntry{
		{Name: "a.txt", Mode: objects.ModeFile, Kind: objects.KindBlob, ID: x.blob},
		{Name: "d", Mode: objects.ModeDir, Kind: objects.KindTree, ID: x.sub},
	}})
	x.commit = s.put(t, &objects.Commit{Tree: x.tree, Parents: []objects.ID{x.parent}, Time: 2, Message: "second"})
	x.tag = s.put(t, &objects.Tag{Target: x.commit, TargetKind: objects.KindCommit, Name: "v1", Time: 3})
	return x
}

func set(ids ...objects.ID) map[objects.ID]bool {
	m := map[objects.ID]bool{}
	for _, id := range ids {
		m[id] = true
	}
	return m
}

func sameSet(t *testing.T, what string, got, want map[objects.ID]bool) {
	t.Helper()
	for id := range want {
		if !got[id] {
			t.Errorf("%s: %s missing", what, id.Short())
		}
	}
	for id := range got {
		if !want[id] {
			t.Errorf("%s: %s should not be there", what, id.Short())
		}
	}
}

func TestReachEverythingChunksUnread(t *testing.T) {
	x := newSample(t)
	got := map[objects.ID]bool{}
	if err := Reach(context.Background(), x.s, got, x.tag); err != nil {
		t.Fatal(err)
	}
	want := set(append([]objects.ID{x.tag, x.commit, x.tree, x.sub, x.blob, x.model, x.tensor, x.raw,
		x.parent, x.parentTree, x.parentBlob, x.parentChunk}, x.chunks...)...)
	sameSet(t, "reach", got, want)
	for _, c := range append(x.chunks, x.parentChunk) {
		if n := x.s.reads[c]; n != 0 {
			t.Errorf("chunk %s read %d times; chunks are leaves", c.Short(), n)
		}
	}
	for id := range want {
		if x.s.reads[id] > 1 {
			t.Errorf("%s read %d times, want once", id.Short(), x.s.reads[id])
		}
	}
}

func TestReachStopsAtSeenAndPassesAbsent(t *testing.T) {
	x := newSample(t)
	delete(x.s.objs, x.tensor) // weights withheld
	got := set(x.parent)       // walked by an earlier call
	if err := Reach(context.Background(), x.s, got, x.commit); err != nil {
		t.Fatal(err)
	}
	if got[x.parentTree] {
		t.Error("the walk went past a commit already in the set")
	}
	if !got[x.tensor] || got[x.chunks[2]] {
		t.Error("an absent tensor is visited and reaches nothing")
	}
}

func TestWalkMissingObjectNamesIt(t *testing.T) {
	x := newSample(t)
	delete(x.s.objs, x.sub)
	err := Walk{}.Run(context.Background(), x.s, x.commit)
	if !errors.Is(err, objects.ErrNotFound) || !strings.Contains(err.Error(), x.sub.String()) {
		t.Fatalf("got %v, want a not-found error naming %s", err, x.sub)
	}
	// Reach passes over it; a corrupt object stays an error naming it
	x.s.objs[x.sub] = []byte("garbage")
	err = Reach(context.Background(), x.s, map[objects.ID]bool{}, x.commit)
	var ce *objects.CorruptError
	if !errors.As(err, &ce) || ce.ID != x.sub || !strings.Contains(err.Error(), x.sub.String()) {
		t.Fatalf("got %v, want a corrupt-object error naming %s", err, x.sub)
	}
}

func TestWalkSkipVisitNext(t *testing.T) {
	x := newSample(t)
	var visited []objects.ID
	chunks := map[objects.ID]bool{}
	w := Walk{
		Skip: func(id objects.ID) bool { return id == x.blob },
		Visit: func(id objects.ID, chunk bool) (bool, error) {
			visited = append(visited, id)
			if chunk {
				chunks[id] = true
			}
			return id != x.model, nil // pass over the model
		},
		Next: NoCommits,
	}
	if err := w.Run(context.Background(), x.s, x.tree); err != nil {
		t.Fatal(err)
	}
	sameSet(t, "visited", set(visited...), set(x.tree, x.sub, x.model))
	if len(chunks) != 0 {
		t.Errorf("chunks visited: %v", chunks)
	}
	if x.s.reads[x.model] != 0 {
		t.Error("a model Visit passed over was read")
	}
	// NoCommits: a commit root is visited, not walked
	visited = nil
	w = Walk{Visit: func(id objects.ID, chunk bool) (bool, error) { visited = append(visited, id); return true, nil }, Next: NoCommits}
	if err := w.Run(context.Background(), x.s, x.tag); err != nil {
		t.Fatal(err)
	}
	sameSet(t, "from a tag", set(visited...), set(x.tag, x.commit))
	// a Visit error ends the walk with it
	boom := errors.New("boom")
	err := Walk{Visit: func(objects.ID, bool) (bool, error) { return false, boom }}.Run(context.Background(), x.s, x.tree)
	if err != boom {
		t.Fatalf("got %v, want the Visit error", err)
	}
}

func TestWalkCycleEnds(t *testing.T) {
	s := newStore()
	a, b := fakeID(1), fakeID(2)
	tree := s.put(t, &objects.Tree{})
	s.putAs(t, a, &objects.Commit{Tree: tree, Parents: []objects.ID{b}, Time: 1})
	s.putAs(t, b, &objects.Commit{Tree: tree, Parents: []objects.ID{a}, Time: 1})
	got := map[objects.ID]bool{}
	if err := Reach(context.Background(), s, got, a); err != nil {
		t.Fatal(err)
	}
	sameSet(t, "cycle", got, set(a, b, tree))
	r, err := History{}.Reachable(context.Background(), s, a)
	if err != nil {
		t.Fatal(err)
	}
	sameSet(t, "history cycle", r, set(a, b))
	if ok, err := (History{}).IsAncestor(context.Background(), s, fakeID(3), a); err != nil || ok {
		t.Fatalf("IsAncestor of an unrelated id in a cycle: %v %v", ok, err)
	}
}

func TestWalkCancelled(t *testing.T) {
	x := newSample(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := (Walk{}).Run(ctx, x.s, x.commit); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
}

// chain stores n commits, each the parent of the next, and returns them
// oldest first.
func chain(t *testing.T, s *store, n int, tree objects.ID, parent objects.ID, name string) []objects.ID {
	ids := make([]objects.ID, n)
	for i := range ids {
		c := &objects.Commit{Tree: tree, Time: int64(i), Message: fmt.Sprint(name, i)}
		if !parent.IsZero() {
			c.Parents = []objects.ID{parent}
		}
		parent = s.put(t, c)
		ids[i] = parent
	}
	return ids
}

func TestHistoryLongChainDoesNotRecurse(t *testing.T) {
	s := newStore()
	tree := s.put(t, &objects.Tree{})
	const n = 50000
	ids := chain(t, s, n, tree, objects.ZeroID, "c")
	// A walk that recursed would need a frame per commit, far more than
	// 1 MiB of stack (and the runtime stops a program that overflows it).
	defer debug.SetMaxStack(debug.SetMaxStack(1 << 20))
	set, err := History{}.Reachable(context.Background(), s, ids[n-1])
	if err != nil {
		t.Fatal(err)
	}
	if len(set) != n {
		t.Fatalf("reached %d commits of %d", len(set), n)
	}
	ok, err := History{}.IsAncestor(context.Background(), s, ids[0], ids[n-1])
	if err != nil || !ok {
		t.Fatalf("root not an ancestor of the tip: %v %v", ok, err)
	}
	got := map[objects.ID]bool{}
	if err := Reach(context.Background(), s, got, ids[n-1]); err != nil || len(got) != n+1 {
		t.Fatalf("object walk: %d objects, %v", len(got), err)
	}
}

func TestHistoryIsAncestor(t *testing.T) {
	s := newStore()
	tree := s.put(t, &objects.Tree{})
	base := chain(t, s, 3, tree, objects.ZeroID, "base")
	left := chain(t, s, 2, tree, base[2], "left")
	right := chain(t, s, 2, tree, base[2], "right")
	merge := s.put(t, &objects.Commit{Tree: tree, Parents: []objects.ID{left[1], right[1]}, Time: 9})
	ctx := context.Background()
	for _, c := range []struct {
		a, b objects.ID
		want bool
	}{
		{base[0], merge, true}, {right[0], merge, true}, {merge, merge, true},
		{left[0], right[1], false}, {merge, base[0], false},
	} {
		got, err := History{}.IsAncestor(ctx, s, c.a, c.b)
		if err != nil || got != c.want {
			t.Errorf("IsAncestor(%s, %s) = %v, %v; want %v", c.a.Short(), c.b.Short(), got, err, c.want)
		}
	}
	// at a shallow boundary the walk does not go on
	h := History{Parents: Boundary(set(base[2]), false)}
	if ok, err := h.IsAncestor(ctx, s, base[0], merge); err != nil || ok {
		t.Errorf("past the shallow boundary: %v %v", ok, err)
	}
	// first parent only
	r, err := History{Parents: Boundary(nil, true)}.Reachable(ctx, s, merge)
	if err != nil || r[right[1]] || !r[left[1]] || !r[base[0]] {
		t.Errorf("first-parent walk: %v %v", r, err)
	}
	// an absent commit: an error naming it, or passed over
	delete(s.objs, base[1])
	if _, err := (History{}).IsAncestor(ctx, s, objects.ZeroID, merge); !errors.Is(err, objects.ErrNotFound) || !strings.Contains(err.Error(), base[1].String()) {
		t.Errorf("absent commit: got %v, want an error naming %s", err, base[1])
	}
	if ok, err := (History{SkipAbsent: true}).IsAncestor(ctx, s, base[0], merge); err != nil || ok {
		t.Errorf("SkipAbsent: %v %v", ok, err)
	}
	// it stops at a: nothing beyond is read
	s.reads = map[objects.ID]int{}
	if ok, err := (History{}).IsAncestor(ctx, s, left[0], left[1]); err != nil || !ok {
		t.Fatalf("%v %v", ok, err)
	}
	if s.reads[left[0]] != 0 || s.reads[base[2]] != 0 {
		t.Error("IsAncestor read commits at or beyond a")
	}
}

func TestHistoryStopAndSkip(t *testing.T) {
	s := newStore()
	tree := s.put(t, &objects.Tree{})
	ids := chain(t, s, 5, tree, objects.ZeroID, "c")
	ctx := context.Background()
	r, err := History{Stop: func(id objects.ID) bool { return id == ids[2] }}.Reachable(ctx, s, ids[4])
	if err != nil {
		t.Fatal(err)
	}
	sameSet(t, "stop", r, set(ids[3], ids[4]))
	var seen []objects.ID
	err = History{}.Run(ctx, s, []objects.ID{ids[4]}, func(id objects.ID, _ *objects.Commit) error {
		seen = append(seen, id)
		if id == ids[3] {
			return SkipParents
		}
		return nil
	})
	if err != nil || len(seen) != 2 {
		t.Fatalf("SkipParents: %v %v", seen, err)
	}
	seen = nil
	err = History{}.Run(ctx, s, []objects.ID{ids[4]}, func(id objects.ID, _ *objects.Commit) error {
		seen = append(seen, id)
		return SkipAll
	})
	if err != nil || len(seen) != 1 {
		t.Fatalf("SkipAll: %v %v", seen, err)
	}
	// a tree where a commit belongs
	if _, err := (History{}).Reachable(ctx, s, tree); err == nil || !strings.Contains(err.Error(), tree.Short()) {
		t.Fatalf("a tree as a commit: got %v, want an error naming it", err)
	}
}

func TestNewestFirst(t *testing.T) {
	id := func(n int) objects.ID { return fakeID(100 + n) }
	c := func(time int64, parents ...objects.ID) *objects.Commit {
		return &objects.Commit{Time: time, Parents: parents}
	}
	// 1 <- 2 <- 4 (merge of 2 and 3), 1 <- 3; 3 is newer than 4 by its
	// clock, yet comes after its child 4.
	in := []Entry{
		{id(1), c(1)},
		{id(2), c(2, id(1))},
		{id(3), c(9, id(1))},
		{id(4), c(5, id(2), id(3))},
	}
	got, err := NewestFirst(in, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	var order []objects.ID
	for _, e := range got {
		order = append(order, e.ID)
	}
	if want := []objects.ID{id(4), id(3), id(2), id(1)}; !slices.Equal(order, want) {
		t.Fatalf("order %v, want %v", order, want)
	}
	if got, err := NewestFirst(in, false, 2); err != nil || len(got) != 2 || got[1].ID != id(3) {
		t.Fatalf("max 2: %v %v", got, err)
	}
	// first parent: 3 no longer waits for 4, and comes first (newest)
	got, err = NewestFirst(in, true, 0)
	if err != nil || got[0].ID != id(3) {
		t.Fatalf("first parent: %v %v", got, err)
	}
	// equal times: by id
	a, b := Entry{fakeID(1), c(7)}, Entry{fakeID(2), c(7)}
	got, _ = NewestFirst([]Entry{a, b}, false, 0)
	if (got[0].ID.String() < got[1].ID.String()) != true {
		t.Fatalf("equal times not ordered by id: %v", got)
	}
	// a cycle, and a commit listed twice
	cyc := []Entry{{id(1), c(1, id(2))}, {id(2), c(2, id(1))}, {id(3), c(3, id(2))}}
	if _, err := NewestFirst(cyc, false, 0); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Fatalf("cycle: %v", err)
	} else if !strings.Contains(err.Error(), id(1).String()) && !strings.Contains(err.Error(), id(2).String()) {
		t.Fatalf("cycle error names neither commit of it: %v", err)
	}
	if _, err := NewestFirst([]Entry{in[0], in[0]}, false, 0); err == nil || !strings.Contains(err.Error(), id(1).String()) {
		t.Fatalf("duplicate: %v", err)
	}
}
