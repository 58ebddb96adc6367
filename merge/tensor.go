package merge

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/fed-vcs/fed/objects"
)

// Tensor merges one tensor. Get it from Merger.Tensor; run Rounds()
// pre-passes of Observe, then MergePiece over every piece, all in order.
type Tensor struct {
	m      *Merger
	name   string
	dt     objects.DType
	cls    class
	sz     int
	elems  uint64
	rounds int

	round int    // current pre-pass; == rounds during the merge pass
	piece int    // next piece index
	pos   uint64 // elements done in the current pass

	acc  blockAcc
	hist [][]uint64 // ties: per side, 65536 buckets
	need []uint64   // ties: elements still to keep inside the chosen bucket
	hiB  []uint32   // ties: chosen high 16 bits
	thr  []uint32   // ties: per-side magnitude threshold key
	s0   float64    // slerp coefficient of side 0 (model-stock: t)
	s1   float64    // slerp coefficient of side 1
	keys []uint64   // dare: per-side keys
	job  func(w *scratch, lo, hi int)
	args struct {
		base, out       []byte
		sides           [][]byte
		state, newState [][]byte
	}
	disc []uint64 // per-side discarded element counts
	tr   *TensorReport

	sum       PieceSum // the piece being merged side by side
	order     []int    // Contributing, once asked
	sumJob    func(w *scratch, lo, hi int)
	finishJob func(w *scratch, lo, hi int)
}

// Tensor starts the merge of one tensor of elems elements. The previous
// tensor must be complete and, when a model pass is needed, Plan must have
// run.
func (m *Merger) Tensor(name string, dt objects.DType, elems uint64) (*Tensor, error) {
	if !m.planned {
		return nil, fmt.Errorf("merge: tensor %s: Plan has not run: %w", name, ErrOrder)
	}
	if m.cur != nil && !m.cur.Done() {
		return nil, fmt.Errorf("merge: tensor %s: tensor %s is not complete: %w", name, m.cur.name, ErrOrder)
	}
	t := &Tensor{m: m, name: name, dt: dt, cls: classOf(dt), sz: elemSize(dt), elems: elems, disc: make([]uint64, m.k)}
	m.cur = t
	t.job = func(w *scratch, lo, hi int) {
		a := &t.args
		t.mergeRange(w, lo, hi, a.base, a.sides, a.state, a.out, a.newState)
	}
	t.sumJob = func(w *scratch, lo, hi int) { t.sum.addRange(w, lo, hi) }
	t.finishJob = func(w *scratch, lo, hi int) { t.sum.finishRange(w, lo, hi) }
	if t.cls != classFloat || elems == 0 {
		return t, nil
	}
	c := m.c
	t.rounds = m.Rounds(dt, elems)
	switch c.strategy {
	case Ties:
		if t.rounds == 2 {
			t.hist = make([][]uint64, m.k)
			for i := range t.hist {
				t.hist[i] = make([]uint64, 1<<16)
			}
			t.need = make([]uint64, m.k)
			t.hiB = make([]uint32, m.k)
		}
		t.thr = make([]uint32, m.k) // zero keeps everything
	case Slerp:
		t.acc.init(3)
	case ModelStock:
		t.acc.init(m.k * (m.k + 1) / 2)
	case DareLinear, DareTies:
		t.keys = make([]uint64, m.k)
		for i := range t.keys {
			t.keys[i] = dareKey(c.seed, name, i)
		}
	}
	return t, nil
}

// Rounds returns the number of streamed pre-passes over this tensor
// (ties: 2 for its magnitude threshold; slerp, model-stock: 1 for norms
// and cosines; otherwise 0).
func (t *Tensor) Rounds() int { return t.rounds }

// HasState reports whether MergePiece reads and writes optimiser state for
// this tensor (server optimisers, float tensors only).
func (t *Tensor) HasState() bool { return t.cls == classFloat && t.m.StateNames() != nil }

