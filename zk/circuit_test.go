package zk

import (
	"errors"
	"math/big"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark/constraint/solver"
	"github.com/consensys/gnark/frontend"
	"github.com/consensys/gnark/frontend/cs/r1cs"
	"github.com/consensys/gnark/test"
)

func randQ(rng *rand.Rand, n int, spread int32) []int32 {
	q := make([]int32, n)
	for i := range q {
		q[i] = rng.Int32N(2*spread+1) - spread
	}
	return q
}

func field() *big.Int { return ecc.BN254.ScalarField() }

// isSolvedMu serialises gnark's test engine: test.IsSolved resets package
// counters that a concurrent run increments (a data race in gnark
// v0.16.1's test package, seen under -race with parallel tests).
var isSolvedMu sync.Mutex

func isSolved(circuit, witness frontend.Circuit, f *big.Int) error {
	isSolvedMu.Lock()
	defer isSolvedMu.Unlock()
	return test.IsSolved(circuit, witness, f)
}

func TestCommitCircuit(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 40
	q := randQ(rng, n-3, 1<<ValueBits-1) // shorter than n: zero padding
	c := HashChunk(q, n)
	good := commitAssignment(q, n, c)
	if err := isSolved(&commitCircuit{D: make([]frontend.Variable, n)}, good, field()); err != nil {
		t.Fatalf("honest commitment rejected: %v", err)
	}
	cases := map[string]func(a *commitCircuit){
		"wrong commitment": func(a *commitCircuit) { a.Commit = new(big.Int).Add(fe(c), big.NewInt(1)) },
		"value changed":    func(a *commitCircuit) { a.D[3] = digit(q[3] + 1) },
		"digit too large":  func(a *commitCircuit) { a.D[0] = uint64(digitOffset + 1<<ValueBits) },
	}
	for name, mod := range cases {
		a := commitAssignment(q, n, c)
		mod(a)
		if err := isSolved(&commitCircuit{D: make([]frontend.Variable, n)}, a, field()); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestUpdateCircuit(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	const n, linf = 24, 100
	lbits := linfBits(linf)
	parent := randQ(rng, n, 1<<20)
	child := make([]int32, n)
	var sum int64
	for i := range child {
		d := rng.Int32N(2*linf+1) - linf
		child[i] = parent[i] + d
		sum += int64(d) * int64(d)
	}
	child[5] = parent[5] + linf // on the bound is allowed
	child[6] = parent[6] - linf
	sum = 0
	for i := range child {
		d := int64(child[i] - parent[i])
		sum += d * d
	}
	pc, cc := HashChunk(parent, n), HashChunk(child, n)
	shape := Shape{Kind: KindUpdate, N: n, LBits: lbits}
	solve := func(a *updateCircuit) error { return isSolved(shape.placeholder(), a, field()) }
	if err := solve(updateAssignment(parent, child, n, lbits, pc, cc, linf, big.NewInt(sum))); err != nil {
		t.Fatalf("honest update rejected: %v", err)
	}
	over := append([]int32(nil), child...)
	over[2] = parent[2] + linf + 1
	oc := HashChunk(over, n)
	tests := map[string]*updateCircuit{
		"over linf":        updateAssignment(parent, over, n, lbits, pc, oc, linf, big.NewInt(1<<60)),
		"under -linf":      updateAssignment(parent, over, n, lbits, pc, oc, linf, big.NewInt(1<<60)),
		"over l2":          updateAssignment(parent, child, n, lbits, pc, cc, linf, big.NewInt(sum-1)),
		"wrong child":      updateAssignment(parent, child, n, lbits, pc, oc, linf, big.NewInt(sum)),
		"wrong parent":     updateAssignment(parent, child, n, lbits, cc, cc, linf, big.NewInt(sum)),
		"linf beyond bits": updateAssignment(parent, child, n, lbits, pc, cc, 1<<lbits, big.NewInt(sum)),
	}
	under := append([]int32(nil), child...)
	under[2] = parent[2] - linf - 1
	tests["under -linf"] = updateAssignment(parent, under, n, lbits, pc, HashChunk(under, n), linf, big.NewInt(1<<60))
	for name, a := range tests {
		if err := solve(a); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestMergeCircuit(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(5, 6))
	const n, k = 16, 3
	w := []uint64{3, 1, 7}
	parents := make([][]int32, k)
	pcs := make([]Digest, k)
	for j := range parents {
		parents[j] = randQ(rng, n, 1<<ValueBits-1)
		pcs[j] = HashChunk(parents[j], n)
	}
	merged := fixedMean(t, parents, w)
	mc := HashChunk(merged, n)
	wbits := weightBits(11)
	shape := Shape{Kind: KindMerge, N: n, K: k, WBits: wbits}
	a, _, err := mergeAssignment(parents, merged, n, wbits, pcs, mc, w)
	if err != nil {
		t.Fatal(err)
	}
	if err := isSolved(shape.placeholder(), a, field()); err != nil {
		t.Fatalf("honest merge rejected: %v", err)
	}
	// Wrong public weight: the witness stays, the statement changes.
	a.Weights[1] = uint64(2)
	if err := isSolved(shape.placeholder(), a, field()); err == nil {
		t.Error("wrong weight accepted")
	}
	// Off by one in the merged value: the remainder leaves [0, W).
	bad := append([]int32(nil), merged...)
	bad[4]++
	if _, i, err := mergeAssignment(parents, bad, n, wbits, pcs, HashChunk(bad, n), w); err == nil || i != 4 {
		t.Errorf("off-by-one merge: element %d, %v", i, err)
	}
	// A prover that commits to it anyway fails the circuit: the remainder
	// (derived in-circuit) is negative.
	a2, _, _ := mergeAssignment(parents, merged, n, wbits, pcs, HashChunk(bad, n), w)
	a2.M[4] = digit(bad[4])
	if err := isSolved(shape.placeholder(), a2, field()); err == nil {
		t.Error("negative remainder accepted")
	}
}

func fixedMean(t *testing.T, parents [][]int32, w []uint64) []int32 {
	t.Helper()
	out := make([]int32, len(parents[0]))
	q := make([]int32, len(parents))
	for i := range out {
		for j := range parents {
			q[j] = parents[j][i]
		}
		m, err := mergeFixedMean(q, w)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = m
	}
	return out
}

func TestDrift(t *testing.T) {
	t.Parallel()
	up := &Body{Kind: KindUpdate, Linf: 1000}
	for _, c := range []struct {
		b      *Body
		parent uint64
		want   uint64
		fails  bool
	}{
		{up, 0, 1000, false},
		{up, MaxDrift - 1000, MaxDrift, false},
		{up, MaxDrift - 999, 0, true},
		{up, MaxDrift + 1, 0, true},
		{&Body{Kind: KindMerge}, MaxDrift + 1, 0, false}, // merges check their own range
		{&Body{Kind: KindCommit}, MaxDrift + 1, 0, false},
	} {
		got, err := c.b.Drift(c.parent)
		if c.fails != (err != nil) || got != c.want || (err != nil && !errors.Is(err, ErrDrift)) {
			t.Errorf("%v Drift(%d) = %d, %v; want %d, fails %v", c.b.Kind, c.parent, got, err, c.want, c.fails)
		}
	}
}

// TestRangeLookup checks the lookup argument itself, past its hints: a
// prover whose multiplicity hint ignores an out-of-range value (instead of
// failing, as countHint does) must still fail the R1CS.
func TestRangeLookup(t *testing.T) {
	t.Parallel()
	const n = 16
	cs, err := frontend.Compile(field(), r1cs.NewBuilder, &commitCircuit{D: make([]frontend.Variable, n)})
	if err != nil {
		t.Fatal(err)
	}
	lenient := func(_ *big.Int, inputs, outputs []*big.Int) error {
		for _, o := range outputs {
			o.SetUint64(0)
		}
		for _, q := range inputs[1:] {
			if q.IsUint64() && q.Uint64() < uint64(len(outputs)) {
				outputs[q.Uint64()].Add(outputs[q.Uint64()], big.NewInt(1))
			}
		}
		return nil
	}
	opt := solver.OverrideHint(solver.GetHintID(countHint), lenient)
	for _, c := range []struct {
		name string
		q0   int32
		ok   bool
	}{{"in range", 1<<ValueBits - 1, true}, {"out of range", 1 << ValueBits, false}} {
		q := make([]int32, n)
		q[0] = c.q0
		w, err := frontend.NewWitness(commitAssignment(q, n, HashChunk(q, n)), field())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cs.Solve(w, opt); (err == nil) != c.ok {
			t.Errorf("%s: solve error %v", c.name, err)
		}
	}
}
