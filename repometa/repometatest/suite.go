package repometatest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/repometa"
)

// Options adapt the conformance suite to a backend.
type Options struct {
	// Reopen returns a new Store of the repository newStore made last, as
	// another process would open it. Nil skips the durability checks.
	Reopen func(t *testing.T) repometa.Store
	// NoZK says the backend keeps no zk settings (ZK and UpdateZK return
	// errors.ErrUnsupported).
	NoZK bool
	// Unavailable makes the backend newStore made last unable to answer
	// and returns the function that makes it available again. Nil skips
	// the test of unavailability.
	Unavailable func(t *testing.T) (restore func())
}

// Run runs the conformance suite against stores made by newStore, which
// must create a new repository with settings initial and return its
// Store each time it is called.
func Run(t *testing.T, newStore func(t *testing.T, initial repometa.Settings) repometa.Store, opts Options) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s repometa.Store, opts Options)
	}{
		{"Settings", testSettings},
		{"Update", testUpdate},
		{"UpdateRefused", testUpdateRefused},
		{"ConcurrentUpdates", testConcurrentUpdates},
		{"ZK", testZK},
		{"PushLog", testPushLog},
		{"IDs", testIDs},
		{"Cancelled", testCancelled},
		{"Unavailable", testUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newStore(t, Initial()), opts)
		})
	}
}

var bg = context.Background()

// Initial returns the settings each repository of the suite is created
// with: lists out of order and with a duplicate.
func Initial() repometa.Settings {
	return repometa.Settings{
		Owner:         "OwnerKey111111111111111111111111111111111111",
		Public:        true,
		Protected:     []string{"refs/heads/main", "refs/heads/b", "refs/heads/main"},
		Collaborators: []string{"Zed", "Amy"},
		Created:       time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	}
}

func normal() repometa.Settings {
	s := Initial()
	s.Protected = []string{"refs/heads/b", "refs/heads/main"}
	s.Collaborators = []string{"Amy", "Zed"}
	return s
}

func same(t *testing.T, what string, got, want repometa.Settings) {
	t.Helper()
	if got.Owner != want.Owner || got.Public != want.Public || got.NFT != want.NFT || !got.Created.Equal(want.Created) ||
		!slices.Equal(got.Protected, want.Protected) || !slices.Equal(got.Collaborators, want.Collaborators) ||
		got.Protected == nil || got.Collaborators == nil {
		t.Fatalf("%s = %+v, want %+v", what, got, want)
	}
}

func get(t *testing.T, s repometa.Store) repometa.Settings {
	t.Helper()
	got, err := s.Settings(bg)
	if err != nil {
		t.Fatalf("Settings: %v", err)
	}
	return got
}

func reopen(t *testing.T, opts Options) repometa.Store {
	if opts.Reopen == nil {
		return nil
	}
	return opts.Reopen(t)
}

func testSettings(t *testing.T, s repometa.Store, opts Options) {
	same(t, "Settings of a new repository", get(t, s), normal())
	got := get(t, s)
	got.Protected[0] = "changed by the caller"
	got.Collaborators[0] = "changed by the caller"
	same(t, "Settings after the caller changed a copy", get(t, s), normal())
	if r := reopen(t, opts); r != nil {
		same(t, "Settings after reopening", get(t, r), normal())
	}
}

