package zk

import (
	"fmt"
	"math/big"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark/constraint"
	"github.com/consensys/gnark/constraint/solver"
	"github.com/consensys/gnark/frontend"
	"github.com/consensys/gnark/std/multicommit"
)

// ranger is the circuits' range checker: a log-derivative lookup (Haböck,
// eprint 2022/1530) of every query against the table [0, 2^base):
//
//	Σ_t m_t / (ch − t) = Σ_q 1 / (ch − q)
//
// with multiplicities m_t and the challenge ch derived (gnark's BSB22
// commitment, part of every Groth16 proof) from the committed variables,
// which the queries are linear expressions of. It differs from gnark's
// std/rangecheck in three ways that save constraints and prover time:
// the lowest limb of a decomposed value is a linear expression (no hint
// variable, no recomposition constraint), a value that fits one limb is
// queried as the expression it is, and loose checks round the width up to
// whole limbs instead of adding a shifted query.
type ranger struct {
	api    frontend.API
	checks []rangeCheck
	bound  []frontend.Variable
}

type rangeCheck struct {
	v     frontend.Variable
	bits  int
	loose bool
}

func newRanger(api frontend.API) *ranger { return &ranger{api: api} }

// bind records variables the checked expressions are built from; they are
// committed before the challenge is drawn. Every variable a check refers
// to must be bound or be fixed by constraints on bound variables.
func (r *ranger) bind(vs ...frontend.Variable) { r.bound = append(r.bound, vs...) }

// check asserts 0 ≤ v < 2^bits.
func (r *ranger) check(v frontend.Variable, bits int) {
	r.checks = append(r.checks, rangeCheck{v: v, bits: bits})
}

// checkLoose asserts 0 ≤ v < 2^k for some k with bits ≤ k < bits + base:
// enough where only "v is a small non-negative integer" matters.
func (r *ranger) checkLoose(v frontend.Variable, bits int) {
	r.checks = append(r.checks, rangeCheck{v: v, bits: bits, loose: true})
}

// queries is the number of table lookups a check costs with limbs of base
// bits: one per limb, plus one for a top limb narrower than base (queried
// again shifted to the top of the table).
func (c rangeCheck) queries(base int) int {
	k := (c.bits + base - 1) / base
	if !c.loose && c.bits%base != 0 {
		k++
	}
	return k
}

// Table sizes the ranger chooses from.
const (
	minBase = 8
	maxBase = 16
)

// chooseBase returns the table width with the fewest constraints: one per
// table entry and one per query.
func (r *ranger) chooseBase() int {
	best, cost := 0, 0
	for b := minBase; b <= maxBase; b++ {
		c := 1 << b
		for _, ch := range r.checks {
			c += ch.queries(b)
		}
		if best == 0 || c < cost {
			best, cost = b, c
		}
	}
	return best
}

