package merge

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/fed-vcs/fed/objects"
)

// Side by side: strategies whose result is a weighted sum over the sides
// (fedavg, linear, krum, multi-krum, task-arithmetic, dare-linear,
// model-stock, the server optimisers) can take one side's piece at a time
// into a float64 accumulator per element, so that a merge of K sides holds
// one accumulator and a few side pieces, not K pieces. The arithmetic is
// MergePiece's, term for term: the sum over sides in ascending side order
// is the same whether elements or sides form the outer loop.
//
//	s, _ := t.StartSum(piece, base, out)
//	for _, j := range m.Contributing(dtype) { s.Add(j, sides[j]) }
//	s.Finish(state, newState)

// SideBySide reports whether tensors of dtype dt can be merged side by
// side (Tensor.StartSum). Other tensors need every side's piece at once
// (MergePiece; any whole number of elements is a piece, so a caller short
// of memory may cut pieces small).
func (m *Merger) SideBySide(dt objects.DType) bool {
	if classOf(dt) != classFloat {
		return false
	}
	switch m.c.strategy {
	case FedAvg, Linear, Krum, MultiKrum, TaskArith, DareLinear, ModelStock, FedAvgM, FedAdam, FedYogi, FedAdagrad:
		return true
	}
	return false
}

// Contributing returns the sides whose pieces a merge of dtype dt reads
// in its merge pass, in ascending order: the selected ones for value
// means side by side (krum, multi-krum after Plan), else every side.
func (m *Merger) Contributing(dt objects.DType) []int {
	if m.SideBySide(dt) && m.meanOfValues() {
		return append([]int(nil), m.active...)
	}
	return allSides(m.k)
}

// meanOfValues reports whether the strategy's float kernel is kMean (the
// weighted mean of the active sides' values, with the identity guard).
func (m *Merger) meanOfValues() bool {
	switch m.c.strategy {
	case FedAvg, Linear, Krum, MultiKrum:
		return !m.c.exact
	}
	return false
}

// Rounds returns how many pre-passes (Tensor.Observe) a tensor of dtype dt
// and elems elements takes, before Tensor is called.
func (m *Merger) Rounds(dt objects.DType, elems uint64) int {
	if classOf(dt) != classFloat || elems == 0 {
		return 0
	}
	switch m.c.strategy {
	case Ties:
		if m.c.density < 1 {
			return 2
		}
	case Slerp, ModelStock:
		return 1
	}
	return 0
}

// PieceSum is one piece being merged side by side.
type PieceSum struct {
	t     *Tensor
	piece int
	n     int
	base  []byte
	out   []byte
	order []int
	next  int // index into order of the next side
	data  []byte
	side  int
	// exact mode: the first quantisation failure in (element, side) order
	errAt   int
	errSide int
	errVal  error
}

// StartSum starts merging piece number piece (pieces in order) side by
// side into out. base is the merge base's piece (nil when the strategy
// needs none). The tensor's dtype must be SideBySide; its rounds must be
// done. out holds intermediate bytes until Finish.
func (t *Tensor) StartSum(piece int, base []byte, out []byte) (*PieceSum, error) {
	m := t.m
	if !m.SideBySide(t.dt) {
		return nil, fmt.Errorf("merge: tensor %s: %s of %s cannot be merged side by side: %w", t.name, m.c.strategy, t.dt, ErrOrder)
	}
	if t.sum.t != nil {
		return nil, fmt.Errorf("merge: tensor %s: piece %d started before piece %d finished: %w", t.name, piece, t.sum.piece, ErrOrder)
	}
	if len(out)%t.sz != 0 {
		return nil, fmt.Errorf("merge: tensor %s: piece of %d bytes is not whole %s elements: %w", t.name, len(out), t.dt, ErrShapeMismatch)
	}
	if NeedsBase(m.c.strategy) {
		if base == nil {
			return nil, fmt.Errorf("merge: tensor %s: %w", t.name, ErrNeedsBase)
		}
		if len(base) != len(out) {
			return nil, &ShapeError{Tensor: t.name, Want: uint64(len(out)), Got: uint64(len(base))}
		}
	}
	n := len(out) / t.sz
	if err := t.step("merge", t.rounds, piece, n); err != nil {
		return nil, err
	}
	s := &t.sum
	*s = PieceSum{t: t, piece: piece, n: n, base: base, out: out, order: t.order, errAt: n}
	if s.order == nil {
		s.order = m.Contributing(t.dt)
		t.order = s.order
	}
	switch {
	case m.c.exact:
		if cap(m.fixAcc) < n {
			m.fixAcc = make([]i128, n)
		}
		clear(m.fixAcc[:n])
	default:
		if cap(m.acc) < n {
			m.acc = make([]float64, n)
		}
		if !m.meanOfValues() {
			clear(m.acc[:n]) // Σ from +0, as kSumTau
		}
		if m.meanOfValues() {
			if cap(m.differ) < n {
				m.differ = make([]bool, n)
			}
			clear(m.differ[:n])
		}
	}
	return s, nil
}

