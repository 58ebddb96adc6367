package mergeexec

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/fed-vcs/fed/codec"
	"github.com/fed-vcs/fed/codec/safetensors"
	"github.com/fed-vcs/fed/merge"
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/repo"
)

// writeMixed writes side i's model (i < 0: the base): F32, F16 and I64
// tensors; sides change most elements, leave some alone and agree on
// others. big adds an F32 tensor of more than one 4 MiB piece.
func writeMixed(t testing.TB, path string, i int, big bool) {
	t.Helper()
	r := rand.New(rand.NewPCG(1, 2))            // the base's values
	d := rand.New(rand.NewPCG(uint64(i+10), 3)) // this side's changes
	f32 := func(n int) []byte {
		b := make([]byte, 4*n)
		for e := 0; e < n; e++ {
			v := float32(r.NormFloat64())
			dv := d.NormFloat64()
			if i >= 0 && e%5 != 0 {
				v *= float32(1 + 0.01*dv)
			}
			binary.LittleEndian.PutUint32(b[4*e:], math.Float32bits(v))
		}
		return b
	}
	f16 := func(n int) []byte {
		b := make([]byte, 2*n)
		for e := 0; e < n; e++ {
			v := r.NormFloat64()
			dv := d.NormFloat64()
			if i >= 0 && e%3 != 0 {
				v += 0.05 * dv
			}
			binary.LittleEndian.PutUint16(b[2*e:], merge.Float64ToF16(v))
		}
		return b
	}
	n := int64(100)
	if i >= 0 {
		n += int64(i % 3)
	}
	ts := []safetensors.WriteTensor{
		{Info: codec.TensorInfo{Name: "a", DType: objects.F32, Shape: []uint64{5000}}, Data: bytes.NewReader(f32(5000)), Len: 20000},
		{Info: codec.TensorInfo{Name: "h", DType: objects.F16, Shape: []uint64{3001}}, Data: bytes.NewReader(f16(3001)), Len: 6002},
		{Info: codec.TensorInfo{Name: "n", DType: objects.I64, Shape: []uint64{}}, Data: bytes.NewReader(binary.LittleEndian.AppendUint64(nil, uint64(n))), Len: 8},
	}
	if big {
		const e = 1<<20 + 777 // two pieces
		ts = append(ts, safetensors.WriteTensor{Info: codec.TensorInfo{Name: "w", DType: objects.F32, Shape: []uint64{e}}, Data: bytes.NewReader(f32(e)), Len: 4 * e})
	}
	var buf bytes.Buffer
	if err := safetensors.Write(&buf, map[string]string{"format": "pt"}, ts); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// sidesRepo makes a base commit on main and k side branches s0 … s(k-1).
func sidesRepo(t *testing.T, k int, big bool) (*repo.Repo, objects.ID, []string) {
	t.Helper()
	ctx := context.Background()
	r := newTestRepo(t)
	model := filepath.Join(r.Root, "m.safetensors")
	writeMixed(t, model, -1, big)
	if err := r.Add(ctx, []string{r.Root}, repo.AddOptions{}); err != nil {
		t.Fatal(err)
	}
	base, err := r.Commit(ctx, repo.CommitOptions{Message: "base"})
	if err != nil {
		t.Fatal(err)
	}
	var branches []string
	for i := 0; i < k; i++ {
		name := fmt.Sprintf("s%d", i)
		if err := r.Switch(ctx, name, repo.SwitchOptions{Create: true, Start: base.String()}); err != nil {
			t.Fatal(err)
		}
		writeMixed(t, model, i, big)
		if _, err := r.Commit(ctx, repo.CommitOptions{Message: name, All: true, Samples: int64(10 + 7*i)}); err != nil {
			t.Fatal(err)
		}
		branches = append(branches, name)
	}
	return r, base, branches
}

// mergeRound merges the branches into a new branch at base, reading side
// by side when many, and returns the merge commit's tree and report (or
// the error, as text).
func mergeRound(t *testing.T, r *repo.Repo, base objects.ID, branches []string, opts Options, many bool, tag string) (objects.ID, string) {
	t.Helper()
	ctx := context.Background()
	old := manySides
	defer func() { manySides = old }()
	manySides = 1 << 20
	if many {
		manySides = 0
	}
	if err := r.Switch(ctx, tag, repo.SwitchOptions{Create: true, Start: base.String()}); err != nil {
		t.Fatal(err)
	}
	res, err := Merge(ctx, r, branches, opts)
	if err != nil {
		return objects.ZeroID, "error: " + err.Error()
	}
	c, err := objects.ReadCommit(ctx, r.Objects, res.Commit)
	if err != nil {
		t.Fatal(err)
	}
	rep, _ := c.Value(MetaMergeReport)
	return c.Tree, rep
}

// TestManySidesSameAsFew: read side by side (and through the temporary
// file, in slices), every strategy gives the commit the all-sides reading
// gives: the same files, optimiser state and report.
func TestManySidesSameAsFew(t *testing.T) {
	r, base, br := sidesRepo(t, 7, true)
	oldRows, oldSlice := rowsBudget, sliceBudget
	defer func() { rowsBudget, sliceBudget = oldRows, oldSlice }()
	params := map[string]map[string]string{
		merge.Krum: {"f": "1"}, merge.MultiKrum: {"f": "1", "m": "3"}, merge.Bulyan: {"f": "1"},
		merge.Ties: {"density": "0.3"}, merge.DareLinear: {"density": "0.4", "seed": "5"}, merge.DareTies: {"density": "0.6"},
	}
	for _, st := range append(merge.Strategies(), "fedavg-exact") {
		t.Run(st, func(t *testing.T) {
			opts := Options{Strategy: st, Params: params[st]}
			sides := br
			if st == "fedavg-exact" {
				opts = Options{Strategy: merge.FedAvg, Params: map[string]string{"exact": "true"}}
			}
			if st == merge.Slerp {
				sides = br[:2]
			}
			few, fewRep := mergeRound(t, r, base, sides, opts, false, st+"-few")
			// in memory, then spilled to the temporary file in slices of
			// a few elements
			rowsBudget, sliceBudget = oldRows, oldSlice
			many, manyRep := mergeRound(t, r, base, sides, opts, true, st+"-many")
			rowsBudget, sliceBudget = 1, 4096
			spilled, spilledRep := mergeRound(t, r, base, sides, opts, true, st+"-spilled")
			rowsBudget, sliceBudget = oldRows, oldSlice
			if few.IsZero() && st != "fedavg-exact" { // F16 cannot hold exact means
				t.Fatal(fewRep)
			}
			if many != few || spilled != few {
				t.Errorf("merge trees: all sides %s, side by side %s, spilled %s", few, many, spilled)
			}
			if manyRep != fewRep || spilledRep != fewRep {
				t.Errorf("reports differ:\nall sides    %s\nside by side %s\nspilled      %s", fewRep, manyRep, spilledRep)
			}
		})
	}
	if left, _ := filepath.Glob(filepath.Join(r.Dir, "merge-rows-*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// TestManySidesMemoryBound: the bytes a merge of many sides holds in
// piece buffers and rows do not grow with the number of sides: fedavg
// holds a few pieces, median a few pieces and one slab of slices.
func TestManySidesMemoryBound(t *testing.T) {
	const k = 96
	ctx := context.Background()
	r := newTestRepo(t)
	model := filepath.Join(r.Root, "m.safetensors")
	const elems = 64 << 10 // a 256 KiB tensor: one piece
	writeModel(t, model, 1, map[string]int{"a": elems})
	if err := r.Add(ctx, []string{r.Root}, repo.AddOptions{}); err != nil {
		t.Fatal(err)
	}
	base, err := r.Commit(ctx, repo.CommitOptions{Message: "base"})
	if err != nil {
		t.Fatal(err)
	}
	var br []string
	for i := 0; i < k; i++ {
		name := fmt.Sprintf("s%d", i)
		if err := r.Switch(ctx, name, repo.SwitchOptions{Create: true, Start: base.String()}); err != nil {
			t.Fatal(err)
		}
		f := float32(1 + float64(i+1)/1000)
		setTensor(t, model, "a", func(_ int, v float32) float32 { return v * f })
		if _, err := r.Commit(ctx, repo.CommitOptions{Message: name, All: true}); err != nil {
			t.Fatal(err)
		}
		br = append(br, name)
	}
	oldRows, oldSlice := rowsBudget, sliceBudget
	defer func() { rowsBudget, sliceBudget, heldHook = oldRows, oldSlice, nil }()
	rowsBudget, sliceBudget = 4<<20, 1<<20 // K pieces are 24 MiB: spilled
	var cur, peak atomic.Int64
	heldHook = func(d int64) {
		v := cur.Add(d)
		for {
			p := peak.Load()
			if v <= p || peak.CompareAndSwap(p, v) {
				break
			}
		}
	}
	piece := int64(4 * elems)
	for _, st := range []string{merge.FedAvg, merge.Median, "fedavg-exact"} {
		opts := Options{Strategy: st}
		if st == "fedavg-exact" {
			opts = Options{Params: map[string]string{"exact": "true"}}
		}
		cur.Store(0)
		peak.Store(0)
		few, rep := mergeRound(t, r, base, br, opts, false, st+"-few")
		if few.IsZero() {
			t.Fatal(rep)
		}
		if peak.Load() != 0 {
			t.Fatalf("%s: the all-sides reading counted %d bytes", st, peak.Load())
		}
		many, _ := mergeRound(t, r, base, br, opts, true, st+"-many")
		if many != few {
			t.Errorf("%s: side by side %s, all sides %s", st, many, few)
		}
		bound := int64(fetchDepth()) * (piece + 64) // a piece's buffer holds its object header too
		if st == merge.Median {
			bound += int64(sliceBudget) + k*4
		}
		t.Logf("%s of %d sides of %d KiB: held at most %d KiB (bound %d KiB; all sides at once: %d KiB)", st, k, piece>>10, peak.Load()>>10, bound>>10, k*piece>>10)
		if peak.Load() > bound || peak.Load() < piece {
			t.Errorf("%s: held at most %d bytes, want (%d, %d]", st, peak.Load(), piece, bound)
		}
		if cur.Load() != 0 {
			t.Errorf("%s: %d bytes still counted as held after the merge", st, cur.Load())
		}
	}
}