// finish builds the lookup argument; call it once, after the last check.
func (r *ranger) finish() error {
	if len(r.checks) == 0 {
		return nil
	}
	api := r.api
	base := r.chooseBase()
	var queries []frontend.Variable
	for _, c := range r.checks {
		bits := c.bits
		if c.loose {
			bits = (bits + base - 1) / base * base
		}
		k := (bits + base - 1) / base
		limbs := make([]frontend.Variable, k)
		if k == 1 {
			limbs[0] = c.v
		} else {
			hi, err := api.Compiler().NewHint(limbsHint, k-1, base, c.v)
			if err != nil {
				return fmt.Errorf("zk: range check: %w", err)
			}
			r.bind(hi...)
			low := c.v
			for i, l := range hi {
				low = api.Sub(low, api.Mul(l, new(big.Int).Lsh(big.NewInt(1), uint(base*(i+1)))))
				limbs[i+1] = l
			}
			limbs[0] = low
		}
		queries = append(queries, limbs...)
		if top := bits - base*(k-1); top < base {
			queries = append(queries, api.Mul(limbs[k-1], 1<<(base-top)))
		}
	}
	in := append([]frontend.Variable{base}, queries...)
	mult, err := api.Compiler().NewHint(countHint, 1<<base, in...)
	if err != nil {
		return fmt.Errorf("zk: range check: %w", err)
	}
	committed := append(r.bound, mult...)
	multicommit.WithCommitment(api, func(api frontend.API, ch frontend.Variable) error {
		raw := newRawR1C(api, ch)
		// m_t/(ch − t), as q_t·(ch − t) = m_t with q_t a hint kept off the B
		// side (api.DivUnchecked would put it there); q_t = 0 for the many
		// entries no query hits, which costs the prover nothing.
		left := make([]frontend.Variable, len(mult))
		if raw != nil {
			quo, err := api.Compiler().NewHint(quoHint, len(mult), append([]frontend.Variable{ch}, mult...)...)
			if err != nil {
				return fmt.Errorf("zk: range check: %w", err)
			}
			for t, m := range mult {
				raw.add(quo[t], api.Sub(ch, t), m)
				left[t] = quo[t]
			}
		} else {
			for t, m := range mult {
				left[t] = api.DivUnchecked(m, api.Sub(ch, t))
			}
		}
		// 1/(ch − q) as u + (ch − q), u a hint, with the single constraint
		// (u + ch − q)·(ch − q) = 1 written directly (rawR1C): u stays off
		// the B side. api.Inverse would put the inverse there (gnark's
		// builder moves the shorter operand to B), a full-size scalar in
		// the G2 multi-exponentiation.
		inv, err := api.Compiler().NewHint(invHint, len(queries), append([]frontend.Variable{ch}, queries...)...)
		if err != nil {
			return fmt.Errorf("zk: range check: %w", err)
		}
		right := make([]frontend.Variable, len(queries))
		for i, q := range queries {
			d := api.Sub(ch, q)
			right[i] = api.Add(inv[i], d)
			if raw != nil {
				raw.add(right[i], d, 1)
			} else {
				api.AssertIsEqual(api.Mul(right[i], d), 1)
			}
		}
		api.AssertIsEqual(sum(api, left), sum(api, right))
		return nil
	}, committed...)
	return nil
}

// rawR1C adds R1CS constraints L·R = O as written, without the builder's
// operand swap. It is nil for frontends other than gnark's R1CS builder
// (the test engine), where callers use the API instead.
type rawR1C struct {
	comp frontend.Compiler
	id   constraint.BlueprintID
	bp   *constraint.BlueprintGenericR1C
	one  constraint.LinearExpression
}

// probe is any non-constant variable.
func newRawR1C(api frontend.API, probe frontend.Variable) *rawR1C {
	comp := api.Compiler()
	if _, ok := comp.ToCanonicalVariable(probe).(constraint.LinearExpression); !ok {
		return nil
	}
	bp := &constraint.BlueprintGenericR1C{}
	return &rawR1C{comp: comp, id: comp.AddBlueprint(bp), bp: bp,
		one: constraint.LinearExpression{{CID: constraint.CoeffIdOne, VID: 0}}}
}

// add adds the constraint l·rr = o.
func (r *rawR1C) add(l, rr, o frontend.Variable) {
	c := constraint.R1C{L: r.le(l), R: r.le(rr), O: r.le(o)}
	var calldata []uint32
	r.bp.CompressR1C(&c, &calldata)
	r.comp.AddInstruction(r.id, calldata)
}

func (r *rawR1C) le(v frontend.Variable) constraint.LinearExpression {
	if c, ok := r.comp.ConstantValue(v); ok && c.IsInt64() && c.Int64() == 1 {
		return r.one
	}
	return r.comp.ToCanonicalVariable(v).(constraint.LinearExpression)
}

// sum adds vs pairwise (linear expressions stay short to build).
func sum(api frontend.API, vs []frontend.Variable) frontend.Variable {
	if len(vs) == 0 {
		return 0
	}
	vs = append([]frontend.Variable(nil), vs...)
	for len(vs) > 1 {
		for i := 0; i < len(vs)/2; i++ {
			vs[i] = api.Add(vs[2*i], vs[2*i+1])
		}
		if len(vs)%2 == 1 {
			vs[len(vs)/2] = vs[len(vs)-1]
		}
		vs = vs[:(len(vs)+1)/2]
	}
	return vs[0]
}