// Add adds side's piece (as long as out). Sides must come in the order of
// Merger.Contributing.
func (s *PieceSum) Add(side int, data []byte) error {
	t := s.t
	if t == nil || &t.sum != s {
		return fmt.Errorf("merge: add side %d: piece not started: %w", side, ErrOrder)
	}
	if s.next >= len(s.order) || s.order[s.next] != side {
		want := "none"
		if s.next < len(s.order) {
			want = fmt.Sprint(s.order[s.next])
		}
		return fmt.Errorf("merge: tensor %s piece %d: side %d, want %s: %w", t.name, s.piece, side, want, ErrOrder)
	}
	if len(data) != len(s.out) {
		return &ShapeError{Tensor: t.name, Want: uint64(len(s.out)), Got: uint64(len(data))}
	}
	m := t.m
	if m.c.exact {
		s.addFixed(side, data)
	} else {
		s.data, s.side = data, side
		m.parallel(s.n, t.sumJob)
		s.data = nil
		for _, w := range m.workers {
			if d := w.disc[side]; d != 0 {
				t.disc[side] += d
				w.disc[side] = 0
			}
		}
	}
	s.next++
	return nil
}

// addRange adds elements [lo, hi) of the current side.
func (s *PieceSum) addRange(w *scratch, lo, hi int) {
	t := s.t
	m := t.m
	c := m.c
	dt, sz := t.dt, t.sz
	acc := m.acc[lo:hi]
	x := s.data[lo*sz : hi*sz]
	if m.meanOfValues() {
		q := m.activeP[s.next]
		out := s.out[lo*sz : hi*sz]
		differ := m.differ[lo:hi]
		if s.next == 0 {
			copy(out, x)
			if dt == objects.F32 {
				for i := range acc {
					acc[i] = float64(q * float64(math.Float32frombits(binary.LittleEndian.Uint32(x[4*i:]))))
				}
				return
			}
			for a := 0; a < len(acc); a += tile {
				e := min(a+tile, len(acc))
				v := w.xs[0][:e-a]
				decodeFloats(dt, x[a*sz:e*sz], v)
				for i, xv := range v {
					acc[a+i] = float64(q * xv)
				}
			}
			return
		}
		switch sz {
		case 4:
			for i := range acc {
				u := binary.LittleEndian.Uint32(x[4*i:])
				if u != binary.LittleEndian.Uint32(out[4*i:]) {
					differ[i] = true
				}
			}
		case 2:
			for i := range acc {
				if binary.LittleEndian.Uint16(x[2*i:]) != binary.LittleEndian.Uint16(out[2*i:]) {
					differ[i] = true
				}
			}
		default:
			for i := range acc {
				if binary.LittleEndian.Uint64(x[8*i:]) != binary.LittleEndian.Uint64(out[8*i:]) {
					differ[i] = true
				}
			}
		}
		if dt == objects.F32 {
			for i := range acc {
				acc[i] += float64(q * float64(math.Float32frombits(binary.LittleEndian.Uint32(x[4*i:]))))
			}
			return
		}
		for a := 0; a < len(acc); a += tile {
			e := min(a+tile, len(acc))
			v := w.xs[0][:e-a]
			decodeFloats(dt, x[a*sz:e*sz], v)
			for i, xv := range v {
				acc[a+i] += float64(q * xv)
			}
		}
		return
	}
	// Σ p_j τ_j (dare-linear: of the dropped-or-rescaled δ_j)
	j := s.side
	pj := c.p[j]
	base := s.base[lo*sz : hi*sz]
	for a := 0; a < len(acc); a += tile {
		e := min(a+tile, len(acc))
		v, b := w.xs[0][:e-a], w.b[:e-a]
		decodeFloats(dt, x[a*sz:e*sz], v)
		decodeFloats(dt, base[a*sz:e*sz], b)
		if c.strategy != DareLinear {
			for i, xv := range v {
				acc[a+i] += float64(pj * tau(xv, b[i]))
			}
			continue
		}
		off := t.pos + uint64(lo+a)
		for i, xv := range v {
			d := tau(xv, b[i])
			if d != 0 {
				if dareUniform(t.keys[j], off+uint64(i)) < c.density {
					d = d / c.density
				} else {
					d = 0
					w.disc[j]++
				}
			}
			acc[a+i] += float64(pj * d)
		}
	}
}

