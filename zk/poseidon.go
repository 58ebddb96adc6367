package zk

import (
	"math/big"
	"sync"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr/poseidon2"
	"github.com/consensys/gnark/frontend"
)

// circuitPerm is the Poseidon2 permutation (width 16, 8 full and 57 partial
// rounds, gnark-crypto's BN254 constants) in-circuit. It computes the same
// function as gnark's std/permutation/poseidon2 and gnark-crypto's native
// permutation; only the S-box x^5 is arranged for the Groth16 prover:
// s = x·x, u = s·x, y = u·s. gnark's R1CS builder puts the operand with
// fewer terms on the B side, so s and the round inputs (already there for
// the square) are B-side and u is not: a third of the permutation's
// variables stay out of the B multi-exponentiations (the G2 one is the
// prover's most expensive per point). gnark's order (x², x⁴, x⁴·x) puts
// all three on the B side.
type circuitPerm struct {
	api  frontend.API
	keys [][]*big.Int
	diag []*big.Int
}

var (
	permParamsOnce sync.Once
	permKeys       [][]*big.Int
	permDiag       []*big.Int
)

func newCircuitPerm(api frontend.API) *circuitPerm {
	permParamsOnce.Do(func() {
		p := poseidon2.NewParameters(spongeWidth, fullRounds, partialRounds)
		permKeys = make([][]*big.Int, len(p.RoundKeys))
		for i, rk := range p.RoundKeys {
			permKeys[i] = make([]*big.Int, len(rk))
			for j := range rk {
				permKeys[i][j] = rk[j].BigInt(new(big.Int))
			}
		}
		permDiag = make([]*big.Int, len(p.DiagM1))
		for i := range p.DiagM1 {
			permDiag[i] = p.DiagM1[i].BigInt(new(big.Int))
		}
	})
	return &circuitPerm{api: api, keys: permKeys, diag: permDiag}
}

func (h *circuitPerm) sBox(x frontend.Variable) frontend.Variable {
	api := h.api
	s := api.Mul(x, x)
	u := api.Mul(s, x)
	return api.Mul(u, s)
}

// external multiplies by the width-16 external matrix: circ(2M4, M4, M4,
// M4) as four 4×4 blocks M4 plus the column sums.
func (h *circuitPerm) external(st []frontend.Variable) {
	api := h.api
	for i := 0; i < len(st)/4; i++ {
		s := st[4*i : 4*i+4]
		t0 := api.Add(s[0], s[1])
		t1 := api.Add(s[2], s[3])
		t2 := api.Add(api.Mul(s[1], 2), t1)
		t3 := api.Add(api.Mul(s[3], 2), t0)
		t4 := api.Add(api.Mul(t1, 4), t3)
		t5 := api.Add(api.Mul(t0, 4), t2)
		s[0], s[1], s[2], s[3] = api.Add(t3, t5), t5, api.Add(t2, t4), t4
	}
	var sums [4]frontend.Variable
	for j := range sums {
		terms := make([]frontend.Variable, 0, len(st)/4)
		for i := j; i < len(st); i += 4 {
			terms = append(terms, st[i])
		}
		sums[j] = sum(h.api, terms)
	}
	for i := range st {
		st[i] = api.Add(st[i], sums[i%4])
	}
}

// internal multiplies by the internal matrix: diag(DiagM1) + all-ones.
func (h *circuitPerm) internal(st []frontend.Variable) {
	total := sum(h.api, st)
	for i := range st {
		st[i] = h.api.Add(h.api.Mul(st[i], h.diag[i]), total)
	}
}

func (h *circuitPerm) addKeys(round int, st []frontend.Variable) {
	for i, k := range h.keys[round] {
		st[i] = h.api.Add(st[i], k)
	}
}

// permute applies the permutation to st (len spongeWidth) in place.
func (h *circuitPerm) permute(st []frontend.Variable) {
	h.external(st)
	half := fullRounds / 2
	for r := 0; r < half; r++ {
		h.addKeys(r, st)
		for i := range st {
			st[i] = h.sBox(st[i])
		}
		h.external(st)
	}
	for r := half; r < half+partialRounds; r++ {
		h.addKeys(r, st)
		st[0] = h.sBox(st[0])
		h.internal(st)
	}
	for r := half + partialRounds; r < fullRounds+partialRounds; r++ {
		h.addKeys(r, st)
		for i := range st {
			st[i] = h.sBox(st[i])
		}
		h.external(st)
	}
}