// Done reports whether every element has been merged.
func (t *Tensor) Done() bool { return t.round == t.rounds && t.pos == t.elems }

func (t *Tensor) step(what string, round, piece int, n int) error {
	if round != t.round {
		return fmt.Errorf("merge: %s %s: round %d, want %d: %w", what, t.name, round, t.round, ErrOrder)
	}
	if piece != t.piece {
		return fmt.Errorf("merge: %s %s: piece %d, want %d: %w", what, t.name, piece, t.piece, ErrOrder)
	}
	if t.pos+uint64(n) > t.elems {
		return &ShapeError{Tensor: t.name, Want: t.elems * uint64(t.sz), Got: (t.pos + uint64(n)) * uint64(t.sz)}
	}
	return nil
}

// tau returns θ_k − θ₀, or exactly 0 where they are equal or both NaN (so
// ±0, ±Inf and NaN sides equal to the base give no task vector).
func tau(x, b float64) float64 {
	if x == b || (x != x && b != b) {
		return 0
	}
	return x - b
}

// Observe feeds piece number piece to pre-pass round. Pieces of a round
// must come in order; a round ends with the tensor's last element.
func (t *Tensor) Observe(round, piece int, base []byte, sides [][]byte) error {
	if round >= t.rounds {
		return fmt.Errorf("merge: observe %s: round %d of %d: %w", t.name, round, t.rounds, ErrOrder)
	}
	m := t.m
	if err := m.checkSides(t.name, t.dt, base, sides, NeedsBase(m.c.strategy)); err != nil {
		return err
	}
	n := len(sides[0]) / t.sz
	if err := t.step("observe", round, piece, n); err != nil {
		return err
	}
	m.allScratch()
	k, dt, sz := m.k, t.dt, t.sz
	switch m.c.strategy {
	case Ties:
		w := m.workers[0]
		for s := 0; s < n; s += tile {
			e := min(s+tile, n)
			decodeFloats(dt, base[s*sz:e*sz], w.b[:e-s])
			for j := 0; j < k; j++ {
				x := w.xs[j][:e-s]
				decodeFloats(dt, sides[j][s*sz:e*sz], x)
				h := t.hist[j]
				for i, v := range x {
					key := magKey(tau(v, w.b[i]))
					if round == 0 {
						h[key>>16]++
					} else if key>>16 == t.hiB[j] {
						h[key&0xffff]++
					}
				}
			}
		}
	case Slerp:
		t.acc.add(m, n, func(w *scratch, sums []float64, lo, hi int) {
			for s := lo; s < hi; s += tile {
				e := min(s+tile, hi)
				a, b := w.xs[0][:e-s], w.xs[1][:e-s]
				decodeFloats(dt, sides[0][s*sz:e*sz], a)
				decodeFloats(dt, sides[1][s*sz:e*sz], b)
				aa, bb, ab := sums[0], sums[1], sums[2]
				for i := range a {
					aa += float64(a[i] * a[i])
					bb += float64(b[i] * b[i])
					ab += float64(a[i] * b[i])
				}
				sums[0], sums[1], sums[2] = aa, bb, ab
			}
		})
	case ModelStock:
		t.acc.add(m, n, func(w *scratch, sums []float64, lo, hi int) {
			for s := lo; s < hi; s += tile {
				e := min(s+tile, hi)
				decodeFloats(dt, base[s*sz:e*sz], w.b[:e-s])
				for j := 0; j < k; j++ {
					x := w.xs[j][:e-s]
					decodeFloats(dt, sides[j][s*sz:e*sz], x)
					for i := range x {
						x[i] = tau(x[i], w.b[i])
					}
				}
				p := 0
				for i := 0; i < k; i++ {
					for j := i; j < k; j++ {
						xi, xj := w.xs[i][:e-s], w.xs[j][:e-s]
						acc := sums[p]
						for x := range xi {
							acc += float64(xi[x] * xj[x])
						}
						sums[p] = acc
						p++
					}
				}
			}
		})
	}
	t.piece++
	t.pos += uint64(n)
	if t.pos == t.elems {
		t.endRound()
		t.round++
		t.piece, t.pos = 0, 0
	}
	return nil
}

