package zk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/big"
	"runtime"
	"sync/atomic"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark/backend/groth16"
	"github.com/consensys/gnark/backend/witness"
	"github.com/consensys/gnark/frontend"

	"github.com/fed-vcs/fed/objects"
)

// Statement is what a commit's proof claims. Kind follows len(Parents):
// none → commitment, one → bounded update, more → merge.
type Statement struct {
	Commit    objects.ID
	ChunkSize int
	Self      *Values
	Parents   []*Values
	ParentIDs []objects.ID
	// Update: Linf in quantised units (see QuantBound); L2 in quantised
	// units² (see QuantBudget), used when HasL2.
	Linf  uint64
	HasL2 bool
	L2    uint64
	// Merge: one integer weight per parent.
	Weights []uint64
}

// QuantBound converts an L∞ bound in model units to quantised units,
// rounding down: ⌊b·2^16⌋.
func QuantBound(b float64) (uint64, error) {
	if !(b >= 0) || b*(1<<ScaleShift) >= 1<<maxLinfBits {
		return 0, fmt.Errorf("zk: L∞ bound %v: must be in [0, %d)", b, 1<<(maxLinfBits-ScaleShift))
	}
	return uint64(math.Floor(b * (1 << ScaleShift))), nil
}

// QuantBudget converts a squared-L2 budget in model units² to quantised
// units², rounding down: ⌊l2·2^32⌋.
func QuantBudget(l2 float64) (uint64, error) {
	v := math.Floor(l2 * (1 << (2 * ScaleShift)))
	if !(v >= 0) || v >= 1<<63 {
		return 0, fmt.Errorf("zk: L2 budget %v: must be in [0, %d)", l2, 1<<(63-2*ScaleShift))
	}
	return uint64(v), nil
}

// ProveOptions tune Prove.
type ProveOptions struct {
	// Workers proves this many chunks at once; 0: for chunks of 4096
	// values or more, two for commitment and update proofs (gnark's prover
	// leaves a core idle in its serial phases; a production update chunk
	// needs ~0.3–0.4 GB) and one for merges (~0.9–1.4 GB per merge-of-4
	// chunk); for smaller chunks GOMAXPROCS.
	Workers int
	// Progress, when set, is called after each chunk with the number done.
	Progress func(done, total int)
}

func (o *ProveOptions) workers(chunk int, kind Kind) int {
	if o.Workers > 0 {
		return o.Workers
	}
	if chunk < 4096 {
		return runtime.GOMAXPROCS(0)
	}
	if kind == KindMerge {
		return 1
	}
	return min(2, runtime.GOMAXPROCS(0))
}

