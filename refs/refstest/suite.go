package refstest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/refs"
)

// Options adapt the conformance suite to a backend.
type Options struct {
	// Unavailable makes the backend newStore returned last unable to
	// update refs/heads/main (a database stopped, a lock held by another
	// process) and returns the function that makes it available again.
	// Nil skips the test of unavailability.
	Unavailable func(t *testing.T) (restore func())
}

// Run runs the conformance suite against backends made by newStore, which
// must return the ref store of a new, empty repository (HEAD names the
// unborn refs/heads/main) each time it is called.
func Run(t *testing.T, newStore func(t *testing.T) refs.Backend, opts Options) {
	tests := []struct {
		name string
		fn   func(t *testing.T, b refs.Backend, opts Options)
	}{
		{"Empty", testEmpty},
		{"CreateReadList", testCreateReadList},
		{"CompareAndSwap", testCompareAndSwap},
		{"AllOrNothing", testAllOrNothing},
		{"Force", testForce},
		{"Delete", testDelete},
		{"NameConflict", testNameConflict},
		{"SameRefTwice", testSameRefTwice},
		{"InvalidName", testInvalidName},
		{"Reflog", testReflog},
		{"OneWinner", testOneWinner},
		{"Serialisable", testSerialisable},
		{"Cancelled", testCancelled},
		{"Unavailable", testUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newStore(t), opts)
		})
	}
}

var bg = context.Background()

// id returns a distinct id for n.
func id(n any) objects.ID { return objects.Sum([]byte(fmt.Sprint("refstest ", n))) }

var (
	main = refs.Branch("main")
	dev  = refs.Branch("dev")
	v1   = refs.Tag("v1")
)

func apply(t *testing.T, b refs.Backend, ups ...refs.Update) {
	t.Helper()
	if err := b.Apply(bg, ups, refs.Entry{Author: "tester", Message: "test"}); err != nil {
		t.Fatalf("Apply(%v): %v", ups, err)
	}
}

func create(n refs.Name, v objects.ID) refs.Update { return refs.Update{Name: n, New: v} }

// want checks that n holds v (zero: that n does not exist).
func want(t *testing.T, b refs.Backend, n refs.Name, v objects.ID) {
	t.Helper()
	got, err := b.Read(bg, n)
	if v.IsZero() {
		if !errors.Is(err, refs.ErrNotFound) {
			t.Fatalf("Read(%s) = %s, %v; want an error wrapping ErrNotFound", n, got.Short(), err)
		}
		return
	}
	if err != nil {
		t.Fatalf("Read(%s): %v", n, err)
	}
	if got != v {
		t.Fatalf("Read(%s) = %s, want %s", n, got.Short(), v.Short())
	}
}

func names(rs []refs.Ref) []refs.Name {
	out := make([]refs.Name, len(rs))
	for i, r := range rs {
		out[i] = r.Name
	}
	return out
}

func list(t *testing.T, b refs.Backend, prefix string) []refs.Ref {
	t.Helper()
	rs, err := b.List(bg, prefix)
	if err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	return rs
}

func stale(t *testing.T, err error, n refs.Name, got objects.ID) {
	t.Helper()
	var se *refs.StaleError
	if !errors.As(err, &se) || !errors.Is(err, refs.ErrStale) {
		t.Fatalf("got %v, want a *refs.StaleError wrapping ErrStale", err)
	}
	if se.Name != n || se.Got != got {
		t.Fatalf("stale error names %s holding %s, want %s holding %s", se.Name, se.Got.Short(), n, got.Short())
	}
	if refs.Retryable(err) {
		t.Fatalf("Retryable(%v) = true for a lost compare", err)
	}
}

func testEmpty(t *testing.T, b refs.Backend, _ Options) {
	want(t, b, main, objects.ZeroID)
	if rs := list(t, b, ""); len(rs) != 0 {
		t.Fatalf("List of a new repository: %v", rs)
	}
	h, err := b.Head(bg)
	if err != nil {
		t.Fatalf("Head: %v", err)
	}
	if h.Symbolic != main || !h.ID.IsZero() {
		t.Fatalf("Head of a new repository = %+v, want the unborn %s", h, main)
	}
	if rl, err := b.Reflog(bg, main); err != nil || len(rl) != 0 {
		t.Fatalf("Reflog of an absent ref = %v, %v; want none", rl, err)
	}
}