func (t *Tensor) endRound() {
	m := t.m
	c := m.c
	t.tr = &TensorReport{Name: t.name, Stats: map[string]float64{}}
	switch c.strategy {
	case Ties:
		for j, h := range t.hist {
			if t.round == 0 {
				keep := uint64(math.Ceil(c.density * float64(t.elems)))
				keep = max(1, min(keep, t.elems))
				var cum uint64
				for b := len(h) - 1; b >= 0; b-- {
					if cum+h[b] >= keep {
						t.hiB[j] = uint32(b)
						t.need[j] = keep - cum
						break
					}
					cum += h[b]
				}
			} else {
				var cum uint64
				for b := len(h) - 1; b >= 0; b-- {
					if cum+h[b] >= t.need[j] {
						t.thr[j] = t.hiB[j]<<16 | uint32(b)
						break
					}
					cum += h[b]
				}
				t.tr.Stats[fmt.Sprintf("threshold.%d", j)] = reportable(float64(math.Float32frombits(t.thr[j])))
			}
			clear(h)
		}
		if t.round == 0 {
			t.tr = nil
			return
		}
	case Slerp:
		s := t.acc.finish()
		na, nb := math.Sqrt(s[0]), math.Sqrt(s[1])
		cos := 1.0
		if na > 0 && nb > 0 {
			cos = s[2] / float64(na*nb)
		}
		cos = math.Max(-1, math.Min(1, cos))
		tt := c.t
		if !(math.Abs(cos) <= 0.9995) { // also NaN: fall back to lerp
			t.s0, t.s1 = 1-tt, tt
			t.tr.Stats["lerp"] = 1
		} else {
			omega := acosDet(cos)
			so := sinDet(omega)
			t.s0 = sinDet(float64((1-tt)*omega)) / so
			t.s1 = sinDet(float64(tt*omega)) / so
			t.tr.Stats["lerp"] = 0
		}
		t.tr.Stats["cos"] = reportable(cos)
		t.tr.Stats["s0"], t.tr.Stats["s1"] = t.s0, t.s1
	case ModelStock:
		g := t.acc.finish()
		k := m.k
		idx := func(i, j int) int { return i*k - i*(i-1)/2 + (j - i) } // i <= j
		sum, pairs := 0.0, 0
		for i := 0; i < k; i++ {
			for j := i + 1; j < k; j++ {
				d := float64(math.Sqrt(g[idx(i, i)]) * math.Sqrt(g[idx(j, j)]))
				if d > 0 && !math.IsInf(d, 0) {
					sum += g[idx(i, j)] / d
				}
				pairs++
			}
		}
		cos := sum / float64(pairs)
		tt := 0.0
		den := 1 + float64(float64(k-1)*cos)
		if den > 0 {
			tt = float64(float64(k)*cos) / den
		}
		if !(tt >= 0) {
			tt = 0
		}
		tt = math.Min(tt, 1)
		t.s0 = tt
		t.tr.Stats["cos"] = reportable(cos)
		t.tr.Stats["t"] = tt
	}
	m.report.Tensors = append(m.report.Tensors, *t.tr)
}

