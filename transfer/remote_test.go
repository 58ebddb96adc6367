package transfer

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/refs"
	"github.com/fed-vcs/fed/repo"
)

func TestPushCloneFetchPull(t *testing.T) {
	ctx := context.Background()
	url, _ := startServer(t)
	url += "/alice/model"
	a := newTestRepo(t)
	c1 := commitSeeded(t, a, map[string][2]int{"w1": {300_000, 1}, "w2": {2_000_000, 2}, "b": {17, 3}}, "v1")
	if err := a.RemoteAdd("origin", url); err != nil {
		t.Fatal(err)
	}
	res, err := Push(ctx, a, PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.New != c1 || !res.Old.IsZero() || res.Stats.Missing == 0 {
		t.Fatalf("first push: %+v", res)
	}
	if got, _ := a.Refs.Read(refs.Remote("origin", "main")); got != c1 {
		t.Fatalf("tracking ref after push = %s, want %s", got.Short(), c1.Short())
	}
	// A second push has nothing to do.
	if res, err := Push(ctx, a, PushOptions{}); err != nil || !res.UpToDate {
		t.Fatalf("repeated push: %+v, %v", res, err)
	}

	// Clone: byte-identical file, same history.
	dir := filepath.Join(t.TempDir(), "b")
	b, err := Clone(ctx, CloneOptions{URL: url, Dir: dir, Key: keyN(2)})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(filepath.Join(a.Root, "model.safetensors"))
	got, err := os.ReadFile(filepath.Join(dir, "model.safetensors"))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("cloned file differs (%v)", err)
	}
	if h, cur, _ := b.Head(); h != c1 || cur != refs.Branch("main") {
		t.Fatalf("clone HEAD = %s on %s", h.Short(), cur)
	}
	if rep, err := b.Fsck(ctx); err != nil || len(rep.Problems) != 0 {
		t.Fatalf("fsck of clone: %v %v", err, rep)
	}

	// A second version: the push sends only the changed tensor.
	c2 := commitSeeded(t, a, map[string][2]int{"w1": {300_000, 4}, "w2": {2_000_000, 2}, "b": {17, 3}}, "v2")
	res2, err := Push(ctx, a, PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res2.Stats.Bytes >= res.Stats.Bytes/2 {
		t.Errorf("second push sent %d bytes, first %d: want only the changed tensor", res2.Stats.Bytes, res.Stats.Bytes)
	}

	// Pull into the clone fast-forwards.
	pr, err := Pull(ctx, b, PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !pr.FastForward || pr.New != c2 {
		t.Fatalf("pull: %+v", pr)
	}
	want, _ = os.ReadFile(filepath.Join(a.Root, "model.safetensors"))
	got, _ = os.ReadFile(filepath.Join(dir, "model.safetensors"))
	if !bytes.Equal(got, want) {
		t.Fatal("pulled file differs")
	}
	if pr.Fetch.Stats.Objects == 0 || pr.Fetch.Stats.Objects >= pr.Fetch.Stats.Planned+1 && pr.Fetch.Stats.Planned > 20 {
		t.Errorf("pull fetch stats %+v", pr.Fetch.Stats)
	}
	if pr, err := Pull(ctx, b, PullOptions{}); err != nil || !pr.UpToDate {
		t.Fatalf("second pull: %+v %v", pr, err)
	}
	if rep, err := b.Fsck(ctx); err != nil || len(rep.Problems) != 0 {
		t.Fatalf("fsck after pull: %v %v", err, rep)
	}
}

func TestPushRejectsNonFastForwardAndPullDiverged(t *testing.T) {
	ctx := context.Background()
	url, _ := startServer(t)
	url += "/team/m"
	a := newTestRepo(t)
	commitModel(t, a, 1, map[string]int{"w": 1000}, "base")
	a.RemoteAdd("origin", url)
	if _, err := Push(ctx, a, PushOptions{}); err != nil {
		t.Fatal(err)
	}
	b, err := Clone(ctx, CloneOptions{URL: url, Dir: filepath.Join(t.TempDir(), "b"), Key: a.Key})
	if err != nil {
		t.Fatal(err)
	}
	b.Now = a.Now
	commitModel(t, a, 2, map[string]int{"w": 1000}, "from a")
	commitModel(t, b, 3, map[string]int{"w": 1000}, "from b")
	if _, err := Push(ctx, a, PushOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = Push(ctx, b, PushOptions{})
	if !errors.Is(err, ErrRejected) {
		t.Fatalf("push of a diverged branch: %v, want ErrRejected", err)
	}
	if _, err := Pull(ctx, b, PullOptions{}); !errors.Is(err, ErrDiverged) {
		t.Fatalf("pull of diverged branches: %v, want ErrDiverged", err)
	}
	// The owner may force (with the lease of the value it fetched).
	res, err := Push(ctx, b, PushOptions{Force: true})
	if err != nil {
		t.Fatalf("forced push: %v", err)
	}
	bh, _, _ := b.Head()
	if res.New != bh {
		t.Fatalf("forced push moved to %s", res.New.Short())
	}
}

func TestShallowClone(t *testing.T) {
	ctx := context.Background()
	url, _ := startServer(t)
	url += "/alice/deep"
	a := newTestRepo(t)
	a.RemoteAdd("origin", url)
	var last objects.ID
	for i := uint64(1); i <= 3; i++ {
		last = commitModel(t, a, i, map[string]int{"w": 200_000}, "v")
	}
	if _, err := Push(ctx, a, PushOptions{}); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "light")
	b, err := Clone(ctx, CloneOptions{URL: url, Dir: dir, Depth: 1})
	if err != nil {
		t.Fatal(err)
	}
	sh, err := b.Shallow()
	if err != nil || len(sh) != 1 || !sh[last] {
		t.Fatalf("shallow list %v, %v; want just %s", sh, err, last.Short())
	}
	c, _ := objects.ReadCommit(ctx, b.Objects, last)
	if ok, _ := b.Objects.Has(ctx, c.Parents[0]); ok {
		t.Fatal("depth-1 clone holds the parent commit")
	}
	// Only the latest model: the store holds one version of the tensor.
	n := 0
	b.Objects.List(ctx, func(objects.ID) error { n++; return nil })
	full := 0
	a.Objects.List(ctx, func(objects.ID) error { full++; return nil })
	if n*2 > full {
		t.Errorf("shallow clone holds %d objects, full repository %d", n, full)
	}
	want, _ := os.ReadFile(filepath.Join(a.Root, "model.safetensors"))
	got, _ := os.ReadFile(filepath.Join(dir, "model.safetensors"))
	if !bytes.Equal(got, want) {
		t.Fatal("shallow clone checked out other bytes")
	}
	// Deepening brings exactly the objects the clone lacks: afterwards it
	// holds what the full repository holds, and nothing came twice.
	before := n
	res, err := Fetch(ctx, b, FetchOptions{Deepen: true})
	if err != nil {
		t.Fatalf("fetch --unshallow: %v", err)
	}
	after := 0
	b.Objects.List(ctx, func(objects.ID) error { after++; return nil })
	if after != full || res.Stats.Objects != full-before {
		t.Fatalf("after deepening: %d objects (full %d), %d received (want %d)", after, full, res.Stats.Objects, full-before)
	}
	if sh, err := b.Shallow(); err != nil || len(sh) != 0 {
		t.Fatalf("shallow list after unshallowing: %v %v", sh, err)
	}
	if _, err := Fetch(ctx, b, FetchOptions{Deepen: true}); !errors.Is(err, ErrNotShallow) {
		t.Fatalf("deepening a complete repository: %v", err)
	}
	// Pushing on top of a (formerly) shallow clone works.
	b.Key = a.Key
	b.Now = a.Now
	next := commitModel(t, b, 9, map[string]int{"w": 200_000}, "on shallow")
	if _, err := Push(ctx, b, PushOptions{}); err != nil {
		t.Fatalf("push from shallow clone: %v", err)
	}
	if _, err := Pull(ctx, a, PullOptions{}); err != nil {
		t.Fatal(err)
	}
	if h, _, _ := a.Head(); h != next {
		t.Fatalf("full repository at %s after pull, want %s", h.Short(), next.Short())
	}
}

// TestClonePreparesFiles checks the files a clone writes while its
// objects arrive: models and plain files in subdirectories, the same
// content at two paths, a large blob; every file byte-identical, the
// working tree clean, no temporary file left.
func TestClonePreparesFiles(t *testing.T) {
	ctx := context.Background()
	url, _ := startServer(t)
	url += "/team/prepared"
	a := newTestRepo(t)
	writeSeeded(t, filepath.Join(a.Root, "model.safetensors"), map[string][2]int{"w1": {1_500_000, 1}, "w2": {20_000, 2}})
	os.MkdirAll(filepath.Join(a.Root, "sub", "dir"), 0o755)
	m, _ := os.ReadFile(filepath.Join(a.Root, "model.safetensors"))
	os.WriteFile(filepath.Join(a.Root, "sub", "dir", "copy.safetensors"), m, 0o644)
	big := make([]byte, 3<<20)
	for i := range big {
		big[i] = byte(i*7 + i>>9)
	}
	os.WriteFile(filepath.Join(a.Root, "sub", "data.bin"), big, 0o644)
	os.WriteFile(filepath.Join(a.Root, "notes.txt"), []byte("hello\n"), 0o644)
	if err := a.Add(ctx, []string{a.Root}, repo.AddOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Commit(ctx, repo.CommitOptions{Message: "files"}); err != nil {
		t.Fatal(err)
	}
	a.RemoteAdd("origin", url)
	if _, err := Push(ctx, a, PushOptions{}); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "b")
	b, err := Clone(ctx, CloneOptions{URL: url, Dir: dir, Key: keyN(2)})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"model.safetensors", "sub/dir/copy.safetensors", "sub/data.bin", "notes.txt"} {
		want, _ := os.ReadFile(filepath.Join(a.Root, p))
		got, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: cloned file differs (%v)", p, err)
		}
	}
	if st, err := b.Status(ctx); err != nil || len(st) != 0 {
		t.Errorf("status of the clone: %+v %v", st, err)
	}
	noTempFiles(t, b) // and none left registered: each is a temporary file
	// the large files, one per distinct content: the model (twice) and
	// data.bin; notes.txt is too small to be worth it
	if b.PrebuiltUsed() != 2 {
		t.Errorf("%d files came from prepared ones, want 2", b.PrebuiltUsed())
	}
}

// TestPushWithoutRemote: a push names a configured remote; a removed one
// gives repo.ErrNoRemote and sends nothing.
func TestPushWithoutRemote(t *testing.T) {
	r := newTestRepo(t)
	commitModel(t, r, 1, map[string]int{"w": 10}, "v1")
	if err := r.RemoteAdd("origin", "http://127.0.0.1:1/a/b"); err != nil {
		t.Fatal(err)
	}
	if err := r.RemoteRemove("origin"); err != nil {
		t.Fatal(err)
	}
	if _, err := Push(context.Background(), r, PushOptions{}); !errors.Is(err, repo.ErrNoRemote) {
		t.Fatalf("push without remote: %v, want ErrNoRemote", err)
	}
}