func testCreateReadList(t *testing.T, b refs.Backend, _ Options) {
	apply(t, b, create(main, id(1)), create(dev, id(2)), create(v1, id(3)), create("refs/proofs/x", id(4)))
	want(t, b, main, id(1))
	want(t, b, dev, id(2))
	want(t, b, v1, id(3))
	h, err := b.Head(bg)
	if err != nil || h.Symbolic != main || h.ID != id(1) {
		t.Fatalf("Head = %+v, %v; want %s at %s", h, err, main, id(1).Short())
	}
	for _, c := range []struct {
		prefix string
		want   []refs.Name
	}{
		{"", []refs.Name{dev, main, "refs/proofs/x", v1}},
		{"refs/", []refs.Name{dev, main, "refs/proofs/x", v1}},
		{"refs/heads/", []refs.Name{dev, main}},
		{"refs/heads/m", []refs.Name{main}},
		{"refs/tags/", []refs.Name{v1}},
		{"refs/nothing/", nil},
	} {
		rs := list(t, b, c.prefix)
		if got := names(rs); !slices.Equal(got, c.want) {
			t.Errorf("List(%q) = %v, want %v", c.prefix, got, c.want)
		}
		for _, r := range rs {
			if r.Name == main && r.ID != id(1) || r.Name == v1 && r.ID != id(3) {
				t.Errorf("List(%q): %s holds %s", c.prefix, r.Name, r.ID.Short())
			}
		}
	}
}

func testCompareAndSwap(t *testing.T, b refs.Backend, _ Options) {
	apply(t, b, create(main, id(1)))
	// creating what exists
	stale(t, b.Apply(bg, []refs.Update{create(main, id(2))}, refs.Entry{}), main, id(1))
	// moving from the wrong value
	stale(t, b.Apply(bg, []refs.Update{{Name: main, Old: id(9), New: id(2)}}, refs.Entry{}), main, id(1))
	// moving what does not exist
	stale(t, b.Apply(bg, []refs.Update{{Name: dev, Old: id(1), New: id(2)}}, refs.Entry{}), dev, objects.ZeroID)
	want(t, b, main, id(1))
	want(t, b, dev, objects.ZeroID)
	apply(t, b, refs.Update{Name: main, Old: id(1), New: id(2)})
	want(t, b, main, id(2))
}

func testAllOrNothing(t *testing.T, b refs.Backend, _ Options) {
	apply(t, b, create(main, id(1)), create(dev, id(2)))
	err := b.Apply(bg, []refs.Update{
		{Name: main, Old: id(1), New: id(10)},
		create(v1, id(11)),
		{Name: dev, Old: id(9), New: id(12)}, // stale
	}, refs.Entry{Message: "half"})
	stale(t, err, dev, id(2))
	want(t, b, main, id(1))
	want(t, b, dev, id(2))
	want(t, b, v1, objects.ZeroID)
	if rl, err := b.Reflog(bg, main); err != nil || len(rl) != 1 {
		t.Fatalf("Reflog(%s) after a refused Apply = %v, %v; want its one creation", main, rl, err)
	}
	// the first stale ref in the order given is named
	err = b.Apply(bg, []refs.Update{{Name: main, Old: id(8), New: id(3)}, {Name: dev, Old: id(9), New: id(3)}}, refs.Entry{})
	stale(t, err, main, id(1))
}

func testForce(t *testing.T, b refs.Backend, _ Options) {
	apply(t, b, create(main, id(1)))
	apply(t, b, refs.Update{Name: main, Old: id(7), New: id(2), Force: true})
	want(t, b, main, id(2))
	apply(t, b, refs.Update{Name: dev, Old: id(7), New: id(3), Force: true})
	want(t, b, dev, id(3))
}

func testDelete(t *testing.T, b refs.Backend, _ Options) {
	apply(t, b, create(main, id(1)), create("refs/heads/team/a", id(2)))
	stale(t, b.Apply(bg, []refs.Update{{Name: main, Old: id(2)}}, refs.Entry{}), main, id(1))
	apply(t, b, refs.Update{Name: main, Old: id(1)}, refs.Update{Name: "refs/heads/team/a", Old: id(2)})
	want(t, b, main, objects.ZeroID)
	want(t, b, "refs/heads/team/a", objects.ZeroID)
	if rs := list(t, b, ""); len(rs) != 0 {
		t.Fatalf("List after deleting every ref: %v", rs)
	}
	if rl, err := b.Reflog(bg, main); err != nil || len(rl) != 0 {
		t.Fatalf("Reflog of a deleted ref = %v, %v; want none", rl, err)
	}
	// a deleted name, and the names its directory held, are free again
	apply(t, b, create("refs/heads/team", id(3)), create(main, id(4)))
	want(t, b, "refs/heads/team", id(3))
	if rl, err := b.Reflog(bg, main); err != nil || len(rl) != 1 || !rl[0].Old.IsZero() || rl[0].New != id(4) {
		t.Fatalf("Reflog of a recreated ref = %v, %v; want only its new creation", rl, err)
	}
}

