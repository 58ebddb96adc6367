package repo

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fed-vcs/fed/objects"
)

// FuzzDecodeIndex: the index decoder never panics, and what it accepts
// encodes back to the same bytes.
func FuzzDecodeIndex(f *testing.F) {
	f.Add(encodeIndex(&Index{}))
	f.Add(encodeIndex(&Index{Entries: []IndexEntry{
		{Path: "a.safetensors", Mode: objects.ModeFile, Kind: objects.KindModel, ID: objects.ID{1}, Size: 10, MTime: 5, CTime: 6, Ino: 7},
		{Path: "d/b.txt", Mode: objects.ModeExec, Kind: objects.KindBlob, Stage: 2, ID: objects.ID{2}},
	}}))
	f.Add([]byte("FIDX"))
	f.Fuzz(func(t *testing.T, b []byte) {
		idx, err := decodeIndex(b)
		if err != nil {
			return
		}
		if again := encodeIndex(idx); !bytes.Equal(again, b) {
			t.Fatalf("accepted index re-encodes differently")
		}
	})
}

// FuzzResolve feeds revision strings to Resolve: it never panics, and
// whatever it resolves is a commit of the repository.
func FuzzResolve(f *testing.F) {
	for _, s := range []string{"HEAD", "main~1", "HEAD^2", "@{1}", "main@{0}~1", "@{-1}", "stash@{0}",
		"@{", "a@{x}", "@{-0}", "@{99999999999999999999}", "HEAD:a.txt", "v1^{}", "..", "@"} {
		f.Add(s)
	}
	r, _, _ := historyRepo(f, f.TempDir())
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, rev string) {
		id, err := r.Resolve(ctx, rev)
		if err != nil {
			return
		}
		if _, err := objects.ReadCommit(ctx, r.Objects, id); err != nil {
			t.Fatalf("Resolve(%q) = %s, not a commit: %v", rev, id.Short(), err)
		}
	})
}

// FuzzPrivateMarks: .fed/private either parses or is refused naming the
// file, and what parses is written back as the same set.
func FuzzPrivateMarks(f *testing.F) {
	id := objects.Sum([]byte("w"))
	f.Add([]byte(id.String() + " http://h/lab/m\n"))
	f.Add([]byte(id.String() + " http://h/a\n" + id.String() + " http://h/b\n"))
	f.Add([]byte("zz http://h\n"))
	f.Add([]byte(id.String() + "\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := &Repo{Dir: t.TempDir()}
		if err := os.WriteFile(filepath.Join(r.Dir, marksFile), b, 0o644); err != nil {
			t.Fatal(err)
		}
		marks, err := r.PrivateMarks()
		if err != nil {
			return
		}
		r2 := &Repo{Dir: t.TempDir()}
		for id, urls := range marks {
			for _, u := range urls {
				if strings.ContainsAny(u, "\n") {
					t.Fatalf("url %q with a newline parsed", u)
				}
				if err := r2.AddPrivateMarks([]objects.ID{id}, u); err != nil {
					t.Fatal(err)
				}
			}
		}
		again, err := r2.PrivateMarks()
		if err != nil {
			t.Fatalf("marks written back do not parse: %v", err)
		}
		for id, urls := range marks {
			for _, u := range urls {
				if !slices.Contains(again[id], u) {
					t.Fatalf("mark %s %q lost", id.Short(), u)
				}
			}
		}
	})
}
