package zk

import (
	"fmt"

	"github.com/consensys/gnark/frontend"
)

// hashDigits is HashChunk in-circuit: d holds the n digits (already
// offset). It binds only their packing: the caller range-checks digits
// where the decomposition matters.
func hashDigits(api frontend.API, d []frontend.Variable) (frontend.Variable, error) {
	p := newCircuitPerm(api)
	n := len(d)
	state := make([]frontend.Variable, spongeWidth)
	state[0] = spongeTag(n)
	for i := 1; i < spongeWidth; i++ {
		state[i] = 0
	}
	lane := 0
	for e := 0; e*PerElement < n; e++ {
		hi := min((e+1)*PerElement, n)
		var acc frontend.Variable = 0
		for j := hi - 1; j >= e*PerElement; j-- {
			acc = api.Add(api.Mul(acc, 1<<digitBits), d[j])
		}
		state[1+lane] = api.Add(state[1+lane], acc)
		lane++
		if lane == spongeRate {
			p.permute(state)
			lane = 0
		}
	}
	if lane != 0 {
		p.permute(state)
	}
	return state[1], nil
}

// checkDigit asserts 2^29 ≤ d < 3·2^29, i.e. |q| < 2^29.
func checkDigit(rc *ranger, d frontend.Variable) {
	rc.check(rc.api.Sub(d, digitOffset-(1<<ValueBits)), ValueBits+1)
}

// commitCircuit proves that the public Commit is the chunk commitment of
// n digits that all lie in the committed range.
type commitCircuit struct {
	Commit frontend.Variable `gnark:",public"`
	D      []frontend.Variable
}

func (c *commitCircuit) Define(api frontend.API) error {
	rc := newRanger(api)
	rc.bind(c.D...)
	for _, d := range c.D {
		checkDigit(rc, d)
	}
	h, err := hashDigits(api, c.D)
	if err != nil {
		return err
	}
	api.AssertIsEqual(h, c.Commit)
	return rc.finish()
}

// updateCircuit proves, for one chunk, that Parent and Child commit to
// packed elements e_p and e_p + pack(δ) with |δ_j| ≤ Linf element-wise and
// Σδ² ≤ Budget. lbits fixes the circuit shape: Linf < 2^lbits. The parent
// digits P are not range-checked (circuit version 2): only their packing
// e_p enters the statement, and the parent's range is the verifier's to
// establish (its weights, or its own proof; see design §15.4). The witness
// holds Delta[j] = δ_j + 2^lbits, a small non-negative integer (cheaper for
// the prover than a negative δ, which is a full-size field element).
type updateCircuit struct {
	Parent frontend.Variable `gnark:",public"`
	Child  frontend.Variable `gnark:",public"`
	Linf   frontend.Variable `gnark:",public"`
	Budget frontend.Variable `gnark:",public"`
	P      []frontend.Variable
	Delta  []frontend.Variable
	lbits  int
}

// budgetBits bounds the L2 budget: Budget < 2^budgetBits; Σδ² over a
// chunk is below 2^20·2^56 = 2^76, so nothing wraps around the field.
const budgetBits = 78

func (c *updateCircuit) Define(api frontend.API) error {
	if c.lbits < 1 || c.lbits > maxLinfBits || len(c.P) != len(c.Delta) {
		return fmt.Errorf("zk: update circuit: bad shape")
	}
	rc := newRanger(api)
	rc.bind(c.Linf, c.Budget)
	rc.bind(c.Delta...)
	rc.check(c.Linf, c.lbits)
	rc.check(c.Budget, budgetBits)
	off := 1 << c.lbits
	child := make([]frontend.Variable, len(c.P))
	sq := make([]frontend.Variable, len(c.P))
	for i, p := range c.P {
		d := api.Sub(c.Delta[i], off)
		rc.checkLoose(api.Add(d, c.Linf), c.lbits+1) // δ ≥ −Linf
		rc.checkLoose(api.Sub(c.Linf, d), c.lbits+1) // δ ≤ Linf
		sq[i] = api.Mul(d, d)
		child[i] = api.Add(p, d)
	}
	rc.check(api.Sub(c.Budget, sum(api, sq)), budgetBits) // Σδ² ≤ Budget
	hp, err := hashDigits(api, c.P)
	if err != nil {
		return err
	}
	api.AssertIsEqual(hp, c.Parent)
	hc, err := hashDigits(api, child)
	if err != nil {
		return err
	}
	api.AssertIsEqual(hc, c.Child)
	return rc.finish()
}

// maxLinfBits keeps |δ| < 2^28: a child of a parent in the committed range
// has digits in [2^29 − 2^28, 3·2^29 + 2^28) ⊂ [0, 2^31).
const maxLinfBits = 28

// mergeCircuit proves, for one chunk, that Merged commits to digits m with
// m·W + r = Σ w_k·x_k and 0 ≤ r < W for every element, W = Σ w_k, where
// Parents[k] commits to the digits x_k. wbits fixes the shape: W ≤ 2^wbits.
// The remainder is not a witness: r = Σ_k w_k·(x_k − m + 2^31) − 2^31·W,
// K products per element (each a small non-negative integer).
type mergeCircuit struct {
	Parents []frontend.Variable `gnark:",public"`
	Merged  frontend.Variable   `gnark:",public"`
	Weights []frontend.Variable `gnark:",public"`
	X       [][]frontend.Variable
	M       []frontend.Variable
	wbits   int
}

func (c *mergeCircuit) Define(api frontend.API) error {
	k := len(c.Parents)
	if k < 2 || len(c.Weights) != k || len(c.X) != k || c.wbits < 1 || c.wbits > maxWeightBits {
		return fmt.Errorf("zk: merge circuit: bad shape")
	}
	rc := newRanger(api)
	rc.bind(c.Weights...)
	rc.bind(c.M...)
	for _, w := range c.Weights {
		rc.check(w, c.wbits)
	}
	total := sum(api, c.Weights)
	rc.check(api.Sub(total, 1), c.wbits) // 1 ≤ W ≤ 2^wbits
	for _, x := range c.X {
		if len(x) != len(c.M) {
			return fmt.Errorf("zk: merge circuit: bad shape")
		}
		rc.bind(x...)
		for _, d := range x {
			checkDigit(rc, d)
		}
	}
	const lift = 1 << digitBits
	prods := make([]frontend.Variable, k)
	for i, m := range c.M {
		checkDigit(rc, m)
		for j := range c.X {
			prods[j] = api.Mul(c.Weights[j], api.Add(api.Sub(c.X[j][i], m), lift))
		}
		r := api.Sub(sum(api, prods), api.Mul(total, lift))
		rc.checkLoose(r, c.wbits)                             // r ≥ 0 (and small)
		rc.checkLoose(api.Sub(api.Sub(total, 1), r), c.wbits) // r ≤ W − 1
	}
	for j, x := range c.X {
		h, err := hashDigits(api, x)
		if err != nil {
			return err
		}
		api.AssertIsEqual(h, c.Parents[j])
	}
	h, err := hashDigits(api, c.M)
	if err != nil {
		return err
	}
	api.AssertIsEqual(h, c.Merged)
	return rc.finish()
}

// maxWeightBits bounds W = Σ w_k ≤ 2^40: Σ w·x < 2^72, far below the field.
const maxWeightBits = 40