// Check verifies the statement natively (no proof): the layouts agree, an
// update stays within its bounds, a merge equals the weighted floor
// average. It returns the chunk budgets of an update. Errors are
// *CheckError naming the chunk and check.
func (st *Statement) Check(ctx context.Context) (*Commitment, []*Commitment, []uint64, error) {
	hexID := st.Commit.String()
	fail := func(chunk int, check string, err error) error {
		return &CheckError{Commit: hexID, Chunk: chunk, Check: check, Err: err}
	}
	if err := checkChunkSize(st.ChunkSize); err != nil {
		return nil, nil, nil, err
	}
	if len(st.ParentIDs) != len(st.Parents) {
		return nil, nil, nil, fmt.Errorf("zk: statement: %d parent ids for %d parents", len(st.ParentIDs), len(st.Parents))
	}
	if len(st.Parents) > MaxParents {
		return nil, nil, nil, fmt.Errorf("zk: statement: %d parents (at most %d)", len(st.Parents), MaxParents)
	}
	self, err := Commit(ctx, st.Self, st.ChunkSize)
	if err != nil {
		return nil, nil, nil, err
	}
	var parents []*Commitment
	for i, p := range st.Parents {
		if p.Layout != st.Self.Layout || len(p.Q) != len(st.Self.Q) {
			return nil, nil, nil, fail(-1, kindOf(len(st.Parents)).String(), fmt.Errorf("%w: parent %s has other tensors than the commit", ErrLayout, st.ParentIDs[i].Short()))
		}
		pc, err := Commit(ctx, p, st.ChunkSize)
		if err != nil {
			return nil, nil, nil, err
		}
		parents = append(parents, pc)
	}
	n := len(self.Chunks)
	switch kindOf(len(st.Parents)) {
	case KindUpdate:
		if st.Linf >= 1<<maxLinfBits {
			return nil, nil, nil, fmt.Errorf("zk: L∞ bound %d: at most 2^%d − 1", st.Linf, maxLinfBits)
		}
		p, c := st.Parents[0].Q, st.Self.Q
		sums := make([]uint64, n)
		var total uint64
		for i := range c {
			d := int64(c[i]) - int64(p[i])
			if uint64(abs(d)) > st.Linf {
				return nil, nil, nil, fail(i/st.ChunkSize, "update", fmt.Errorf("%w: %s changes by %g, bound %g (zk.linf)", ErrBound, st.Self.Where(i),
					float64(d)/(1<<ScaleShift), float64(st.Linf)/(1<<ScaleShift)))
			}
			sums[i/st.ChunkSize] += uint64(d * d) // ≤ 2^20·2^56: no overflow
		}
		for _, s := range sums {
			total += s
		}
		if !st.HasL2 {
			return self, parents, sums, nil
		}
		if total > st.L2 {
			return nil, nil, nil, fail(-1, "update", fmt.Errorf("%w: squared L2 norm of the update %g exceeds the budget %g (zk.l2)", ErrBound,
				float64(total)/(1<<(2*ScaleShift)), float64(st.L2)/(1<<(2*ScaleShift))))
		}
		// Spread the slack evenly so chunk budgets reveal less than the
		// exact per-chunk norms; their sum stays ≤ L2.
		if n > 0 {
			extra := (st.L2 - total) / uint64(n)
			for i := range sums {
				sums[i] += extra
			}
		}
		return self, parents, sums, nil
	case KindMerge:
		if len(st.Weights) != len(st.Parents) {
			return nil, nil, nil, fmt.Errorf("zk: merge: %d weights for %d parents", len(st.Weights), len(st.Parents))
		}
		var w uint64
		for _, x := range st.Weights {
			if x > 1<<32-1 {
				return nil, nil, nil, fmt.Errorf("zk: merge: weight %d above 2^32 − 1", x)
			}
			w += x
		}
		if w == 0 {
			return nil, nil, nil, fmt.Errorf("zk: merge: all weights zero")
		}
		for i := range st.Self.Q {
			num := new(big.Int)
			for j, p := range st.Parents {
				num.Add(num, new(big.Int).Mul(big.NewInt(int64(p.Q[i])), new(big.Int).SetUint64(st.Weights[j])))
			}
			want := new(big.Int).Div(num, new(big.Int).SetUint64(w)) // Euclidean: floor for a positive divisor
			if want.Int64() != int64(st.Self.Q[i]) {
				return nil, nil, nil, fail(i/st.ChunkSize, "merge", fmt.Errorf("%w: %s is %g, the weighted floor average of the parents is %g", ErrMismatch,
					st.Self.Where(i), float64(st.Self.Q[i])/(1<<ScaleShift), float64(want.Int64())/(1<<ScaleShift)))
			}
		}
	}
	return self, parents, nil, nil
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

func kindOf(parents int) Kind {
	switch parents {
	case 0:
		return KindCommit
	case 1:
		return KindUpdate
	}
	return KindMerge
}

// ShapeOf returns the circuit shape a statement needs.
func (st *Statement) ShapeOf() Shape {
	s := Shape{Kind: kindOf(len(st.Parents)), N: st.ChunkSize}
	switch s.Kind {
	case KindUpdate:
		s.LBits = linfBits(st.Linf)
	case KindMerge:
		var w uint64
		for _, x := range st.Weights {
			w += x
		}
		s.K, s.WBits = len(st.Parents), weightBits(max(w, 1))
	}
	return s
}

// Prove checks the statement natively and proves it chunk by chunk with
// the cached keys of its shape (ErrNoKeys when there are none).
func (c *Cache) Prove(ctx context.Context, st *Statement, opts ProveOptions) (*Body, error) {
	self, parents, budgets, err := st.Check(ctx)
	if err != nil {
		return nil, err
	}
	shape := st.ShapeOf()
	if err := shape.Validate(); err != nil {
		return nil, err
	}
	vk, err := c.VerifyingKey(shape)
	if err != nil {
		return nil, err
	}
	pk, _, err := c.provingKey(shape)
	if err != nil {
		return nil, err
	}
	cs, err := c.compiled(shape)
	if err != nil {
		return nil, err
	}
	b := &Body{Kind: shape.Kind, ChunkSize: st.ChunkSize, Self: *self, VK: vk.ID, LBits: shape.LBits, WBits: shape.WBits}
	for i, p := range parents {
		b.Parents = append(b.Parents, ParentCommitment{Commit: st.ParentIDs[i], Extras: p.Extras, Chunks: p.Chunks})
	}
	switch shape.Kind {
	case KindUpdate:
		b.Linf, b.HasL2, b.L2, b.Budgets = st.Linf, st.HasL2, st.L2, budgets
	case KindMerge:
		b.Weights = append([]uint64(nil), st.Weights...)
	}
	n := len(self.Chunks)
	b.Proofs = make([][]byte, n)
	var done atomic.Int64
	err = parallel(ctx, n, opts.workers(st.ChunkSize, shape.Kind), func(i int) error {
		full, err := b.assignment(st, i)
		if err != nil {
			return &CheckError{Commit: st.Commit.String(), Chunk: i, Check: shape.Kind.String(), Err: err}
		}
		w, err := frontend.NewWitness(full, ecc.BN254.ScalarField())
		if err != nil {
			return fmt.Errorf("zk: chunk %d witness: %w", i, err)
		}
		proof, err := groth16.Prove(cs, pk, w)
		if err != nil {
			return &CheckError{Commit: st.Commit.String(), Chunk: i, Check: shape.Kind.String(), Err: fmt.Errorf("prove: %w", err)}
		}
		// Every proof is checked before it is kept (~1 ms against seconds of
		// proving): a verifying key that does not pair with the proving key
		// (a damaged file decodes to other valid points more often than
		// not) would otherwise yield proofs that nobody can verify.
		pub, err := w.Public()
		if err == nil {
			err = groth16.Verify(proof, vk.vk, pub)
		}
		if err != nil {
			return &KeyFileError{Path: c.path(shape, ".vk"), Err: fmt.Errorf("%w: the proof of chunk %d just made does not verify with it (the proving and verifying keys do not pair, or one is damaged): %v", ErrMalformed, i, err)}
		}
		var buf bytes.Buffer
		if _, err := proof.WriteTo(&buf); err != nil {
			return fmt.Errorf("zk: chunk %d: encode proof: %w", i, err)
		}
		b.Proofs[i] = buf.Bytes()
		if opts.Progress != nil {
			opts.Progress(int(done.Add(1)), n)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return b, nil
}

// assignment is the full witness of chunk i.
func (b *Body) assignment(st *Statement, i int) (frontend.Circuit, error) {
	n := b.ChunkSize
	self := chunkOf(st.Self.Q, n, i)
	switch b.Kind {
	case KindCommit:
		return commitAssignment(self, n, b.Self.Chunks[i]), nil
	case KindUpdate:
		return updateAssignment(chunkOf(st.Parents[0].Q, n, i), self, n, b.LBits, b.Parents[0].Chunks[i], b.Self.Chunks[i],
			b.Linf, new(big.Int).SetUint64(b.Budgets[i])), nil
	default:
		ps := make([][]int32, len(st.Parents))
		pcs := make([]Digest, len(st.Parents))
		for j, p := range st.Parents {
			ps[j] = chunkOf(p.Q, n, i)
			pcs[j] = b.Parents[j].Chunks[i]
		}
		a, _, err := mergeAssignment(ps, self, n, b.WBits, pcs, b.Self.Chunks[i], b.Weights)
		return a, err
	}
}

// publicWitness is the public part of chunk i's statement.
func (b *Body) publicWitness(i int) (witness.Witness, error) {
	var a frontend.Circuit
	switch b.Kind {
	case KindCommit:
		a = &commitCircuit{Commit: fe(b.Self.Chunks[i])}
	case KindUpdate:
		a = &updateCircuit{Parent: fe(b.Parents[0].Chunks[i]), Child: fe(b.Self.Chunks[i]), Linf: b.Linf, Budget: new(big.Int).SetUint64(b.Budgets[i])}
	default:
		m := &mergeCircuit{Merged: fe(b.Self.Chunks[i])}
		for j, p := range b.Parents {
			m.Parents = append(m.Parents, fe(p.Chunks[i]))
			m.Weights = append(m.Weights, b.Weights[j])
		}
		a = m
	}
	return frontend.NewWitness(a, ecc.BN254.ScalarField(), frontend.PublicOnly())
}

// VerifyOptions tune Verify.
type VerifyOptions struct {
	// Pinned, when not empty, lists the verifying keys the repository
	// accepts (zk.vk); any other key fails with ErrUnpinned.
	Pinned []objects.ID
	// Workers verifies this many chunks at once; 0: GOMAXPROCS.
	Workers int
}

// Verify checks body, attached to commit, against its verifying key: the
// public parameters are consistent and every chunk proof verifies. It
// does not know the commit's parents or weights; the caller compares
// body's commitments with what it knows. Errors are *CheckError.
func Verify(ctx context.Context, commit objects.ID, b *Body, vk *VerifyingKey, opts VerifyOptions) error {
	hexID := commit.String()
	fail := func(chunk int, check string, err error) error {
		return &CheckError{Commit: hexID, Chunk: chunk, Check: check, Err: err}
	}
	if vk.ID != b.VK {
		return fail(-1, "key", fmt.Errorf("%w: proof names verifying key %s, given %s", ErrInvalidProof, b.VK.Short(), vk.ID.Short()))
	}
	if vk.Shape != b.Shape() {
		return fail(-1, "key", fmt.Errorf("%w: verifying key is for %s, the proof for %s", ErrInvalidProof, vk.Shape, b.Shape()))
	}
	if len(opts.Pinned) > 0 {
		pinned := false
		for _, id := range opts.Pinned {
			pinned = pinned || id == vk.ID
		}
		if !pinned {
			return fail(-1, "key", fmt.Errorf("%w: %s key %s (%s) is not in zk.vk", ErrUnpinned, vk.Origin, vk.ID.Short(), vk.Shape))
		}
	}
	n := len(b.Self.Chunks)
	if len(b.Proofs) != n {
		return fail(-1, "proof", fmt.Errorf("%w: %d proofs for %d chunks", ErrMalformed, len(b.Proofs), n))
	}
	switch b.Kind {
	case KindUpdate:
		if linfBits(b.Linf) > b.LBits {
			return fail(-1, "update", fmt.Errorf("%w: bound %d does not fit %d bits", ErrInvalidProof, b.Linf, b.LBits))
		}
		var sum uint64
		for _, x := range b.Budgets {
			if x >= 1<<62 || sum+x < sum {
				return fail(-1, "update", fmt.Errorf("%w: chunk budgets overflow", ErrInvalidProof))
			}
			sum += x
		}
		if b.HasL2 && sum > b.L2 {
			return fail(-1, "update", fmt.Errorf("%w: chunk budgets sum to %d, above the L2 budget %d", ErrInvalidProof, sum, b.L2))
		}
	case KindMerge:
		var w uint64
		for _, x := range b.Weights {
			if x > 1<<32-1 {
				return fail(-1, "merge", fmt.Errorf("%w: weight %d above 2^32 − 1", ErrInvalidProof, x))
			}
			w += x
		}
		if w == 0 || weightBits(w) > b.WBits {
			return fail(-1, "merge", fmt.Errorf("%w: total weight %d does not fit %d bits", ErrInvalidProof, w, b.WBits))
		}
	}
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	return parallel(ctx, n, workers, func(i int) error {
		proof := groth16.NewProof(ecc.BN254)
		if err := safeRead(func() error {
			m, err := proof.ReadFrom(bytes.NewReader(b.Proofs[i]))
			if err == nil && m != int64(len(b.Proofs[i])) {
				err = errors.New("trailing bytes")
			}
			return err
		}); err != nil {
			return fail(i, b.Kind.String(), fmt.Errorf("%w: proof bytes: %w", ErrInvalidProof, err))
		}
		pw, err := b.publicWitness(i)
		if err != nil {
			return fail(i, b.Kind.String(), err)
		}
		if err := groth16.Verify(proof, vk.vk, pw); err != nil {
			return fail(i, b.Kind.String(), fmt.Errorf("%w: %v", ErrInvalidProof, err))
		}
		return nil
	})
}

// sampleWitness is a valid witness of shape (all values zero), used to
// test imported keys.
func sampleWitness(shape Shape) (witness.Witness, witness.Witness, error) {
	zero := make([]int32, shape.N)
	c := HashChunk(zero, shape.N)
	var a frontend.Circuit
	switch shape.Kind {
	case KindCommit:
		a = commitAssignment(zero, shape.N, c)
	case KindUpdate:
		a = updateAssignment(zero, zero, shape.N, shape.LBits, c, c, 0, big.NewInt(0))
	default:
		ps := make([][]int32, shape.K)
		pcs := make([]Digest, shape.K)
		w := make([]uint64, shape.K)
		for i := range ps {
			ps[i], pcs[i], w[i] = zero, c, 1
		}
		m, _, err := mergeAssignment(ps, zero, shape.N, shape.WBits, pcs, c, w)
		if err != nil {
			return nil, nil, err
		}
		a = m
	}
	full, err := frontend.NewWitness(a, ecc.BN254.ScalarField())
	if err != nil {
		return nil, nil, fmt.Errorf("zk: sample witness %s: %w", shape, err)
	}
	public, err := full.Public()
	if err != nil {
		return nil, nil, fmt.Errorf("zk: sample witness %s: %w", shape, err)
	}
	return full, public, nil
}