func init() { solver.RegisterHint(limbsHint, countHint, invHint, quoHint) }

// limbsHint splits inputs[1] into limbs of inputs[0] bits and returns
// limbs 1..len(outputs) (limb 0 is derived linearly in-circuit); the last
// output holds all remaining high bits.
func limbsHint(_ *big.Int, inputs, outputs []*big.Int) error {
	if len(inputs) != 2 || !inputs[0].IsUint64() {
		return fmt.Errorf("zk: limbs hint: bad inputs")
	}
	base := uint(inputs[0].Uint64())
	v := new(big.Int).Rsh(inputs[1], base)
	mask := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), base), big.NewInt(1))
	for i, o := range outputs {
		if i == len(outputs)-1 {
			o.Set(v)
			break
		}
		o.And(v, mask)
		v.Rsh(v, base)
	}
	return nil
}

// countHint returns, for a table [0, 2^inputs[0]), how often each entry
// occurs among inputs[1:]. A query outside the table fails the hint.
func countHint(_ *big.Int, inputs, outputs []*big.Int) error {
	if len(inputs) < 1 || !inputs[0].IsUint64() || len(outputs) != 1<<inputs[0].Uint64() {
		return fmt.Errorf("zk: count hint: bad inputs")
	}
	counts := make([]uint64, len(outputs))
	for _, q := range inputs[1:] {
		if !q.IsUint64() || q.Uint64() >= uint64(len(counts)) {
			return fmt.Errorf("zk: range check: value %v out of range", q)
		}
		counts[q.Uint64()]++
	}
	for i, o := range outputs {
		o.SetUint64(counts[i])
	}
	return nil
}

// invHint returns, for ch = inputs[0] and each query q in inputs[1:],
// 1/(ch − q) − (ch − q) (see finish). Inverses are batched (Montgomery's
// trick): one hint computes them all, so it must be fast.
func invHint(mod *big.Int, inputs, outputs []*big.Int) error {
	if len(inputs) != len(outputs)+1 || mod.Cmp(fr.Modulus()) != 0 {
		return fmt.Errorf("zk: inverse hint: bad inputs")
	}
	var ch fr.Element
	ch.SetBigInt(inputs[0])
	d := make([]fr.Element, len(outputs))
	for i := range d {
		d[i].SetBigInt(inputs[i+1])
		d[i].Sub(&ch, &d[i])
		if d[i].IsZero() {
			return fmt.Errorf("zk: range check: challenge hits a query")
		}
	}
	inv := fr.BatchInvert(d)
	for i, o := range outputs {
		inv[i].Sub(&inv[i], &d[i])
		inv[i].BigInt(o)
	}
	return nil
}

// quoHint returns, for ch = inputs[0] and each table multiplicity m_t in
// inputs[1:], m_t/(ch − t).
func quoHint(mod *big.Int, inputs, outputs []*big.Int) error {
	if len(inputs) != len(outputs)+1 || mod.Cmp(fr.Modulus()) != 0 {
		return fmt.Errorf("zk: quotient hint: bad inputs")
	}
	var ch fr.Element
	ch.SetBigInt(inputs[0])
	d := make([]fr.Element, len(outputs))
	for t := range d {
		d[t].SetUint64(uint64(t))
		d[t].Sub(&ch, &d[t])
		if d[t].IsZero() {
			return fmt.Errorf("zk: range check: challenge hits the table")
		}
	}
	inv := fr.BatchInvert(d)
	var m fr.Element
	for t, o := range outputs {
		if inputs[t+1].Sign() == 0 {
			o.SetUint64(0)
			continue
		}
		m.SetBigInt(inputs[t+1])
		inv[t].Mul(&inv[t], &m)
		inv[t].BigInt(o)
	}
	return nil
}
