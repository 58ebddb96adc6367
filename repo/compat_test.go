package repo

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fed-vcs/fed/objects"
)

// TestOpenFormatV1 opens the repository in testdata/repos/v1, written by
// format version 1: every object must still read and verify, every
// signature check, and every revision check out to the recorded bytes.
func TestOpenFormatV1(t *testing.T) {
	ctx := context.Background()
	src := "../testdata/repos/v1"
	root := t.TempDir()
	err := filepath.WalkDir(filepath.Join(src, "dot-fed"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(filepath.Join(src, "dot-fed"), p)
		dst := filepath.Join(root, DirName, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	r, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := r.Fsck(ctx)
	if err != nil || len(rep.Problems) != 0 {
		t.Fatalf("fsck of the v1 repository: %v %v", rep, err)
	}
	deltas := 0
	r.Objects.List(ctx, func(id objects.ID) error {
		if b, err := r.Objects.(*objects.DiskStore).DeltaBase(ctx, id); err == nil && !b.IsZero() {
			deltas++
		}
		return nil
	})
	if deltas == 0 {
		t.Error("the v1 repository holds no delta-encoded piece; the fixture no longer covers deltas")
	}
	f, err := os.Open(filepath.Join(src, "expected.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 3 {
			continue
		}
		rev, path, want := fields[0], fields[1], fields[2]
		id, err := r.Resolve(ctx, rev)
		if err != nil {
			t.Fatalf("%s: %v", rev, err)
		}
		files, err := r.CommitFiles(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		if err := objects.WriteFileTo(ctx, r.Objects, files[path].ID, io.Writer(h)); err != nil {
			t.Fatalf("%s:%s: %v", rev, path, err)
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != want {
			t.Errorf("%s:%s hashes to %s, want %s", rev, path, got, want)
		}
		n++
	}
	if n != 4 {
		t.Fatalf("checked %d revisions, want 4", n)
	}
}
