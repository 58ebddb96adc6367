package proving

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fed-vcs/fed/codec"
	"github.com/fed-vcs/fed/codec/safetensors"
	"github.com/fed-vcs/fed/merge"
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/repo"
	"github.com/fed-vcs/fed/zk"
)

func zkWriteF32(t testing.TB, path string, tensors map[string][]float32) {
	t.Helper()
	var ts []safetensors.WriteTensor
	for name, xs := range tensors {
		b := make([]byte, 4*len(xs))
		for i, x := range xs {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
		}
		ts = append(ts, safetensors.WriteTensor{Info: codec.TensorInfo{Name: name, DType: objects.F32, Shape: []uint64{uint64(len(xs))}}, Data: bytes.NewReader(b), Len: int64(len(b))})
	}
	var buf bytes.Buffer
	if err := safetensors.Write(&buf, nil, ts); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func zkSeq(n int, f func(i int) float32) []float32 {
	xs := make([]float32, n)
	for i := range xs {
		xs[i] = f(i)
	}
	return xs
}

func zkCommitModel(t testing.TB, r *repo.Repo, msg string, tensors map[string][]float32, opts repo.CommitOptions) objects.ID {
	t.Helper()
	ctx := context.Background()
	zkWriteF32(t, filepath.Join(r.Root, "m.safetensors"), tensors)
	if err := r.Add(ctx, []string{r.Root}, repo.AddOptions{}); err != nil {
		t.Fatal(err)
	}
	opts.Message = msg
	id, err := r.Commit(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func zkRepo(t *testing.T) (*repo.Repo, *zk.Cache) {
	r := newTestRepo(t)
	for k, v := range map[string]string{"zk.chunk": "16", "zk.linf": "0.05", "zk.l2": "1"} {
		if err := r.Config.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	return r, zk.NewCache(filepath.Join(t.TempDir(), "keys"))
}

func wantVerifyErr(t *testing.T, rep *VerifyReport, err error, substr string) {
	t.Helper()
	if !errors.Is(err, ErrVerify) || rep == nil || rep.OK {
		t.Fatalf("verify: %v, want ErrVerify", err)
	}
	if !strings.Contains(err.Error(), substr) {
		t.Errorf("verify error %q does not mention %q", err, substr)
	}
}

func TestProveVerifyHistory(t *testing.T) {
	ctx := context.Background()
	r, cache := zkRepo(t)
	base := map[string][]float32{"a": zkSeq(30, func(i int) float32 { return float32(i) / 7 }), "b": zkSeq(5, func(i int) float32 { return -float32(i) })}
	c1 := zkCommitModel(t, r, "base", base, repo.CommitOptions{})
	next := map[string][]float32{"a": zkSeq(30, func(i int) float32 { return float32(i)/7 + 0.01 }), "b": base["b"]}
	c2 := zkCommitModel(t, r, "small step", next, repo.CommitOptions{})

	res, err := Prove(ctx, r, "..HEAD", ProveOptions{Cache: cache, Setup: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || res[0].Commit != c1 || res[0].Kind != "commitment" || res[1].Kind != "update" || res[1].Keys != "development" {
		t.Fatalf("prove results %+v", res)
	}
	rep, err := Verify(ctx, r, "..HEAD", VerifyOptions{Cache: cache})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range rep.Commits {
		if !c.OK || c.Commitment != "recomputed" || c.Signature != "ok" || c.Proof != "ok" {
			t.Errorf("report %+v", c)
		}
	}
	if got := rep.Commits[1].Parents; len(got) != 1 || got[0] != "recomputed" {
		t.Errorf("parents %v", got)
	}
	for i, c := range []objects.ID{c1, c2} {
		pid, _ := r.Refs.Read(repo.ProofRef(c))
		o, err := objects.Read(ctx, r.Objects, pid, objects.KindProof)
		if err != nil {
			t.Fatal(err)
		}
		kind, keys, err := Describe(ctx, r.Objects, o.(*objects.Proof))
		if err != nil || kind != []string{"commitment", "update"}[i] || keys != "development" {
			t.Errorf("Describe(proof of %s) = %q, %q, %v", c.Short(), kind, keys, err)
		}
	}
	if _, _, err := Describe(ctx, r.Objects, &objects.Proof{Commit: c1, System: "other"}); err == nil || !strings.Contains(err.Error(), `system "other"`) {
		t.Errorf("Describe of another system: %v", err)
	}

	t.Run("proof for another commit", func(t *testing.T) {
		p1, _ := r.Refs.Read(repo.ProofRef(c1))
		p2, _ := r.Refs.Read(repo.ProofRef(c2))
		r.Refs.Update(repo.ProofRef(c2), p2, p1, r.Entry("test"))
		defer r.Refs.Update(repo.ProofRef(c2), p1, p2, r.Entry("test"))
		rep, err := Verify(ctx, r, c2.String(), VerifyOptions{Cache: cache})
		wantVerifyErr(t, rep, err, "is for commit "+c1.Short())
	})
	t.Run("tampered proof", func(t *testing.T) {
		p2, _ := r.Refs.Read(repo.ProofRef(c2))
		o, _ := objects.Read(ctx, r.Objects, p2, objects.KindProof)
		p := *o.(*objects.Proof)
		body, _ := zk.DecodeBody(p.Body)
		body.Proofs[1] = append([]byte(nil), body.Proofs[1]...)
		body.Proofs[1][40] ^= 0x10
		p.Body = body.Encode()
		bad, err := objects.Write(ctx, r.Objects, &p)
		if err != nil {
			t.Fatal(err)
		}
		r.Refs.Update(repo.ProofRef(c2), p2, bad, r.Entry("test"))
		defer r.Refs.Update(repo.ProofRef(c2), bad, p2, r.Entry("test"))
		rep, err := Verify(ctx, r, c2.String(), VerifyOptions{Cache: cache})
		wantVerifyErr(t, rep, err, "commit "+c2.Short()+" chunk 1 update check")
	})
	t.Run("commitment not matching weights", func(t *testing.T) {
		p2, _ := r.Refs.Read(repo.ProofRef(c2))
		o, _ := objects.Read(ctx, r.Objects, p2, objects.KindProof)
		p := *o.(*objects.Proof)
		p.Commit = c1 // c2's proof moved onto c1: valid proof, wrong weights
		moved, _ := objects.Write(ctx, r.Objects, &p)
		p1, _ := r.Refs.Read(repo.ProofRef(c1))
		r.Refs.Update(repo.ProofRef(c1), p1, moved, r.Entry("test"))
		defer r.Refs.Update(repo.ProofRef(c1), moved, p1, r.Entry("test"))
		rep, err := Verify(ctx, r, c1.String(), VerifyOptions{Cache: cache})
		wantVerifyErr(t, rep, err, "proof has 1 parents, the commit 0")
	})
	t.Run("pinned ceremony key", func(t *testing.T) {
		r.Config.Set("zk.vk", strings.Repeat("ab", 32))
		defer r.Config.Unset("zk.vk")
		rep, err := Verify(ctx, r, c2.String(), VerifyOptions{Cache: cache})
		wantVerifyErr(t, rep, err, "development key")
		if !errors.Is(err, zk.ErrUnpinned) {
			t.Errorf("%v does not match ErrUnpinned", err)
		}
	})

	// An update over the bound cannot be proven, and verify fails on it.
	over := map[string][]float32{"a": next["a"], "b": zkSeq(5, func(i int) float32 { return -float32(i) + 0.5 })}
	c3 := zkCommitModel(t, r, "big step", over, repo.CommitOptions{})
	_, err = Prove(ctx, r, "HEAD", ProveOptions{Cache: cache, Setup: true})
	if !errors.Is(err, zk.ErrBound) || !strings.Contains(err.Error(), "m.safetensors:b element 0") {
		t.Fatalf("prove over bound: %v", err)
	}
	rep, err = Verify(ctx, r, c3.String(), VerifyOptions{Cache: cache})
	wantVerifyErr(t, rep, err, "no proof attached")
	// Proven under a looser bound, it fails the repository's bound.
	r.Config.Set("zk.linf", "1")
	r.Config.Set("zk.l2", "10")
	if _, err := Prove(ctx, r, "HEAD", ProveOptions{Cache: cache, Setup: true}); err != nil {
		t.Fatal(err)
	}
	r.Config.Set("zk.linf", "0.05")
	r.Config.Set("zk.l2", "1")
	rep, err = Verify(ctx, r, c3.String(), VerifyOptions{Cache: cache})
	wantVerifyErr(t, rep, err, "above zk.linf")
}

func TestProveVerifyMergeWithoutParentWeights(t *testing.T) {
	ctx := context.Background()
	r, cache := zkRepo(t)
	a := zkSeq(20, func(i int) float32 { return float32(i) / 3 })
	b := zkSeq(20, func(i int) float32 { return float32(i)/3 + 0.04 })
	base := zkCommitModel(t, r, "base", map[string][]float32{"w": a}, repo.CommitOptions{})
	if _, err := r.CreateBranch(ctx, "side", "HEAD"); err != nil {
		t.Fatal(err)
	}
	cb := zkCommitModel(t, r, "side step", map[string][]float32{"w": b}, repo.CommitOptions{})
	w := []uint64{1, 3}
	m := make([]float32, len(a))
	for i := range a {
		qa, _ := merge.Quantize(float64(a[i]))
		qb, _ := merge.Quantize(float64(b[i]))
		q, err := merge.FixedMean([]int32{qa, qb}, w)
		if err != nil {
			t.Fatal(err)
		}
		m[i] = float32(merge.Dequantize(q))
	}
	// HEAD is cb; merge base (first parent) and cb (second).
	if _, err := r.Reset(ctx, base.String(), repo.ResetHard); err != nil {
		t.Fatal(err)
	}
	mid := zkCommitModel(t, r, "merge", map[string][]float32{"w": m}, repo.CommitOptions{Parents: []objects.ID{cb}, Meta: map[string]string{repo.MetaMergeWeights: "1,3"}})
	if _, err := Prove(ctx, r, "..HEAD", ProveOptions{Cache: cache, Setup: true}); err != nil {
		t.Fatal(err)
	}
	// Withhold the parents' weights: delete their tensor objects.
	for _, p := range []objects.ID{base, cb} {
		files, _ := r.CommitFiles(ctx, p)
		mo, _ := objects.ReadModel(ctx, r.Objects, files["m.safetensors"].ID)
		for _, s := range mo.Segments {
			if s.IsTensor() {
				r.Objects.Delete(ctx, s.ID)
			}
		}
	}
	rep, err := Verify(ctx, r, mid.String(), VerifyOptions{Cache: cache})
	if err != nil {
		t.Fatal(err)
	}
	c := rep.Commits[0]
	if c.Kind != "merge" || c.Commitment != "recomputed" || len(c.Parents) != 2 || c.Parents[0] != "proof" || c.Parents[1] != "proof" {
		t.Errorf("report %+v", c)
	}
	// A wrong weight in the commit's metadata is caught.
	bad := zkCommitModel(t, r, "merge again", map[string][]float32{"w": m}, repo.CommitOptions{Parents: []objects.ID{cb}, AllowEmpty: true, Meta: map[string]string{repo.MetaMergeWeights: "1,2"}})
	p, _ := r.Refs.Read(repo.ProofRef(mid))
	o, _ := objects.Read(ctx, r.Objects, p, objects.KindProof)
	pr := *o.(*objects.Proof)
	pr.Commit = bad
	body, _ := zk.DecodeBody(pr.Body)
	body.Parents[0].Commit = mid // bad's first parent is mid
	pr.Body = body.Encode()
	moved, _ := objects.Write(ctx, r.Objects, &pr)
	r.Refs.Update(repo.ProofRef(bad), objects.ZeroID, moved, r.Entry("test"))
	rep, err = Verify(ctx, r, bad.String(), VerifyOptions{Cache: cache})
	wantVerifyErr(t, rep, err, "the commit says [1 2]")
}

// TestVerifyUpdateDrift checks the range argument for update proofs (the
// update circuit does not range-check values): an update whose own
// weights are absent verifies only when its parent's commitment is known
// to lie near the range, through the parent's weights or a chain of
// proofs down to a commitment or merge proof.
func TestVerifyUpdateDrift(t *testing.T) {
	ctx := context.Background()
	r, cache := zkRepo(t)
	a := func(d float32) []float32 { return zkSeq(30, func(i int) float32 { return float32(i)/7 + d }) }
	zkCommitModel(t, r, "base", map[string][]float32{"a": a(0)}, repo.CommitOptions{})
	c2 := zkCommitModel(t, r, "step 1", map[string][]float32{"a": a(0.01)}, repo.CommitOptions{})
	c3 := zkCommitModel(t, r, "step 2", map[string][]float32{"a": a(0.02)}, repo.CommitOptions{})
	if _, err := Prove(ctx, r, "..HEAD", ProveOptions{Cache: cache, Setup: true}); err != nil {
		t.Fatal(err)
	}
	// withhold the weights of the two updates: drop their tensor pieces
	for _, c := range []objects.ID{c2, c3} {
		files, _ := r.CommitFiles(ctx, c)
		m, err := objects.ReadModel(ctx, r.Objects, files["m.safetensors"].ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, seg := range m.Segments {
			if seg.IsTensor() {
				tt, _ := objects.ReadTensor(ctx, r.Objects, seg.ID)
				for _, piece := range tt.Pieces {
					r.Objects.Delete(ctx, piece)
				}
			}
		}
	}
	rep, err := Verify(ctx, r, c3.String(), VerifyOptions{Cache: cache})
	if err != nil || rep.Commits[0].Commitment == "recomputed" {
		t.Fatalf("verify with the chain of proofs: %v %+v", err, rep)
	}
	// without c2's proof nothing bounds c2's values: c3's statement is
	// not established
	p2, _ := r.Refs.Read(repo.ProofRef(c2))
	if err := r.Refs.Update(repo.ProofRef(c2), p2, objects.ZeroID, r.Entry("test")); err != nil {
		t.Fatal(err)
	}
	rep, err = Verify(ctx, r, c3.String(), VerifyOptions{Cache: cache})
	wantVerifyErr(t, rep, err, "parent range not established")
}
