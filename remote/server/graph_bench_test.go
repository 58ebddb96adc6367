package server

import (
	"context"
	"fmt"
	"testing"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/remote"
	"github.com/fed-vcs/fed/repometa"
)

// benchHistory stores a history of n commits in a disk store, each
// changing one of 64 small files in 8 directories (one chunk each), and
// returns the store and the commits oldest first.
func benchHistory(b *testing.B, n int) (*objects.DiskStore, []objects.ID) {
	ctx := context.Background()
	st, err := objects.OpenDisk(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	st.BeginBatch()
	files := make([]objects.ID, 64)
	put := func(o objects.Object) objects.ID {
		id, err := objects.Write(ctx, st, o)
		if err != nil {
			b.Fatal(err)
		}
		return id
	}
	blob := func(s string) objects.ID {
		c := put(&objects.Chunk{Data: []byte(s)})
		return put(&objects.Blob{Size: uint64(len(s)), Chunks: []objects.ChunkRef{{ID: c, Size: uint64(len(s))}}})
	}
	for i := range files {
		files[i] = blob(fmt.Sprint("file ", i, " version 0"))
	}
	var commits []objects.ID
	parent := objects.ZeroID
	for c := 0; c < n; c++ {
		files[c%64] = blob(fmt.Sprint("file ", c%64, " version ", c))
		var top objects.Tree
		for d := 0; d < 8; d++ {
			var sub objects.Tree
			for f := 0; f < 8; f++ {
				sub.Entries = append(sub.Entries, objects.TreeEntry{Name: fmt.Sprint("f", f), Mode: objects.ModeFile, Kind: objects.KindBlob, ID: files[d*8+f]})
			}
			top.Entries = append(top.Entries, objects.TreeEntry{Name: fmt.Sprint("d", d), Mode: objects.ModeDir, Kind: objects.KindTree, ID: put(&sub)})
		}
		cm := &objects.Commit{Tree: put(&top), Time: int64(c), Message: fmt.Sprint("c", c)}
		if !parent.IsZero() {
			cm.Parents = []objects.ID{parent}
		}
		parent = put(cm)
		commits = append(commits, parent)
	}
	if err := st.EndBatch(); err != nil {
		b.Fatal(err)
	}
	return st, commits
}

// BenchmarkPlanHistory: the plan of a fetch of 1000 commits onto a
// client holding the first 500, and a clone of them all.
func BenchmarkPlanHistory(b *testing.B) {
	st, commits := benchHistory(b, 1000)
	ctx := context.Background()
	tip := commits[len(commits)-1]
	b.Run("fetch", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := makePlan(ctx, st, &remote.PlanRequest{Want: []objects.ID{tip}, Have: []objects.ID{commits[499]}}, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("clone", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := makePlan(ctx, st, &remote.PlanRequest{Want: []objects.ID{tip}}, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("closure", func(b *testing.B) {
		dir := b.TempDir()
		if err := repometa.CreateFiles(dir, repometa.Settings{}); err != nil {
			b.Fatal(err)
		}
		meta, err := repometa.OpenFiles(dir, nil)
		if err != nil {
			b.Fatal(err)
		}
		rp := &repository{store: st, meta: meta, complete: map[objects.ID]bool{commits[499]: true}}
		for i := 0; i < b.N; i++ {
			if _, err := rp.checkComplete(ctx, []objects.ID{tip}, 100, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("published", func(b *testing.B) {
		rp := &repository{store: st}
		for i := 0; i < b.N; i++ {
			if err := rp.mark(ctx, []objects.ID{tip}, map[objects.ID]bool{}); err != nil {
				b.Fatal(err)
			}
			if _, _, err := rp.isAncestor(ctx, commits[0], tip, 100); err != nil {
				b.Fatal(err)
			}
		}
	})
}
