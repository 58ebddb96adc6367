package repo

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/refs"
)

// notFiles hides that a Backend is the ref files (as refs in a database).
type notFiles struct{ refs.Backend }

// A hosted repository opened over any object store and ref backend reads
// history, revisions and diffs and moves refs through them; what needs a
// directory is refused, saying so, and its lists read empty.
func TestOpenHosted(t *testing.T) {
	ctx := context.Background()
	local := newTestRepo(t)
	model := filepath.Join(local.Root, "m.safetensors")
	writeModel(t, model, 1, map[string]int{"w": 64})
	if err := local.Add(ctx, []string{model}, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	first, err := local.Commit(ctx, CommitOptions{Message: "first"})
	if err != nil {
		t.Fatal(err)
	}
	writeModel(t, model, 2, map[string]int{"w": 64})
	if err := local.Add(ctx, []string{model}, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	second, err := local.Commit(ctx, CommitOptions{Message: "second"})
	if err != nil {
		t.Fatal(err)
	}
	// the hosted copy: objects in memory, refs behind a Backend
	mem := objects.NewMem()
	if err := local.Objects.List(ctx, func(id objects.ID) error {
		b, err := local.Objects.Get(ctx, id)
		if err == nil {
			_, err = mem.Put(ctx, b, objects.PutOptions{})
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	rs, err := refs.Init(filepath.Join(t.TempDir(), "hosted.fed"), refs.Branch("main"))
	if err != nil {
		t.Fatal(err)
	}
	var backend refs.Backend = notFiles{rs.Backend()}
	if err := backend.Apply(ctx, []refs.Update{{Name: refs.Branch("main"), New: second}}, refs.Entry{Message: "push", Time: time.Unix(1_700_000_000, 0)}); err != nil {
		t.Fatal(err)
	}

	h, err := OpenHosted(ctx, "lab/m", mem, backend, map[string]string{"zk.chunk": "16"})
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := h.Config.Get("zk.chunk"); !ok || v != "16" {
		t.Fatalf("zk.chunk = %q, %v; want 16", v, ok)
	}
	for _, rev := range []string{"HEAD", "main", second.String(), "main~1"} {
		id, err := h.Resolve(ctx, rev)
		want := second
		if rev == "main~1" {
			want = first
		}
		if err != nil || id != want {
			t.Fatalf("Resolve(%s) = %s, %v; want %s", rev, id.Short(), err, want.Short())
		}
	}
	log, err := h.Log(ctx, LogOptions{Start: []objects.ID{second}})
	if err != nil || len(log) != 2 || log[0].ID != second || log[1].ID != first {
		t.Fatalf("Log = %v, %v; want second, first", log, err)
	}
	diffs, err := h.Diff(ctx, DiffSide{Commit: first}, DiffSide{Commit: second}, DiffOptions{Stats: true})
	if err != nil || len(diffs) != 1 || diffs[0].Path != "m.safetensors" || len(diffs[0].Tensors) != 1 || !diffs[0].Tensors[0].HasStats {
		t.Fatalf("Diff = %+v, %v; want m.safetensors's tensor w changed, with statistics", diffs, err)
	}
	// refs move through the backend; HEAD does not
	tag := refs.Name("refs/tags/v1")
	if err := h.Refs.Update(tag, objects.ZeroID, first, h.Entry("tag")); err != nil {
		t.Fatal(err)
	}
	if id, err := backend.Read(ctx, tag); err != nil || id != first {
		t.Fatalf("the backend's %s = %s, %v", tag, id.Short(), err)
	}
	if err := h.Refs.UpdateHead(second, first, h.Entry("reset")); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("UpdateHead of a hosted repository: %v, want ErrUnsupported", err)
	}
	// what needs a directory
	if sh, err := h.Shallow(); err != nil || len(sh) != 0 {
		t.Fatalf("Shallow = %v, %v; want none", sh, err)
	}
	if w, err := h.Withheld(); err != nil || len(w) != 0 {
		t.Fatalf("Withheld = %v, %v; want none", w, err)
	}
	if m, err := h.PrivateMarks(); err != nil || len(m) != 0 {
		t.Fatalf("PrivateMarks = %v, %v; want none", m, err)
	}
	_, diskErr := h.Disk()
	_, lockErr := h.Lock(time.Second)
	_, prefixErr := h.ResolvePrefix(second.String()[:8])
	for what, err := range map[string]error{
		"Disk":        diskErr,
		"Lock":        lockErr,
		"AddShallow":  h.AddShallow([]objects.ID{first}),
		"Config.Save": h.Config.Save(),
		"marking":     h.AddPrivateMarks([]objects.ID{first}, "http://x/y"),
		"a short id":  prefixErr,
	} {
		if err == nil {
			t.Errorf("%s of a hosted repository succeeded", what)
		} else if what != "a short id" && !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("%s of a hosted repository: %v, want ErrUnsupported", what, err)
		}
	}
	if !errors.Is(prefixErr, ErrUnknownRev) {
		t.Errorf("a short id in a hosted repository: %v, want ErrUnknownRev", prefixErr)
	}
	if _, err := OpenHosted(ctx, "lab/m", nil, backend, nil); err == nil {
		t.Error("OpenHosted without an object store succeeded")
	}
}