func testNameConflict(t *testing.T, b refs.Backend, _ Options) {
	apply(t, b, create("refs/heads/a", id(1)), create("refs/heads/b/c", id(2)))
	for _, n := range []refs.Name{"refs/heads/a/b", "refs/heads/b"} {
		err := b.Apply(bg, []refs.Update{create(n, id(3))}, refs.Entry{})
		if !errors.Is(err, refs.ErrConflict) {
			t.Errorf("creating %s beside refs/heads/a and refs/heads/b/c: %v, want ErrConflict", n, err)
		}
		want(t, b, n, objects.ZeroID)
	}
	err := b.Apply(bg, []refs.Update{create("refs/tags/x", id(1)), create("refs/tags/x/y", id(2))}, refs.Entry{})
	if !errors.Is(err, refs.ErrConflict) {
		t.Errorf("creating refs/tags/x and refs/tags/x/y at once: %v, want ErrConflict", err)
	}
	want(t, b, "refs/tags/x", objects.ZeroID)
}

func testSameRefTwice(t *testing.T, b refs.Backend, _ Options) {
	err := b.Apply(bg, []refs.Update{create(main, id(1)), create(main, id(2))}, refs.Entry{})
	if err == nil {
		t.Fatal("Apply with two updates of one ref succeeded")
	}
	want(t, b, main, objects.ZeroID)
}

func testInvalidName(t *testing.T, b refs.Backend, _ Options) {
	for _, n := range []refs.Name{"refs/heads/a..b", "refs/heads/x.lock", "refs/heads/", "../escape", "refs/heads/sp ace"} {
		err := b.Apply(bg, []refs.Update{create(main, id(1)), create(n, id(2))}, refs.Entry{})
		if err == nil {
			t.Errorf("Apply creating %q succeeded", n)
		}
		if _, err := b.Read(bg, n); err == nil || errors.Is(err, refs.ErrNotFound) {
			t.Errorf("Read(%q) = %v, want an error that is not ErrNotFound", n, err)
		}
	}
	want(t, b, main, objects.ZeroID)
}

func testReflog(t *testing.T, b refs.Backend, _ Options) {
	t0 := time.Unix(1_700_000_000, 0)
	steps := []refs.Update{create(main, id(1)), {Name: main, Old: id(1), New: id(2)}, {Name: main, Old: id(9), New: id(3), Force: true}}
	for i, u := range steps {
		e := refs.Entry{Author: fmt.Sprintf("key%d", i), Message: fmt.Sprintf("push %d", i), Time: t0.Add(time.Duration(i) * time.Minute)}
		if err := b.Apply(bg, []refs.Update{u}, e); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	rl, err := b.Reflog(bg, main)
	if err != nil {
		t.Fatal(err)
	}
	if len(rl) != len(steps) {
		t.Fatalf("Reflog has %d entries, want %d: %v", len(rl), len(steps), rl)
	}
	olds := []objects.ID{objects.ZeroID, id(1), id(2)} // a forced update logs the value it replaced
	for i, e := range rl {
		if e.Old != olds[i] || e.New != steps[i].New {
			t.Errorf("entry %d moves %s -> %s, want %s -> %s", i, e.Old.Short(), e.New.Short(), olds[i].Short(), steps[i].New.Short())
		}
		if e.Author != fmt.Sprintf("key%d", i) || e.Message != fmt.Sprintf("push %d", i) || !e.Time.Equal(t0.Add(time.Duration(i)*time.Minute)) {
			t.Errorf("entry %d = %q %q %v", i, e.Author, e.Message, e.Time)
		}
	}
	if rl, err := b.Reflog(bg, dev); err != nil || len(rl) != 0 {
		t.Fatalf("Reflog of a ref never written = %v, %v", rl, err)
	}
	before := time.Now().Add(-time.Second)
	apply(t, b, refs.Update{Name: main, Old: id(3), New: id(4)})
	rl, _ = b.Reflog(bg, main)
	if last := rl[len(rl)-1]; last.Time.Before(before) || last.Time.After(time.Now().Add(time.Second)) {
		t.Errorf("an Apply without a time logged %v, want about now", last.Time)
	}
}

// testOneWinner: of Applies that all expect the same old value, exactly one
// succeeds and every other loses its compare.
func testOneWinner(t *testing.T, b refs.Backend, _ Options) {
	apply(t, b, create(main, id(0)))
	const n = 16
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = b.Apply(bg, []refs.Update{{Name: main, Old: id(0), New: id(100 + i)}, create(refs.Branch(fmt.Sprint("w", i)), id(i))}, refs.Entry{})
		}()
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("Applies %d and %d both moved %s from the same value", winner, i, main)
		case err == nil:
			winner = i
		case refs.Retryable(err):
			// a backend may refuse under contention; the ref is unchanged by it
		case !errors.Is(err, refs.ErrStale):
			t.Fatalf("Apply %d: %v, want success or ErrStale", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no Apply succeeded")
	}
	want(t, b, main, id(100+winner))
	if rs := list(t, b, "refs/heads/w"); len(rs) != 1 || rs[0].Name != refs.Branch(fmt.Sprint("w", winner)) {
		t.Fatalf("refs the losers would have created: %v", names(rs))
	}
}

