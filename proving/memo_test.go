package proving

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/repo"
	"github.com/fed-vcs/fed/zk"
)

// reportJSON is rep without the memo's effect on nothing: the whole
// report, to compare a warm run with a cold one.
func reportJSON(t *testing.T, rep *VerifyReport) string {
	t.Helper()
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestMemoVerifiesOnlyWhatIsNew(t *testing.T) {
	ctx := context.Background()
	r, cache := zkRepo(t)
	base := map[string][]float32{"a": zkSeq(40, func(i int) float32 { return float32(i) / 9 })}
	zkCommitModel(t, r, "base", base, repo.CommitOptions{})
	zkCommitModel(t, r, "step 1", map[string][]float32{"a": zkSeq(40, func(i int) float32 { return float32(i)/9 + 0.01 })}, repo.CommitOptions{})
	if _, err := Prove(ctx, r, "..HEAD", ProveOptions{Cache: cache, Setup: true}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(r.Dir, MemoFile)
	verify := func(revs string, memo *Memo) *VerifyReport {
		t.Helper()
		rep, err := Verify(ctx, r, revs, VerifyOptions{Cache: cache, Memo: memo})
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	open := func() *Memo {
		t.Helper()
		m, err := OpenMemo(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		return m
	}
	cold := verify("..HEAD", nil)

	// The first run remembers nothing yet; a second, in a new process (a
	// fresh Memo read from the file), answers every check from it and
	// reports exactly what the cold run did.
	m1 := open()
	if got := reportJSON(t, verify("..HEAD", m1)); got != reportJSON(t, cold) {
		t.Fatalf("first memo run differs from cold:\n%s\n%s", got, reportJSON(t, cold))
	}
	if m1.Hits != 1 || m1.Misses == 0 { // the parent's commitment, computed once
		t.Errorf("first run: %d hits, %d misses; want 1 hit (the parent recomputed once)", m1.Hits, m1.Misses)
	}
	m1.Close()
	m2 := open()
	if got := reportJSON(t, verify("..HEAD", m2)); got != reportJSON(t, cold) {
		t.Fatalf("warm run differs from cold:\n%s\n%s", got, reportJSON(t, cold))
	}
	if m2.Misses != 0 || m2.Hits != m1.Hits+m1.Misses {
		t.Errorf("warm run: %d hits, %d misses; want %d hits and no miss", m2.Hits, m2.Misses, m1.Hits+m1.Misses)
	}
	m2.Close()

	// A new commit: only its checks are new.
	zkCommitModel(t, r, "step 2", map[string][]float32{"a": zkSeq(40, func(i int) float32 { return float32(i)/9 + 0.02 })}, repo.CommitOptions{})
	if _, err := Prove(ctx, r, "HEAD", ProveOptions{Cache: cache}); err != nil {
		t.Fatal(err)
	}
	m3 := open()
	verify("..HEAD", m3)
	// new: step 2's proof and its own commitment; its parent's commitment
	// was remembered
	if m3.Misses != 2 {
		t.Errorf("after one new commit: %d misses (%d hits), want 2", m3.Misses, m3.Hits)
	}
	m3.Close()

	t.Run("pinning a key is a miss", func(t *testing.T) {
		m := open()
		r.Config.Set("zk.vk", strings.Repeat("ab", 32))
		defer r.Config.Unset("zk.vk")
		rep, err := Verify(ctx, r, "HEAD", VerifyOptions{Cache: cache, Memo: m})
		wantVerifyErr(t, rep, err, "development key")
	})

	t.Run("a memo that disagrees is recomputed", func(t *testing.T) {
		// An entry claiming another commitment for HEAD: the check
		// computes from the weights and passes.
		head, _ := r.Resolve(ctx, "HEAD")
		m := open()
		m.put(commitmentKey(head, 16), commitmentValue([]zk.Digest{{1}}, [32]byte{2}))
		rep := verify("HEAD", m)
		if rep.Commits[0].Commitment != "recomputed" || !rep.OK {
			t.Errorf("report %+v", rep.Commits[0])
		}
	})

	t.Run("torn and corrupt lines are skipped", func(t *testing.T) {
		lines := strings.Split(strings.TrimSuffix(readFile(t, path), "\n"), "\n")
		if lines[0]+"\n" != memoHeader || len(lines) < 4 {
			t.Fatalf("memo file %q", lines)
		}
		// flip one value digit of the first entry (its CRC no longer
		// checks) and tear the last line, as a crash mid-write would
		bad := []byte(lines[1])
		bad[bytes.IndexByte(bad, ' ')+1] ^= 1
		lines[1] = string(bad)
		last := lines[len(lines)-1]
		lines[len(lines)-1] = last[:len(last)/2]
		if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, l := range []string{lines[1], lines[len(lines)-1]} {
			if _, _, ok := parseMemoLine([]byte(l)); ok {
				t.Errorf("damaged line %q reads", l)
			}
		}
		m := open()
		verify("..HEAD", m) // recomputes what was lost, appends it
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
		m2 := open()
		verify("..HEAD", m2)
		if m2.Misses != 0 {
			t.Errorf("after the repair: %d misses, want 0 (entries appended after a torn line must read back)", m2.Misses)
		}
	})

	t.Run("another version is started afresh", func(t *testing.T) {
		if err := os.WriteFile(path, []byte("fed verified 9\nwhatever\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		m := open()
		if len(m.seen) != 0 {
			t.Fatalf("read %d entries of a version-9 file", len(m.seen))
		}
		verify("HEAD", m)
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
		if b := readFile(t, path); !strings.HasPrefix(b, memoHeader) || strings.Contains(b, "whatever") {
			t.Errorf("memo file not restarted: %q", b)
		}
	})
}

// A weight object lost after a verification: the memo still knows the
// commitment it had, a cold run can only bind the signed root or the
// proof.
func TestMemoOutlivesWeights(t *testing.T) {
	ctx := context.Background()
	r, cache := zkRepo(t)
	id := zkCommitModel(t, r, "base", map[string][]float32{"a": zkSeq(20, func(i int) float32 { return float32(i) })}, repo.CommitOptions{})
	if _, err := Prove(ctx, r, "HEAD", ProveOptions{Cache: cache, Setup: true}); err != nil {
		t.Fatal(err)
	}
	m, err := OpenMemo(filepath.Join(r.Dir, MemoFile))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := Verify(ctx, r, "HEAD", VerifyOptions{Cache: cache, Memo: m}); err != nil {
		t.Fatal(err)
	}
	// lose every tensor object (the weights), keep commits, trees, the
	// proof and its key
	lost := 0
	err = filepath.WalkDir(filepath.Join(r.Dir, "objects"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		oid, perr := objects.ParseID(filepath.Base(filepath.Dir(p)) + d.Name())
		if perr != nil {
			return nil // not an object file
		}
		b, gerr := r.Objects.Get(ctx, oid)
		if gerr != nil {
			return gerr
		}
		if k, _ := objects.PeekKind(b); k == objects.KindTensor {
			lost++
			return os.Remove(p)
		}
		return nil
	})
	if err != nil || lost == 0 {
		t.Fatalf("removing the weights: %v (%d removed)", err, lost)
	}
	if _, err := Values(ctx, r, id); err == nil {
		t.Fatal("weights still readable")
	}
	rep, err := Verify(ctx, r, "HEAD", VerifyOptions{Cache: cache, Memo: m})
	if err != nil || rep.Commits[0].Commitment != "recomputed" {
		t.Fatalf("with memo: %v %+v", err, rep.Commits[0])
	}
	rep, err = Verify(ctx, r, "HEAD", VerifyOptions{Cache: cache})
	if rep == nil || rep.Commits[0].Commitment == "recomputed" {
		t.Fatalf("cold without weights: %v %+v", err, rep)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func FuzzMemoLine(f *testing.F) {
	f.Add(string(memoLine([32]byte{1, 2, 3}, []byte("value"))))
	f.Add(string(memoLine([32]byte{}, nil)))
	f.Add("00 11 22")
	f.Fuzz(func(t *testing.T, line string) {
		k, v, ok := parseMemoLine([]byte(line))
		if !ok {
			return
		}
		k2, v2, ok := parseMemoLine(bytes.TrimSuffix(memoLine(k, v), []byte("\n")))
		if !ok || k2 != k || !bytes.Equal(v2, v) {
			t.Fatalf("%q read as %x %x, which does not round-trip", line, k, v)
		}
	})
}