// MergePiece merges piece number piece (pieces in order) into out, which
// must be as long as each side's piece. base is the merge base's piece (nil
// when the strategy needs none). For HasState tensors, state holds the
// current state pieces in StateNames order (a nil entry means zeros) and
// newState receives the new ones (same lengths as out).
func (t *Tensor) MergePiece(piece int, base []byte, sides [][]byte, state [][]byte, out []byte, newState [][]byte) error {
	m := t.m
	needBase := NeedsBase(m.c.strategy) && t.cls == classFloat
	if err := m.checkSides(t.name, t.dt, base, sides, needBase); err != nil {
		return err
	}
	nb := len(sides[0])
	if len(out) != nb {
		return &ShapeError{Tensor: t.name, Want: uint64(nb), Got: uint64(len(out))}
	}
	n := nb / t.sz
	if err := t.step("merge", t.rounds, piece, n); err != nil {
		return err
	}
	m.allScratch()
	hasState := t.HasState()
	if hasState {
		ns := len(m.StateNames())
		if len(state) != ns || len(newState) != ns {
			return fmt.Errorf("merge: tensor %s: %d state and %d new state pieces, want %d: %w", t.name, len(state), len(newState), ns, ErrShapeMismatch)
		}
		for i := range state {
			if state[i] != nil && len(state[i]) != nb {
				return &ShapeError{Tensor: t.name + " state " + m.StateNames()[i], Want: uint64(nb), Got: uint64(len(state[i]))}
			}
			if len(newState[i]) != nb {
				return &ShapeError{Tensor: t.name + " new state " + m.StateNames()[i], Want: uint64(nb), Got: uint64(len(newState[i]))}
			}
		}
	}
	switch t.cls {
	case classOpaque:
		if err := opaqueMerge(t.name, t.dt, t.pos*uint64(t.sz), sides, out); err != nil {
			return err
		}
	case classInt:
		if m.io != nil {
			m.io.merge(t.dt, sides, out)
		} else {
			m.im.merge(t.dt, sides, out)
		}
	default:
		if m.c.exact {
			if err := t.mergeFixed(sides, out); err != nil {
				return err
			}
		} else {
			t.args.base, t.args.sides, t.args.state, t.args.out, t.args.newState = base, sides, state, out, newState
			m.parallel(n, t.job)
			t.args.base, t.args.sides, t.args.state, t.args.out, t.args.newState = nil, nil, nil, nil, nil
			for _, w := range m.workers {
				for j, d := range w.disc {
					t.disc[j] += d
					w.disc[j] = 0
				}
			}
		}
		m.report.Elements += uint64(n)
	}
	t.piece++
	t.pos += uint64(n)
	if t.pos == t.elems {
		for j, d := range t.disc {
			m.report.Sides[j].Discarded += d
		}
	}
	return nil
}

// mergeFixed is fedavg with exact=true (see FixedMean).
func (t *Tensor) mergeFixed(sides [][]byte, out []byte) error {
	m := t.m
	w := m.workers[0]
	q := make([]int32, m.k)
	n := len(out) / t.sz
	for s := 0; s < n; s += tile {
		e := min(s+tile, n)
		for j := 0; j < m.k; j++ {
			decodeFloats(t.dt, sides[j][s*t.sz:e*t.sz], w.xs[j][:e-s])
		}
		for i := 0; i < e-s; i++ {
			for j := range q {
				v, err := Quantize(w.xs[j][i])
				if err != nil {
					return fmt.Errorf("merge: tensor %s element %d side %d: %w", t.name, t.pos+uint64(s+i), j, err)
				}
				q[j] = v
			}
			r, err := FixedMean(q, m.c.fixedW)
			if err != nil {
				return err
			}
			// A proof compares the stored result, quantised again, with r:
			// the result must be exact in the output dtype (always for F64
			// and for F32 below 256 in magnitude, rarely for F16 and BF16).
			x := Dequantize(r)
			if roundTrip(t.dt, x) != x {
				return fmt.Errorf("merge: tensor %s element %d: exact mean %v is not representable in %s: %w", t.name, t.pos+uint64(s+i), x, t.dt, ErrRange)
			}
			encodeFloat(t.dt, x, out[(s+i)*t.sz:])
		}
	}
	return nil
}

// valueMode reports whether the strategy's kernel yields merged values
// (guarded by "all contributing sides identical → copy") rather than
// updates to the base (guarded by "zero update → copy the base").
func valueMode(strategy string) bool { return !NeedsBase(strategy) }