// addFixed is Add for fedavg exact=true: Σ w_j·q_j exactly, per element.
func (s *PieceSum) addFixed(side int, data []byte) {
	t := s.t
	m := t.m
	w := m.workers[0]
	wj := int64(m.c.fixedW[side])
	acc := m.fixAcc
	end := s.errAt // past the first failure nothing is needed
	for a := 0; a < end; a += tile {
		e := min(a+tile, end)
		v := w.xs[0][:e-a]
		decodeFloats(t.dt, data[a*t.sz:e*t.sz], v)
		for i, x := range v {
			q, err := Quantize(x)
			if err != nil {
				s.errAt, s.errSide, s.errVal = a+i, side, err
				return
			}
			acc[a+i].add64(wj * int64(q))
		}
	}
}

// Finish completes the piece into out. For HasState tensors, state holds
// the current state pieces in StateNames order (a nil entry means zeros)
// and newState receives the new ones, as for MergePiece.
func (s *PieceSum) Finish(state [][]byte, newState [][]byte) error {
	t := s.t
	if t == nil || &t.sum != s {
		return fmt.Errorf("merge: finish: piece not started: %w", ErrOrder)
	}
	m := t.m
	defer func() { t.sum = PieceSum{} }()
	if s.next != len(s.order) {
		return fmt.Errorf("merge: tensor %s piece %d: %d of %d sides added: %w", t.name, s.piece, s.next, len(s.order), ErrOrder)
	}
	nb := len(s.out)
	if t.HasState() {
		names := m.StateNames()
		if len(state) != len(names) || len(newState) != len(names) {
			return fmt.Errorf("merge: tensor %s: %d state and %d new state pieces, want %d: %w", t.name, len(state), len(newState), len(names), ErrShapeMismatch)
		}
		for i := range state {
			if state[i] != nil && len(state[i]) != nb {
				return &ShapeError{Tensor: t.name + " state " + names[i], Want: uint64(nb), Got: uint64(len(state[i]))}
			}
			if len(newState[i]) != nb {
				return &ShapeError{Tensor: t.name + " new state " + names[i], Want: uint64(nb), Got: uint64(len(newState[i]))}
			}
		}
	}
	if m.c.exact {
		if err := s.finishFixed(); err != nil {
			return err
		}
	} else {
		t.args.state, t.args.newState = state, newState
		m.parallel(s.n, t.finishJob)
		t.args.state, t.args.newState = nil, nil
	}
	m.report.Elements += uint64(s.n)
	t.piece++
	t.pos += uint64(s.n)
	if t.pos == t.elems {
		for j, d := range t.disc {
			m.report.Sides[j].Discarded += d
		}
	}
	return nil
}

// finishRange writes elements [lo, hi) of the result.
func (s *PieceSum) finishRange(w *scratch, lo, hi int) {
	t := s.t
	m := t.m
	c := m.c
	dt, sz := t.dt, t.sz
	if m.meanOfValues() {
		acc, differ := m.acc, m.differ
		for i := lo; i < hi; i++ {
			if differ[i] {
				encodeFloat(dt, acc[i], s.out[i*sz:])
			}
		}
		return
	}
	state, newState := t.args.state, t.args.newState
	for a := lo; a < hi; a += tile {
		e := min(a+tile, hi)
		n := e - a
		res, b := m.acc[a:e], w.b[:n]
		decodeFloats(dt, s.base[a*sz:e*sz], b)
		switch c.strategy {
		case TaskArith, ModelStock, DareLinear:
			coef := c.lambda
			if c.strategy == ModelStock {
				coef = t.s0
			}
			for i, v := range res {
				res[i] = float64(coef * v)
			}
		default: // server optimisers
			for i, st := range state {
				if st == nil {
					clear(w.st[i][:n])
				} else {
					decodeFloats(dt, st[a*sz:e*sz], w.st[i][:n])
				}
			}
			t.kServer(w, res, n)
			for i := range newState {
				for x, v := range w.nst[i][:n] {
					encodeFloat(dt, v, newState[i][(a+x)*sz:])
				}
			}
		}
		t.encodeUpdates(res, b, a, s.base, s.out)
	}
}

// finishFixed is Finish for fedavg exact=true: mergeFixed's results and,
// in element order, its first error.
func (s *PieceSum) finishFixed() error {
	t := s.t
	m := t.m
	var total uint64
	for _, w := range m.c.fixedW {
		total += w
	}
	if total == 0 {
		return &WeightError{Index: -1, Msg: "all zero"}
	}
	for i := 0; i < s.errAt; i++ {
		q, _ := floorDiv(m.fixAcc[i], total)
		x := Dequantize(int32(q))
		if roundTrip(t.dt, x) != x {
			return fmt.Errorf("merge: tensor %s element %d: exact mean %v is not representable in %s: %w", t.name, t.pos+uint64(i), x, t.dt, ErrRange)
		}
		encodeFloat(t.dt, x, s.out[i*t.sz:])
	}
	if s.errAt < s.n {
		return fmt.Errorf("merge: tensor %s element %d side %d: %w", t.name, t.pos+uint64(s.errAt), s.errSide, s.errVal)
	}
	return nil
}
