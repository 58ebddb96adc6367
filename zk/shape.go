package zk

import (
	"fmt"
	"math/big"
	"math/bits"

	"github.com/consensys/gnark/frontend"
)

// Circuit kinds, also byte 6 of a proof body.
const (
	KindCommit Kind = 1 // a root commit: commitment and range only
	KindUpdate Kind = 2 // one parent: bounded update
	KindMerge  Kind = 3 // two or more parents: exact weighted floor average
)

// Kind is a circuit family.
type Kind uint8

func (k Kind) String() string {
	switch k {
	case KindCommit:
		return "commitment"
	case KindUpdate:
		return "update"
	case KindMerge:
		return "merge"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Shape identifies one compiled circuit and hence one key pair.
type Shape struct {
	Kind  Kind
	N     int // values per chunk
	LBits int // update: Linf < 2^LBits
	K     int // merge: number of parents
	WBits int // merge: Σw ≤ 2^WBits
}

// String is the shape's stable name, used for key file names:
// "v1-commit-n64", "v1-update-n64-l12", "v1-merge4-n64-w16".
func (s Shape) String() string {
	switch s.Kind {
	case KindCommit:
		return fmt.Sprintf("v%d-commit-n%d", CircuitVersion, s.N)
	case KindUpdate:
		return fmt.Sprintf("v%d-update-n%d-l%d", CircuitVersion, s.N, s.LBits)
	case KindMerge:
		return fmt.Sprintf("v%d-merge%d-n%d-w%d", CircuitVersion, s.K, s.N, s.WBits)
	}
	return fmt.Sprintf("v%d-invalid", CircuitVersion)
}

// ParseShape is the inverse of Shape.String.
func ParseShape(s string) (Shape, error) {
	var sh Shape
	var v int
	var err error
	switch {
	case scan(s, "v%d-commit-n%d", &v, &sh.N):
		sh.Kind = KindCommit
	case scan(s, "v%d-update-n%d-l%d", &v, &sh.N, &sh.LBits):
		sh.Kind = KindUpdate
	case scan(s, "v%d-merge%d-n%d-w%d", &v, &sh.K, &sh.N, &sh.WBits):
		sh.Kind = KindMerge
	default:
		return Shape{}, fmt.Errorf("%w: circuit shape %q", ErrMalformed, s)
	}
	if v != CircuitVersion {
		return Shape{}, fmt.Errorf("%w: circuit version %d (this fed knows %d)", ErrUnknownVersion, v, CircuitVersion)
	}
	if err = sh.Validate(); err != nil {
		return Shape{}, err
	}
	return sh, nil
}

func scan(s, format string, args ...any) bool {
	n, err := fmt.Sscanf(s, format, args...)
	if err != nil || n != len(args) {
		return false
	}
	// Sscanf accepts trailing garbage; require the exact canonical form.
	vals := make([]any, len(args))
	for i, a := range args {
		vals[i] = *(a.(*int))
	}
	return fmt.Sprintf(format, vals...) == s
}

// Validate checks the shape's parameters.
func (s Shape) Validate() error {
	if err := checkChunkSize(s.N); err != nil {
		return err
	}
	switch s.Kind {
	case KindCommit:
		if s.LBits != 0 || s.K != 0 || s.WBits != 0 {
			break
		}
		return nil
	case KindUpdate:
		if s.LBits >= 1 && s.LBits <= maxLinfBits && s.K == 0 && s.WBits == 0 {
			return nil
		}
	case KindMerge:
		if s.K >= 2 && s.K <= MaxParents && s.WBits >= 1 && s.WBits <= maxWeightBits && s.LBits == 0 {
			return nil
		}
	}
	return fmt.Errorf("%w: circuit shape %+v", ErrMalformed, s)
}

// MaxParents bounds the parents of a proven merge.
const MaxParents = 16

// linfBits is the shape parameter for a bound: the smallest multiple of 4,
// at least 8, with B < 2^bits.
func linfBits(b uint64) int { return roundBits(bits.Len64(b), 8) }

// weightBits is the shape parameter for a total weight W: the smallest
// multiple of 4, at least 8, with W ≤ 2^bits.
func weightBits(w uint64) int { return roundBits(bits.Len64(w-1), 8) }

func roundBits(n, lo int) int {
	n = max(n, lo)
	return (n + 3) / 4 * 4
}

// placeholder returns an empty circuit of the shape for compiling.
func (s Shape) placeholder() frontend.Circuit {
	switch s.Kind {
	case KindCommit:
		return &commitCircuit{D: make([]frontend.Variable, s.N)}
	case KindUpdate:
		return &updateCircuit{P: make([]frontend.Variable, s.N), Delta: make([]frontend.Variable, s.N), lbits: s.LBits}
	default:
		c := &mergeCircuit{Parents: make([]frontend.Variable, s.K), Weights: make([]frontend.Variable, s.K),
			X: make([][]frontend.Variable, s.K), M: make([]frontend.Variable, s.N), wbits: s.WBits}
		for i := range c.X {
			c.X[i] = make([]frontend.Variable, s.N)
		}
		return c
	}
}

func digitsOf(q []int32, n int) []frontend.Variable {
	out := make([]frontend.Variable, n)
	for i := range out {
		var v int32
		if i < len(q) {
			v = q[i]
		}
		out[i] = digit(v)
	}
	return out
}

func fe(d Digest) *big.Int { return new(big.Int).SetBytes(d[:]) }

// commitAssignment is the full witness of a commitment proof.
func commitAssignment(q []int32, n int, c Digest) *commitCircuit {
	return &commitCircuit{Commit: fe(c), D: digitsOf(q, n)}
}

// updateAssignment is the full witness of a bounded update of one chunk.
func updateAssignment(parent, child []int32, n, lbits int, pc, cc Digest, linf uint64, budget *big.Int) *updateCircuit {
	a := &updateCircuit{Parent: fe(pc), Child: fe(cc), Linf: linf, Budget: budget, P: digitsOf(parent, n), Delta: make([]frontend.Variable, n), lbits: lbits}
	for i := range a.Delta {
		var p, c int64
		if i < len(parent) {
			p = int64(parent[i])
		}
		if i < len(child) {
			c = int64(child[i])
		}
		a.Delta[i] = c - p + 1<<lbits
	}
	return a
}

// mergeAssignment is the full witness of a merge of one chunk. It fails
// (ErrMismatch) when merged is not the weighted floor average.
func mergeAssignment(parents [][]int32, merged []int32, n, wbits int, pcs []Digest, mc Digest, w []uint64) (*mergeCircuit, int, error) {
	k := len(parents)
	a := &mergeCircuit{Parents: make([]frontend.Variable, k), Weights: make([]frontend.Variable, k), X: make([][]frontend.Variable, k),
		Merged: fe(mc), M: digitsOf(merged, n), wbits: wbits}
	var total uint64
	for j := range parents {
		a.Parents[j] = fe(pcs[j])
		a.Weights[j] = w[j]
		a.X[j] = digitsOf(parents[j], n)
		total += w[j]
	}
	at := func(q []int32, i int) int64 {
		if i < len(q) {
			return int64(q[i])
		}
		return 0
	}
	bt := new(big.Int).SetUint64(total)
	for i := 0; i < n; i++ {
		s := new(big.Int)
		for j := range parents {
			s.Add(s, new(big.Int).Mul(new(big.Int).SetUint64(w[j]), big.NewInt(at(parents[j], i)+digitOffset)))
		}
		r := new(big.Int).Sub(s, new(big.Int).Mul(big.NewInt(at(merged, i)+digitOffset), bt))
		if r.Sign() < 0 || r.Cmp(bt) >= 0 {
			return nil, i, ErrMismatch
		}
	}
	return a, -1, nil
}