func testUpdate(t *testing.T, s repometa.Store, opts Options) {
	want := normal()
	want.Public = false
	want.NFT = "MintKey"
	want.Protected = []string{"refs/heads/main", "refs/tags/v1"}
	want.Collaborators = []string{"Amy", "Bob", "Zed"}
	got, err := s.UpdateSettings(bg, func(m *repometa.Settings) error {
		same(t, "the settings change is given", *m, normal())
		m.Public = false
		m.NFT = "MintKey"
		m.Protected = append(m.Protected[1:], "refs/tags/v1", "refs/heads/main")
		m.Collaborators = append(m.Collaborators, "Bob", "Amy")
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateSettings: %v", err)
	}
	same(t, "UpdateSettings' result", got, want)
	same(t, "Settings after UpdateSettings", get(t, s), want)
	if r := reopen(t, opts); r != nil {
		same(t, "Settings after reopening", get(t, r), want)
	}
	// emptied lists stay lists
	want.Protected, want.Collaborators, want.NFT = []string{}, []string{}, ""
	got, err = s.UpdateSettings(bg, func(m *repometa.Settings) error {
		m.Protected, m.Collaborators, m.NFT = nil, nil, ""
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	same(t, "settings with empty lists", got, want)
	same(t, "Settings with empty lists", get(t, s), want)
}

func testUpdateRefused(t *testing.T, s repometa.Store, opts Options) {
	refused := errors.New("refused by change")
	_, err := s.UpdateSettings(bg, func(m *repometa.Settings) error {
		m.Public = false
		m.Collaborators = append(m.Collaborators, "Eve")
		return refused
	})
	if !errors.Is(err, refused) {
		t.Fatalf("UpdateSettings with a refusing change: %v, want its error", err)
	}
	same(t, "Settings after a refused change", get(t, s), normal())
	if r := reopen(t, opts); r != nil {
		same(t, "Settings after reopening", get(t, r), normal())
	}
}

func testConcurrentUpdates(t *testing.T, s repometa.Store, _ Options) {
	const n = 12
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.UpdateSettings(bg, func(m *repometa.Settings) error {
				m.Collaborators = append(m.Collaborators, fmt.Sprintf("key%02d", i))
				return nil
			})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("update %d: %v", i, err)
		}
	}
	got := get(t, s).Collaborators
	if len(got) != n+2 {
		t.Fatalf("after %d concurrent additions the collaborators are %v: updates were lost", n, got)
	}
}

func testZK(t *testing.T, s repometa.Store, opts Options) {
	if opts.NoZK {
		if _, err := s.ZK(bg); !errors.Is(err, errors.ErrUnsupported) {
			t.Fatalf("ZK of a store without zk settings: %v, want errors.ErrUnsupported", err)
		}
		if _, err := s.UpdateZK(bg, map[string]string{"zk.linf": "1"}, nil); !errors.Is(err, errors.ErrUnsupported) {
			t.Fatalf("UpdateZK of a store without zk settings: %v, want errors.ErrUnsupported", err)
		}
		return
	}
	zk, err := s.ZK(bg)
	if err != nil || len(zk) != 0 {
		t.Fatalf("ZK of a new repository = %v, %v; want none", zk, err)
	}
	var seen map[string]string
	got, err := s.UpdateZK(bg, map[string]string{"zk.linf": "0.5", "zk.chunk": "4096"}, func(m map[string]string) error {
		seen = maps.Clone(m)
		return nil
	})
	want := map[string]string{"zk.linf": "0.5", "zk.chunk": "4096"}
	if err != nil || !maps.Equal(got, want) || !maps.Equal(seen, want) {
		t.Fatalf("UpdateZK = %v, %v (check saw %v); want %v", got, err, seen, want)
	}
	refused := errors.New("bad bound")
	_, err = s.UpdateZK(bg, map[string]string{"zk.linf": "", "zk.l2": "x"}, func(m map[string]string) error {
		seen = maps.Clone(m)
		return refused
	})
	if !errors.Is(err, refused) {
		t.Fatalf("UpdateZK refused by check: %v, want its error", err)
	}
	if w := map[string]string{"zk.chunk": "4096", "zk.l2": "x"}; !maps.Equal(seen, w) {
		t.Fatalf("check saw %v, want the merged %v", seen, w)
	}
	if zk, err := s.ZK(bg); err != nil || !maps.Equal(zk, want) {
		t.Fatalf("ZK after a refused change = %v, %v; want %v", zk, err, want)
	}
	got, err = s.UpdateZK(bg, map[string]string{"zk.linf": ""}, nil)
	want = map[string]string{"zk.chunk": "4096"}
	if err != nil || !maps.Equal(got, want) {
		t.Fatalf("UpdateZK removing zk.linf = %v, %v; want %v", got, err, want)
	}
	if r := reopen(t, opts); r != nil {
		if zk, err := r.ZK(bg); err != nil || !maps.Equal(zk, want) {
			t.Fatalf("ZK after reopening = %v, %v; want %v", zk, err, want)
		}
	}
}

func testPushLog(t *testing.T, s repometa.Store, opts Options) {
	if l, err := s.PushLog(bg); err != nil || len(l) != 0 {
		t.Fatalf("PushLog of a new repository = %q, %v", l, err)
	}
	entries := [][]byte{[]byte(`{"n":1}`), []byte(`{"n":2,"s":"é"}`), []byte(`{"n":3}`)}
	for _, e := range entries {
		if err := s.AppendPushLog(bg, e); err != nil {
			t.Fatalf("AppendPushLog(%s): %v", e, err)
		}
	}
	check := func(what string, s repometa.Store) {
		l, err := s.PushLog(bg)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if !slices.EqualFunc(l, entries, func(a, b []byte) bool { return string(a) == string(b) }) {
			t.Fatalf("%s = %q, want %q", what, l, entries)
		}
	}
	check("PushLog", s)
	if r := reopen(t, opts); r != nil {
		check("PushLog after reopening", r)
	}
}

func id(n int) objects.ID { return objects.Sum(fmt.Appendf(nil, "repometatest %d", n)) }

func testIDs(t *testing.T, s repometa.Store, opts Options) {
	for _, l := range []repometa.IDList{repometa.Withheld, repometa.Private} {
		if m, err := s.IDs(bg, l); err != nil || len(m) != 0 {
			t.Fatalf("IDs(%s) of a new repository = %v, %v", l, m, err)
		}
	}
	if err := s.AddIDs(bg, repometa.Withheld, []objects.ID{id(1), id(2), id(1)}); err != nil {
		t.Fatal(err)
	}
	before, err := s.IDs(bg, repometa.Withheld)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AddIDs(bg, repometa.Withheld, []objects.ID{id(2), id(3)}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddIDs(bg, repometa.Private, []objects.ID{id(9)}); err != nil {
		t.Fatal(err)
	}
	if len(before) != 2 {
		t.Fatalf("a set IDs returned changed under its caller: %v", before)
	}
	check := func(what string, s repometa.Store) {
		w, err := s.IDs(bg, repometa.Withheld)
		if err != nil || !maps.Equal(w, map[objects.ID]bool{id(1): true, id(2): true, id(3): true}) {
			t.Fatalf("%s: withheld = %v, %v", what, w, err)
		}
		p, err := s.IDs(bg, repometa.Private)
		if err != nil || !maps.Equal(p, map[objects.ID]bool{id(9): true}) {
			t.Fatalf("%s: private = %v, %v", what, p, err)
		}
	}
	check("IDs", s)
	if r := reopen(t, opts); r != nil {
		check("IDs after reopening", r)
	}
	if err := s.AddIDs(bg, "other", []objects.ID{id(1)}); err == nil {
		t.Fatal("AddIDs to a list that does not exist succeeded")
	}
}

func testCancelled(t *testing.T, s repometa.Store, _ Options) {
	ctx, cancel := context.WithCancel(bg)
	cancel()
	called := false
	if _, err := s.UpdateSettings(ctx, func(m *repometa.Settings) error { called = true; m.Public = false; return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("UpdateSettings with a cancelled context: %v", err)
	}
	if err := s.AppendPushLog(ctx, []byte(`{}`)); !errors.Is(err, context.Canceled) {
		t.Fatalf("AppendPushLog with a cancelled context: %v", err)
	}
	if err := s.AddIDs(ctx, repometa.Private, []objects.ID{id(1)}); !errors.Is(err, context.Canceled) {
		t.Fatalf("AddIDs with a cancelled context: %v", err)
	}
	if _, err := s.Settings(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Settings with a cancelled context: %v", err)
	}
	same(t, "Settings after cancelled calls", get(t, s), normal())
	if called {
		t.Error("UpdateSettings called change with a cancelled context")
	}
	if l, _ := s.PushLog(bg); len(l) != 0 {
		t.Errorf("a cancelled AppendPushLog appended %q", l)
	}
	if m, _ := s.IDs(bg, repometa.Private); len(m) != 0 {
		t.Errorf("a cancelled AddIDs added %v", m)
	}
}

func testUnavailable(t *testing.T, s repometa.Store, opts Options) {
	if opts.Unavailable == nil {
		t.Skip("the backend cannot be made unavailable (Options.Unavailable)")
	}
	restore := opts.Unavailable(t)
	_, err := s.UpdateSettings(bg, func(m *repometa.Settings) error { m.Public = false; return nil })
	restore()
	if !errors.Is(err, repometa.ErrUnavailable) {
		t.Fatalf("UpdateSettings on an unavailable store: %v, want ErrUnavailable", err)
	}
	same(t, "Settings once available again", get(t, s), normal())
}
