package zk

import (
	"fmt"

	"github.com/consensys/gnark/frontend"
	"github.com/consensys/gnark/std/permutation/poseidon2"
	"github.com/consensys/gnark/std/rangecheck"
)

// hashDigits is HashChunk in-circuit: d holds the n packed digits (already
// offset), which the caller has range-checked.
func hashDigits(api frontend.API, d []frontend.Variable) (frontend.Variable, error) {
	p, err := poseidon2.NewPoseidon2FromParameters(api, spongeWidth, fullRounds, partialRounds)
	if err != nil {
		return nil, err
	}
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
			if err := p.Permutation(state); err != nil {
				return nil, err
			}
			lane = 0
		}
	}
	if lane != 0 {
		if err := p.Permutation(state); err != nil {
			return nil, err
		}
	}
	return state[1], nil
}

// checkDigit asserts 2^29 ≤ d < 3·2^29, i.e. |q| < 2^29.
func checkDigit(api frontend.API, rc frontend.Rangechecker, d frontend.Variable) {
	rc.Check(api.Sub(d, digitOffset-(1<<ValueBits)), ValueBits+1)
}

// commitCircuit proves that the public Commit is the chunk commitment of
// n digits that all lie in the committed range.
type commitCircuit struct {
	Commit frontend.Variable `gnark:",public"`
	D      []frontend.Variable
}

func (c *commitCircuit) Define(api frontend.API) error {
	rc := rangecheck.New(api)
	for _, d := range c.D {
		checkDigit(api, rc, d)
	}
	h, err := hashDigits(api, c.D)
	if err != nil {
		return err
	}
	api.AssertIsEqual(h, c.Commit)
	return nil
}

// updateCircuit proves, for one chunk, that Parent and Child commit to
// digits p and p+δ with p in range, |δ| ≤ Linf element-wise and Σδ² ≤
// Budget. lbits fixes the circuit shape: Linf < 2^lbits.
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
	rc := rangecheck.New(api)
	rc.Check(c.Linf, c.lbits)
	rc.Check(c.Budget, budgetBits)
	child := make([]frontend.Variable, len(c.P))
	var sum frontend.Variable = 0
	for i, p := range c.P {
		checkDigit(api, rc, p)
		d := c.Delta[i]
		rc.Check(api.Add(d, c.Linf), c.lbits+1) // δ ≥ −Linf
		rc.Check(api.Sub(c.Linf, d), c.lbits+1) // δ ≤ Linf
		sum = api.Add(sum, api.Mul(d, d))
		child[i] = api.Add(p, d)
	}
	rc.Check(api.Sub(c.Budget, sum), budgetBits) // Σδ² ≤ Budget
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
	return nil
}

// maxLinfBits keeps |δ| < 2^28 so that child digits stay in [0, 2^31).
const maxLinfBits = 28

// mergeCircuit proves, for one chunk, that Merged commits to digits m with
// m·W + r = Σ w_k·x_k and 0 ≤ r < W for every element, W = Σ w_k, where
// Parents[k] commits to the digits x_k. wbits fixes the shape: W ≤ 2^wbits.
type mergeCircuit struct {
	Parents []frontend.Variable `gnark:",public"`
	Merged  frontend.Variable   `gnark:",public"`
	Weights []frontend.Variable `gnark:",public"`
	X       [][]frontend.Variable
	M       []frontend.Variable
	R       []frontend.Variable
	wbits   int
}

func (c *mergeCircuit) Define(api frontend.API) error {
	k := len(c.Parents)
	if k < 2 || len(c.Weights) != k || len(c.X) != k || c.wbits < 1 || c.wbits > maxWeightBits {
		return fmt.Errorf("zk: merge circuit: bad shape")
	}
	rc := rangecheck.New(api)
	var total frontend.Variable = 0
	for _, w := range c.Weights {
		rc.Check(w, c.wbits)
		total = api.Add(total, w)
	}
	rc.Check(api.Sub(total, 1), c.wbits) // 1 ≤ W ≤ 2^wbits
	for _, x := range c.X {
		if len(x) != len(c.M) {
			return fmt.Errorf("zk: merge circuit: bad shape")
		}
		for _, d := range x {
			checkDigit(api, rc, d)
		}
	}
	for i, m := range c.M {
		checkDigit(api, rc, m)
		r := c.R[i]
		rc.Check(r, c.wbits)                             // r ≥ 0 (and small)
		rc.Check(api.Sub(api.Sub(total, 1), r), c.wbits) // r ≤ W − 1
		var s frontend.Variable = 0
		for j := range c.X {
			s = api.Add(s, api.Mul(c.Weights[j], c.X[j][i]))
		}
		api.AssertIsEqual(api.Add(api.Mul(m, total), r), s)
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
	return nil
}

// maxWeightBits bounds W = Σ w_k ≤ 2^40: Σ w·x < 2^72, far below the field.
const maxWeightBits = 40
