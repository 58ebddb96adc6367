package refs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fed-vcs/fed/objects"
	"github.com/google/go-cmp/cmp"
)

// newStore returns a fresh Store with HEAD pointing to refs/heads/main.
func newStore(t *testing.T) *Store {
	t.Helper()
	s, err := Init(filepath.Join(t.TempDir(), ".fed"), Branch("main"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustUpdate(t *testing.T, s *Store, n Name, old, new objects.ID) {
	t.Helper()
	if err := s.Update(n, old, new, Entry{Message: "test"}); err != nil {
		t.Fatalf("Update(%s): %v", n, err)
	}
}

func mustRead(t *testing.T, s *Store, n Name) objects.ID {
	t.Helper()
	id, err := s.Read(n)
	if err != nil {
		t.Fatalf("Read(%s): %v", n, err)
	}
	return id
}

func TestOnDiskBytes(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	a, b := testID("a"), testID("b")
	tm := time.Unix(1700000000, 0)
	if err := s.Update(Branch("main"), objects.ZeroID, a, Entry{Author: "alice", Message: "commit (initial): first\nbody", Time: tm}); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateHead(a, b, Entry{Message: "commit: second", Time: tm.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	z := objects.ZeroID.String()
	logMain := z + " " + a.String() + " 1700000000 alice commit (initial): first body\n" +
		a.String() + " " + b.String() + " 1700000060 - commit: second\n"
	want := map[string]string{
		"HEAD":                 "ref: refs/heads/main\n",
		"refs/heads/main":      b.String() + "\n",
		"logs/refs/heads/main": logMain,
		"logs/HEAD":            logMain,
	}
	got := map[string]string{}
	err := filepath.WalkDir(s.Dir(), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		rel, _ := filepath.Rel(s.Dir(), path)
		got[filepath.ToSlash(rel)] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("files under .fed (-want +got):\n%s", diff)
	}
}

func TestUpdateCompareAndSwap(t *testing.T) {
	t.Parallel()
	a, b, c := testID("a"), testID("b"), testID("c")
	z := objects.ZeroID
	tests := []struct {
		name      string
		start     objects.ID // zero: ref absent
		old, new  objects.ID
		wantErr   error
		wantAfter objects.ID // zero: absent
	}{
		{"create", z, z, a, nil, a},
		{"create over existing", b, z, a, ErrStale, b},
		{"move", a, a, b, nil, b},
		{"move from wrong value", a, c, b, ErrStale, a},
		{"move missing ref", z, a, b, ErrStale, z},
		{"same value", a, a, a, nil, a},
		{"delete", a, a, z, nil, z},
		{"delete with wrong value", a, b, z, ErrStale, a},
		{"delete missing", z, a, z, ErrStale, z},
		{"delete missing expecting missing", z, z, z, nil, z},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			n := Branch("topic/x")
			if !tt.start.IsZero() {
				mustUpdate(t, s, n, z, tt.start)
			}
			err := s.Update(n, tt.old, tt.new, Entry{Message: "cas"})
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("Update = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr != nil {
				var se *StaleError
				if !errors.As(err, &se) || se.Name != n || se.Want != tt.old || se.Got != tt.start {
					t.Fatalf("error = %#v, want StaleError{%s, want %s, got %s}", err, n, tt.old, tt.start)
				}
			}
			got, err := s.Read(n)
			if tt.wantAfter.IsZero() {
				if !errors.Is(err, ErrNotFound) {
					t.Fatalf("Read after = %s, %v; want ErrNotFound", got, err)
				}
			} else if err != nil || got != tt.wantAfter {
				t.Fatalf("Read after = %s, %v; want %s", got, err, tt.wantAfter)
			}
			if _, err := os.Stat(s.refPath(n) + ".lock"); !os.IsNotExist(err) {
				t.Fatalf("lock file left behind: %v", err)
			}
		})
	}
}

func TestForceUpdate(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	n := Remote("origin", "main")
	if err := s.Transaction([]Update{{Name: n, New: testID("a"), Force: true}}, Entry{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Transaction([]Update{{Name: n, Old: testID("zzz"), New: testID("b"), Force: true}}, Entry{}); err != nil {
		t.Fatal(err)
	}
	if got := mustRead(t, s, n); got != testID("b") {
		t.Fatalf("Read = %s", got)
	}
	log, err := s.Reflog(n)
	if err != nil || len(log) != 2 || log[1].Old != testID("a") {
		t.Fatalf("reflog = %+v, %v; want second entry from the actual old value", log, err)
	}
}

func TestTransactionAllOrNothing(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	a, b, c := testID("a"), testID("b"), testID("c")
	mustUpdate(t, s, Branch("one"), objects.ZeroID, a)
	mustUpdate(t, s, Branch("two"), objects.ZeroID, a)
	mustUpdate(t, s, Tag("v1"), objects.ZeroID, a)

	err := s.Transaction([]Update{
		{Name: Branch("one"), Old: a, New: b},
		{Name: Branch("new"), Old: objects.ZeroID, New: b},
		{Name: Tag("v1"), Old: a, New: objects.ZeroID},
		{Name: Branch("two"), Old: c, New: b}, // stale
	}, Entry{Message: "batch"})
	var se *StaleError
	if !errors.As(err, &se) || se.Name != Branch("two") || se.Got != a || se.Want != c {
		t.Fatalf("Transaction = %v, want StaleError on refs/heads/two", err)
	}
	want := []Ref{{Branch("one"), a}, {Branch("two"), a}, {Tag("v1"), a}}
	got, err := s.List("")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("refs after failed transaction (-want +got):\n%s", diff)
	}
	for _, n := range []Name{Branch("one"), Branch("two"), Tag("v1")} {
		if log, _ := s.Reflog(n); len(log) != 1 {
			t.Errorf("reflog of %s has %d entries, want 1", n, len(log))
		}
	}
	if log, _ := s.Reflog(Branch("new")); len(log) != 0 {
		t.Errorf("reflog of refs/heads/new has %d entries, want 0", len(log))
	}
	locks, _ := filepath.Glob(filepath.Join(s.Dir(), "refs", "*", "*.lock"))
	if len(locks) != 0 {
		t.Fatalf("locks left: %v", locks)
	}

	// The same transaction with the right value applies every update.
	err = s.Transaction([]Update{
		{Name: Branch("one"), Old: a, New: b},
		{Name: Branch("new"), Old: objects.ZeroID, New: b},
		{Name: Tag("v1"), Old: a, New: objects.ZeroID},
		{Name: Branch("two"), Old: a, New: b},
	}, Entry{Message: "batch"})
	if err != nil {
		t.Fatal(err)
	}
	want = []Ref{{Branch("new"), b}, {Branch("one"), b}, {Branch("two"), b}}
	if got, err = s.List(""); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("refs after transaction (-want +got):\n%s", diff)
	}
	if log, _ := s.Reflog(Tag("v1")); len(log) != 0 {
		t.Errorf("deleted tag kept its reflog: %+v", log)
	}
}

func TestTransactionRejectsDuplicates(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	a := testID("a")
	for _, updates := range [][]Update{
		{{Name: Branch("x"), New: a}, {Name: Branch("x"), New: a}},
		{{Name: HeadName, New: a}, {Name: Branch("main"), New: a}}, // HEAD is main
	} {
		if err := s.Transaction(updates, Entry{}); err == nil || errors.Is(err, ErrStale) {
			t.Errorf("Transaction(%v) = %v, want a duplicate error", updates, err)
		}
	}
	if refs, _ := s.List(""); len(refs) != 0 {
		t.Fatalf("refs created: %v", refs)
	}
}

func TestUpdateRace(t *testing.T) {
	t.Parallel()
	s, err := Init(filepath.Join(t.TempDir(), ".fed"), Branch("main"))
	if err != nil {
		t.Fatal(err)
	}
	s.opts.LockTimeout = time.Minute // losers must see ErrStale, never ErrLocked
	start := testID("start")
	mustUpdate(t, s, Branch("main"), objects.ZeroID, start)

	const n = 50
	errs := make([]error, n)
	var wg sync.WaitGroup
	ready := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-ready
			errs[i] = s.Update(Branch("main"), start, testID(fmt.Sprint(i)), Entry{Message: fmt.Sprint(i)})
		}()
	}
	close(ready)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil:
			if winner >= 0 {
				t.Fatalf("goroutines %d and %d both won", winner, i)
			}
			winner = i
		case !errors.Is(err, ErrStale):
			t.Fatalf("goroutine %d: %v, want ErrStale", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no goroutine won")
	}
	if got := mustRead(t, s, Branch("main")); got != testID(fmt.Sprint(winner)) {
		t.Fatalf("main = %s, want the winner's %s", got, testID(fmt.Sprint(winner)))
	}
	log, err := s.Reflog(Branch("main"))
	if err != nil || len(log) != 2 || log[1].Message != fmt.Sprint(winner) {
		t.Fatalf("reflog = %+v, %v; want create + the winner's move", log, err)
	}
}

// TestTransactionsOppositeOrder runs transactions that name the same refs
// in opposite orders; sorted locking means none waits out its timeout.
func TestTransactionsOppositeOrder(t *testing.T) {
	t.Parallel()
	s, err := Init(filepath.Join(t.TempDir(), ".fed"), Branch("main"))
	if err != nil {
		t.Fatal(err)
	}
	names := []Name{Branch("a"), Branch("b"), Branch("c")}
	var wg sync.WaitGroup
	errc := make(chan error, 40)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				var ups []Update
				for j := range names {
					k := j
					if g%2 == 1 {
						k = len(names) - 1 - j
					}
					ups = append(ups, Update{Name: names[k], New: testID(fmt.Sprint(g, i)), Force: true})
				}
				if err := s.Transaction(ups, Entry{}); err != nil {
					errc <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	// Every transaction wrote one value to all three refs.
	refs, err := s.List("refs/heads/")
	if err != nil || len(refs) != 3 || refs[0].ID != refs[1].ID || refs[1].ID != refs[2].ID {
		t.Fatalf("refs = %v, %v; want three equal", refs, err)
	}
}

func TestHead(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	a, b, c := testID("a"), testID("b"), testID("c")

	h, err := s.Head()
	if err != nil || h != (Head{Symbolic: Branch("main")}) {
		t.Fatalf("Head of new repo = %+v, %v; want unborn main", h, err)
	}
	if _, err := s.Read(HeadName); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Read(HEAD) on unborn branch = %v, want ErrNotFound", err)
	}
	if err := s.UpdateHead(objects.ZeroID, a, Entry{Message: "initial"}); err != nil {
		t.Fatal(err)
	}
	if h, _ := s.Head(); h != (Head{Symbolic: Branch("main"), ID: a}) {
		t.Fatalf("Head = %+v", h)
	}
	if got := mustRead(t, s, HeadName); got != a {
		t.Fatalf("Read(HEAD) = %s, want %s", got, a)
	}

	// Updating the checked-out branch by its own name logs to HEAD too.
	mustUpdate(t, s, Branch("main"), a, b)

	// Switch to a new branch, then detach.
	mustUpdate(t, s, Branch("dev"), objects.ZeroID, c)
	if err := s.SetHead(Head{Symbolic: Branch("dev")}, Entry{Message: "checkout: main to dev"}); err != nil {
		t.Fatal(err)
	}
	if h, _ := s.Head(); h != (Head{Symbolic: Branch("dev"), ID: c}) {
		t.Fatalf("Head after checkout = %+v", h)
	}
	if err := s.SetHead(Head{ID: a}, Entry{Message: "checkout: detach"}); err != nil {
		t.Fatal(err)
	}
	if h, _ := s.Head(); h != (Head{ID: a}) {
		t.Fatalf("Head after detach = %+v", h)
	}
	// A detached HEAD moves itself; branches stay.
	if err := s.UpdateHead(a, b, Entry{Message: "commit on detached"}); err != nil {
		t.Fatal(err)
	}
	if h, _ := s.Head(); h != (Head{ID: b}) {
		t.Fatalf("Head after detached commit = %+v", h)
	}
	if got := mustRead(t, s, Branch("dev")); got != c {
		t.Fatalf("dev moved to %s", got)
	}
	if err := s.UpdateHead(a, c, Entry{}); !errors.Is(err, ErrStale) {
		t.Fatalf("stale UpdateHead = %v, want ErrStale", err)
	}
	if err := s.UpdateHead(b, objects.ZeroID, Entry{}); err == nil {
		t.Fatal("deleting a detached HEAD succeeded")
	}

	var got []string
	log, err := s.Reflog(HeadName)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range log {
		got = append(got, fmt.Sprintf("%s>%s %s", e.Old.Short(), e.New.Short(), e.Message))
	}
	want := []string{
		objects.ZeroID.Short() + ">" + a.Short() + " initial",
		a.Short() + ">" + b.Short() + " test",
		b.Short() + ">" + c.Short() + " checkout: main to dev",
		c.Short() + ">" + a.Short() + " checkout: detach",
		a.Short() + ">" + b.Short() + " commit on detached",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("HEAD reflog (-want +got):\n%s", diff)
	}
	if log, _ := s.Reflog(Branch("dev")); len(log) != 1 {
		t.Fatalf("dev reflog = %+v, want only its creation", log)
	}
}

func TestSwapHead(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	a := testID("a")
	mustUpdate(t, s, Branch("main"), objects.ZeroID, a)
	cur, err := s.Head()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SwapHead(Head{Symbolic: Branch("other")}, Head{ID: a}, Entry{}); !errors.Is(err, ErrStale) {
		t.Fatalf("SwapHead from wrong branch = %v, want ErrStale", err)
	}
	if err := s.SwapHead(Head{ID: a}, Head{ID: a}, Entry{}); !errors.Is(err, ErrStale) {
		t.Fatalf("SwapHead from detached while symbolic = %v, want ErrStale", err)
	}
	if err := s.SwapHead(cur, Head{Symbolic: Branch("feature")}, Entry{}); err != nil {
		t.Fatal(err)
	}
	if h, _ := s.Head(); h != (Head{Symbolic: Branch("feature")}) {
		t.Fatalf("Head = %+v, want unborn feature", h)
	}
	if err := s.SetHead(Head{}, Entry{}); err == nil {
		t.Fatal("SetHead with neither branch nor id succeeded")
	}
	if err := s.SetHead(Head{Symbolic: "MERGE_HEAD"}, Entry{}); err == nil {
		t.Fatal("SetHead to a pseudo-ref succeeded")
	}
}

func TestMalformedFiles(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	bad, err := os.ReadFile("testdata/ref/uppercase")
	if err != nil {
		t.Fatal(err)
	}
	path := s.refPath(Branch("main"))
	if err := os.WriteFile(path, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	check := func(op string, err error, path string) {
		t.Helper()
		var me *MalformedError
		if !errors.As(err, &me) || !errors.Is(err, ErrMalformed) || me.Path != path || !strings.Contains(err.Error(), path) {
			t.Fatalf("%s = %v, want a MalformedError naming %s", op, err, path)
		}
	}
	_, err = s.Read(Branch("main"))
	check("Read", err, path)
	_, err = s.Head()
	check("Head", err, path)
	_, err = s.List("refs/heads/")
	check("List", err, path)
	check("Update", s.Update(Branch("main"), testID("a"), testID("b"), Entry{}), path)

	headPath := s.refPath(HeadName)
	if err := os.WriteFile(headPath, []byte("ref: main\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = s.Head()
	check("Head", err, headPath)
	check("UpdateHead", s.UpdateHead(objects.ZeroID, testID("a"), Entry{}), headPath)
	// Unrelated refs still update, and SetHead repairs HEAD.
	mustUpdate(t, s, Branch("other"), objects.ZeroID, testID("a"))
	if err := s.SetHead(Head{Symbolic: Branch("other")}, Entry{}); err != nil {
		t.Fatal(err)
	}
	if h, err := s.Head(); err != nil || h.ID != testID("a") {
		t.Fatalf("Head after repair = %+v, %v", h, err)
	}

	logPath := s.logPath(Branch("other"))
	if err := os.WriteFile(logPath, []byte("nonsense\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = s.Reflog(Branch("other"))
	check("Reflog", err, logPath)
}

func TestList(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	a := testID("a")
	for _, n := range []Name{Branch("main"), Branch("a/b"), Branch("a-b"), Tag("v1"), Remote("origin", "main"), "refs/proofs/x", "MERGE_HEAD"} {
		mustUpdate(t, s, n, objects.ZeroID, a)
	}
	// Junk that is not a ref is skipped.
	if err := os.WriteFile(filepath.Join(s.Dir(), "refs", "heads", "main~"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.Dir(), "refs", "heads", "held.lock"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		prefix string
		want   []Name
	}{
		{"", []Name{"refs/heads/a-b", "refs/heads/a/b", "refs/heads/main", "refs/proofs/x", "refs/remotes/origin/main", "refs/tags/v1"}},
		{"refs/heads/", []Name{"refs/heads/a-b", "refs/heads/a/b", "refs/heads/main"}},
		{"refs/heads/a", []Name{"refs/heads/a-b", "refs/heads/a/b"}},
		{"refs/remotes/origin/", []Name{"refs/remotes/origin/main"}},
		{"refs/nothing/", nil},
		{"refs/", []Name{"refs/heads/a-b", "refs/heads/a/b", "refs/heads/main", "refs/proofs/x", "refs/remotes/origin/main", "refs/tags/v1"}},
		{"HEAD", nil},
	}
	for _, tt := range tests {
		refs, err := s.List(tt.prefix)
		if err != nil {
			t.Fatalf("List(%q): %v", tt.prefix, err)
		}
		var got []Name
		for _, r := range refs {
			if r.ID != a {
				t.Errorf("List(%q): %s = %s", tt.prefix, r.Name, r.ID)
			}
			got = append(got, r.Name)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("List(%q) (-want +got):\n%s", tt.prefix, diff)
		}
	}
	if got := mustRead(t, s, "MERGE_HEAD"); got != a {
		t.Fatalf("MERGE_HEAD = %s", got)
	}
	if log, _ := s.Reflog("MERGE_HEAD"); len(log) != 0 {
		t.Fatalf("MERGE_HEAD has a reflog: %+v", log)
	}
}

func TestDirectoryConflicts(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	a := testID("a")
	mustUpdate(t, s, Branch("a"), objects.ZeroID, a)
	if err := s.Update(Branch("a/b"), objects.ZeroID, a, Entry{}); !errors.Is(err, ErrConflict) {
		t.Fatalf("create a/b beside a = %v, want ErrConflict", err)
	}
	mustUpdate(t, s, Branch("x/y/z"), objects.ZeroID, a)
	if err := s.Update(Branch("x/y"), objects.ZeroID, a, Entry{}); !errors.Is(err, ErrConflict) {
		t.Fatalf("create x/y over x/y/z = %v, want ErrConflict", err)
	}
	err := s.Transaction([]Update{{Name: Branch("p"), New: a}, {Name: Branch("p/q"), New: a}}, Entry{})
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("create p and p/q together = %v, want ErrConflict", err)
	}
	// Deleting x/y/z prunes its directories, so x/y can then be created.
	mustUpdate(t, s, Branch("x/y/z"), a, objects.ZeroID)
	if _, err := os.Stat(filepath.Join(s.Dir(), "refs", "heads", "x")); !os.IsNotExist(err) {
		t.Fatalf("refs/heads/x not pruned: %v", err)
	}
	if _, err := os.Stat(filepath.Join(s.Dir(), "refs", "heads")); err != nil {
		t.Fatalf("refs/heads pruned: %v", err)
	}
	mustUpdate(t, s, Branch("x/y"), objects.ZeroID, a)
	if _, err := s.Read(Branch("a/b")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Read(a/b) under a file = %v, want ErrNotFound", err)
	}
}

func TestInvalidNames(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	for _, n := range []Name{"refs/heads/../../x", "refs/heads/x.lock", "main", ""} {
		if err := s.Update(n, objects.ZeroID, testID("a"), Entry{}); !errors.Is(err, ErrBadName) {
			t.Errorf("Update(%q) = %v, want ErrBadName", n, err)
		}
		if _, err := s.Read(n); !errors.Is(err, ErrBadName) {
			t.Errorf("Read(%q) = %v, want ErrBadName", n, err)
		}
	}
	if _, err := Init(t.TempDir(), "main"); err == nil {
		t.Error("Init with a short branch name succeeded")
	}
	if _, err := Init(s.Dir(), Branch("main")); !errors.Is(err, os.ErrExist) {
		t.Errorf("Init twice = %v, want ErrExist", err)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("Open of a missing directory succeeded")
	}
}

func TestUpdateLockedRef(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), ".fed")
	if _, err := Init(dir, Branch("main")); err != nil {
		t.Fatal(err)
	}
	s, err := OpenWith(dir, Options{LockTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	unlock, err := LockFile(s.refPath(Branch("main"))+".lock", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = s.Update(Branch("main"), objects.ZeroID, testID("a"), Entry{})
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "refs/heads/main") {
		t.Fatalf("Update of a locked ref = %v, want ErrLocked naming refs/heads/main", err)
	}
	if d := time.Since(start); d < 100*time.Millisecond || d > 2*time.Second {
		t.Fatalf("waited %v, want about the 100ms timeout", d)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	mustUpdate(t, s, Branch("main"), objects.ZeroID, testID("a"))
}