// mergeRange merges piece elements [lo, hi) with one worker's scratch.
func (t *Tensor) mergeRange(w *scratch, lo, hi int, base []byte, sides [][]byte, state [][]byte, out []byte, newState [][]byte) {
	m := t.m
	c := m.c
	dt, sz := t.dt, t.sz
	vmode := valueMode(c.strategy)
	if dt == objects.F32 && (c.strategy == FedAvg || c.strategy == Linear || c.strategy == Krum || c.strategy == MultiKrum) {
		meanF32(m.active, m.activeP, sides, out, lo, hi)
		return
	}
	for s := lo; s < hi; s += tile {
		e := min(s+tile, hi)
		n := e - s
		if vmode {
			for _, j := range m.active {
				decodeFloats(dt, sides[j][s*sz:e*sz], w.xs[j][:n])
			}
		} else {
			for j := 0; j < m.k; j++ {
				decodeFloats(dt, sides[j][s*sz:e*sz], w.xs[j][:n])
			}
		}
		if !vmode {
			decodeFloats(dt, base[s*sz:e*sz], w.b[:n])
		}
		if t.HasState() {
			for i, st := range state {
				if st == nil {
					clear(w.st[i][:n])
				} else {
					decodeFloats(dt, st[s*sz:e*sz], w.st[i][:n])
				}
			}
		}
		res := w.res[:n]
		t.kernel(w, res, n, uint64(s)+t.pos)
		if t.HasState() {
			for i := range newState {
				ns := w.nst[i][:n]
				for x, v := range ns {
					encodeFloat(dt, v, newState[i][(s+x)*sz:])
				}
			}
		}
		if vmode {
			t.encodeValues(res, s, sides, out)
		} else {
			t.encodeUpdates(res, w.b[:n], s, base, out)
		}
	}
}

// encodeValues writes res, except where all contributing sides hold the
// same bits: there it copies them (merge(x, x, …) == x bit for bit).
func (t *Tensor) encodeValues(res []float64, s int, sides [][]byte, out []byte) {
	act := t.m.active
	a0 := sides[act[0]]
	rest := act[1:]
	dt := t.dt
	switch t.sz {
	case 4:
		for i, v := range res {
			o := (s + i) * 4
			x := binary.LittleEndian.Uint32(a0[o:])
			same := true
			for _, j := range rest {
				if binary.LittleEndian.Uint32(sides[j][o:]) != x {
					same = false
					break
				}
			}
			if same {
				binary.LittleEndian.PutUint32(out[o:], x)
			} else {
				encodeFloat(dt, v, out[o:])
			}
		}
	case 2:
		for i, v := range res {
			o := (s + i) * 2
			x := binary.LittleEndian.Uint16(a0[o:])
			same := true
			for _, j := range rest {
				if binary.LittleEndian.Uint16(sides[j][o:]) != x {
					same = false
					break
				}
			}
			if same {
				binary.LittleEndian.PutUint16(out[o:], x)
			} else {
				encodeFloat(dt, v, out[o:])
			}
		}
	default:
		for i, v := range res {
			o := (s + i) * 8
			x := binary.LittleEndian.Uint64(a0[o:])
			same := true
			for _, j := range rest {
				if binary.LittleEndian.Uint64(sides[j][o:]) != x {
					same = false
					break
				}
			}
			if same {
				binary.LittleEndian.PutUint64(out[o:], x)
			} else {
				encodeFloat(dt, v, out[o:])
			}
		}
	}
}

// encodeUpdates writes θ₀ + u rounded once, or θ₀'s own bits where u == 0.
func (t *Tensor) encodeUpdates(res, b []float64, s int, base []byte, out []byte) {
	sz := t.sz
	for i, u := range res {
		o := (s + i) * sz
		if u == 0 {
			copy(out[o:o+sz], base[o:o+sz])
			continue
		}
		encodeFloat(t.dt, b[i]+u, out[o:])
	}
}