// testSerialisable: goroutines each move a counter forward by one
// compare-and-swap at a time, retrying lost compares; no increment is lost.
func testSerialisable(t *testing.T, b refs.Backend, _ Options) {
	const workers, each = 4, 10
	value := map[objects.ID]int{}
	for i := 0; i <= workers*each; i++ {
		value[id(i)] = i
	}
	apply(t, b, create(main, id(0)))
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for done := 0; done < each; {
				cur, err := b.Read(bg, main)
				if err != nil {
					errc <- err
					return
				}
				n := value[cur]
				err = b.Apply(bg, []refs.Update{{Name: main, Old: cur, New: id(n + 1)}}, refs.Entry{Author: fmt.Sprint("worker", w)})
				switch {
				case err == nil:
					done++
				case errors.Is(err, refs.ErrStale) || refs.Retryable(err):
				default:
					errc <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	want(t, b, main, id(workers*each))
	rl, err := b.Reflog(bg, main)
	if err != nil {
		t.Fatal(err)
	}
	if len(rl) != workers*each+1 {
		t.Fatalf("Reflog has %d entries, want %d", len(rl), workers*each+1)
	}
	for i, e := range rl {
		if value[e.New] != i || i > 0 && value[e.Old] != i-1 {
			t.Fatalf("reflog entry %d moves %d -> %d", i, value[e.Old], value[e.New])
		}
	}
}

func testCancelled(t *testing.T, b refs.Backend, _ Options) {
	apply(t, b, create(main, id(1)))
	ctx, cancel := context.WithCancel(bg)
	cancel()
	err := b.Apply(ctx, []refs.Update{{Name: main, Old: id(1), New: id(2)}, create(dev, id(3))}, refs.Entry{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Apply with a cancelled context: %v, want context.Canceled", err)
	}
	want(t, b, main, id(1))
	want(t, b, dev, objects.ZeroID)
	if _, err := b.Read(ctx, main); !errors.Is(err, context.Canceled) {
		t.Errorf("Read with a cancelled context: %v", err)
	}
	if _, err := b.List(ctx, ""); !errors.Is(err, context.Canceled) {
		t.Errorf("List with a cancelled context: %v", err)
	}
}

func testUnavailable(t *testing.T, b refs.Backend, opts Options) {
	if opts.Unavailable == nil {
		t.Skip("the backend cannot be made unavailable (Options.Unavailable)")
	}
	apply(t, b, create(main, id(1)))
	restore := opts.Unavailable(t)
	err := b.Apply(bg, []refs.Update{{Name: main, Old: id(1), New: id(2)}}, refs.Entry{})
	restore()
	if err == nil || !refs.Retryable(err) {
		t.Fatalf("Apply on an unavailable store: %v, want an error refs.Retryable reports", err)
	}
	if errors.Is(err, refs.ErrStale) || errors.Is(err, refs.ErrNotFound) {
		t.Fatalf("Apply on an unavailable store: %v, classified as stale or not found", err)
	}
	want(t, b, main, id(1))
	apply(t, b, refs.Update{Name: main, Old: id(1), New: id(2)})
	want(t, b, main, id(2))
}
