package repo

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fed-vcs/fed/objects"
)

// commitTree stores a commit whose tree holds a small file at each of
// paths (slash-separated) and returns its id.
func commitTree(t *testing.T, r *Repo, paths ...string) objects.ID {
	t.Helper()
	ctx := context.Background()
	w := objects.NewWriter(ctx, r.Objects)
	files := map[string]TreeFile{}
	for _, p := range paths {
		id, _, err := w.Blob(strings.NewReader("content of " + p + "\n"))
		if err != nil {
			t.Fatal(err)
		}
		files[p] = TreeFile{Mode: objects.ModeFile, Kind: objects.KindBlob, ID: id}
	}
	tree, err := writeTree(w, files)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	c := &objects.Commit{Tree: tree, Time: 1_700_000_000, Message: "names"}
	if err := objects.SignCommit(c, objects.KeypairFromSeed(make([]byte, 32))); err != nil {
		t.Fatal(err)
	}
	id, err := objects.Write(ctx, r.Objects, c)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestCheckoutRefusesReservedNames: a commit whose tree spells .fed so
// that some file system maps it to the repository directory (issue 14,
// item 6) is refused at checkout before anything is written, on every
// system; the repository's own config is untouched.
func TestCheckoutRefusesReservedNames(t *testing.T) {
	ctx := context.Background()
	for _, name := range []string{".FED", ".Fed", ".fed.", ".fe\u200dd", "FED~1"} {
		t.Run(name, func(t *testing.T) {
			r, err := Init(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			config, err := os.ReadFile(filepath.Join(r.Dir, "config"))
			if err != nil {
				t.Fatal(err)
			}
			id := commitTree(t, r, "a.txt", name+"/config")
			_, err = r.Checkout(ctx, id.String(), false)
			if err == nil || !strings.Contains(err.Error(), "would be the repository directory .fed") {
				t.Fatalf("checkout of a tree with %q: %v, want a reserved-name error", name, err)
			}
			if _, err := os.Lstat(filepath.Join(r.Root, "a.txt")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a.txt was written before the refusal: %v", err)
			}
			if got, err := os.ReadFile(filepath.Join(r.Dir, "config")); err != nil || string(got) != string(config) {
				t.Errorf(".fed/config changed: %q, %v", got, err)
			}
		})
	}
}

func TestCollisions(t *testing.T) {
	for _, tc := range []struct {
		paths []string
		want  []string // A, B of the first collision; nil for none
	}{
		{[]string{"Model.bin", "model.bin"}, []string{"Model.bin", "model.bin"}},
		{[]string{"caf\u00e9.txt", "cafe\u0301.txt"}, []string{"cafe\u0301.txt", "caf\u00e9.txt"}},
		{[]string{"A/x", "a/y"}, []string{"A", "a"}},
		{[]string{"dir/README", "dir/readme"}, []string{"dir/README", "dir/readme"}},
		{[]string{"a\u200c.txt", "a.txt"}, []string{"a.txt", "a\u200c.txt"}},
		{[]string{"model.bin", "model.bin.1", "Other/x", "Other/y"}, nil},
		{[]string{"stra\u00dfe", "strasse"}, nil}, // ß does not fold to ss in simple case mapping
	} {
		paths := slices.Sorted(slices.Values(tc.paths))
		cs := collisions(paths)
		switch {
		case tc.want == nil && len(cs) > 0:
			t.Errorf("collisions(%q) = %v, want none", tc.paths, cs[0])
		case tc.want != nil && (len(cs) == 0 || cs[0].A != tc.want[0] || cs[0].B != tc.want[1]):
			t.Errorf("collisions(%q) = %v, want %q", tc.paths, cs, tc.want)
		}
	}
}

// TestCheckoutFoldingFS: on a file system that folds names (here the test
// hook) a tree with colliding paths is refused, naming both, and nothing
// is written; without folding both are checked out.
func TestCheckoutFoldingFS(t *testing.T) {
	ctx := context.Background()
	r, err := Init(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	id := commitTree(t, r, "Model.txt", "model.txt")
	TestFoldingFS = true
	_, err = r.Checkout(ctx, id.String(), false)
	TestFoldingFS = false
	var ce *NameCollisionError
	if !errors.As(err, &ce) || ce.A != "Model.txt" || ce.B != "model.txt" {
		t.Fatalf("checkout on a folding file system: %v, want a NameCollisionError naming both", err)
	}
	if _, err := os.Lstat(filepath.Join(r.Root, "model.txt")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("model.txt written before the refusal: %v", err)
	}
	if probeFolding(r.Dir) {
		t.Skip("this file system folds names: the rest needs one that does not")
	}
	if _, err := r.Checkout(ctx, id.String(), false); err != nil {
		t.Fatalf("checkout where names do not fold: %v", err)
	}
	for _, p := range []string{"Model.txt", "model.txt"} {
		if b, err := os.ReadFile(filepath.Join(r.Root, p)); err != nil || string(b) != "content of "+p+"\n" {
			t.Errorf("%s: %q, %v", p, b, err)
		}
	}
}

// TestCheckoutWindowsNames: on Windows, names it cannot hold are refused
// at checkout with the reason (goos stands in for running there).
func TestCheckoutWindowsNames(t *testing.T) {
	ctx := context.Background()
	defer func(g string) { goos = g }(goos)
	goos = "windows"
	for _, name := range []string{"CON", "nul.txt", "COM1.bin", "trailing.", "a:b", `back\slash`} {
		r, err := Init(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		id := commitTree(t, r, "ok.txt", "dir/"+name)
		_, err = r.Checkout(ctx, id.String(), false)
		var we *WindowsNameError
		if !errors.As(err, &we) || we.Path != "dir/"+name {
			t.Errorf("checkout of %q on Windows: %v, want a WindowsNameError", name, err)
		}
	}
}

// TestExecBitSurvivesCheckout: an executable file checked out, changed,
// added and committed stays executable in the tree, and an unchanged one
// is clean in status. On Windows (make test-windows), where files show no
// executable bit, fed keeps the recorded one instead of reading it back.
func TestExecBitSurvivesCheckout(t *testing.T) {
	ctx := context.Background()
	r, err := Init(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	r.Key = objects.KeypairFromSeed(make([]byte, 32))
	w := objects.NewWriter(ctx, r.Objects)
	blob, _, err := w.Blob(strings.NewReader("#!/bin/sh\necho hi\n"))
	if err != nil {
		t.Fatal(err)
	}
	tree, err := writeTree(w, map[string]TreeFile{"run.sh": {Mode: objects.ModeExec, Kind: objects.KindBlob, ID: blob}})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	c := &objects.Commit{Tree: tree, Time: 1_700_000_000, Message: "exec"}
	if err := objects.SignCommit(c, r.Key); err != nil {
		t.Fatal(err)
	}
	id, err := objects.Write(ctx, r.Objects, c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Checkout(ctx, id.String(), false); err != nil {
		t.Fatal(err)
	}
	st, err := r.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range st {
		if f.Path == "run.sh" && (f.Staged != 0 || f.Worktree != 0) {
			t.Fatalf("run.sh after checkout: staged %q, worktree %q; want clean", f.Staged, f.Worktree)
		}
	}
	if err := os.WriteFile(filepath.Join(r.Root, "run.sh"), []byte("#!/bin/sh\necho changed\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := r.Add(ctx, []string{filepath.Join(r.Root, "run.sh")}, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	head, err := r.Commit(ctx, CommitOptions{Message: "change"})
	if err != nil {
		t.Fatal(err)
	}
	files, err := r.CommitFiles(ctx, head)
	if err != nil {
		t.Fatal(err)
	}
	if got := files["run.sh"].Mode; got != objects.ModeExec {
		t.Errorf("run.sh committed with mode %o, want %o", got, objects.ModeExec)
	}
}
