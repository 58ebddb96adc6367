package merge

import (
	"bytes"
	"fmt"
	"math"
	"runtime"
	"sort"
	"sync"

	"github.com/fed-vcs/fed/objects"
)

const (
	tile      = 1024    // elements decoded at a time by one worker
	minChunk  = 1 << 15 // fewest elements worth a goroutine
	statBlock = 1 << 16 // elements per block of a streamed sum
)

// Merger runs one merge. Build it with New, then drive it:
//
//  1. if NeedsModelPass(): ObserveModel every piece of every float tensor,
//     tensors in increasing name order; then Plan (Plan may always be called);
//  2. for each tensor: t := Tensor(name, dtype, elements); for round
//     r < t.Rounds(), Observe(r, piece, …) every piece in order; then
//     MergePiece every piece in order;
//  3. Report.
//
// A Merger is not safe for concurrent use; it parallelises each piece
// itself. Nothing it computes depends on piece size or worker count.
type Merger struct {
	c       *config
	k       int
	workers []*scratch
	report  Report

	// model pass
	dist     []float64 // k×k squared distances over all observed tensors
	mAcc     blockAcc
	mName    string
	mPiece   int
	mStarted bool
	planned  bool

	active  []int      // contributing sides (model-level selection)
	activeP []float64  // their normalised weights
	im      *intMerger // integer tensors: the weighted-mean rules
	io      *intOrder  // integer tensors: median, trimmed-mean, bulyan
	cur     *Tensor

	fullScratch bool // allScratch has run

	// side-by-side sums (PieceSum), one piece at a time
	acc    []float64
	differ []bool
	fixAcc []i128
}

// scratch is one worker's private buffers.
type scratch struct {
	xs     [][]float64
	b      []float64
	res    []float64
	st     [][]float64
	nst    [][]float64
	vals   []float64
	sides  []int
	dist   []float64
	chosen []bool
	disc   []uint64
	keys   []uint64 // sortPairs, past sortLarge sides
	pairs  []vsPair
}

// New validates opts for a merge of the given number of sides and returns
// a Merger.
func New(opts Options, sides int) (*Merger, error) {
	c, err := opts.parse(sides)
	if err != nil {
		return nil, err
	}
	m := &Merger{c: c, k: sides}
	n := c.workers
	if n == 0 {
		n = runtime.GOMAXPROCS(0)
	}
	for i := 0; i < n; i++ {
		w := &scratch{
			xs: make([][]float64, sides), b: make([]float64, tile), res: make([]float64, tile),
			st: make([][]float64, 2), nst: make([][]float64, 2),
			vals: make([]float64, sides), sides: make([]int, sides), dist: make([]float64, sides),
			chosen: make([]bool, sides), disc: make([]uint64, sides),
		}
		w.xs[0] = make([]float64, tile) // the others on first use (allScratch)
		for j := range w.st {
			w.st[j] = make([]float64, tile)
			w.nst[j] = make([]float64, tile)
		}
		m.workers = append(m.workers, w)
	}
	m.report = Report{Strategy: c.strategy, Params: c.params(), Sides: make([]SideReport, sides)}
	for i := range m.report.Sides {
		m.report.Sides[i] = SideReport{Weight: c.p[i], Selected: true}
	}
	if m.NeedsModelPass() {
		m.dist = make([]float64, sides*sides)
		m.mAcc.init(sides * (sides - 1) / 2)
	} else {
		if err := m.setActive(allSides(sides)); err != nil {
			return nil, err
		}
		m.planned = true
	}
	return m, nil
}

// allScratch gives every worker a decoding tile per side, once: a merge
// summed side by side never needs more than one, and K of them are
// 16 KiB per side.
func (m *Merger) allScratch() {
	if m.fullScratch {
		return
	}
	for _, w := range m.workers {
		for j := range w.xs {
			if w.xs[j] == nil {
				w.xs[j] = make([]float64, tile)
			}
		}
	}
	m.fullScratch = true
}

func allSides(k int) []int {
	s := make([]int, k)
	for i := range s {
		s[i] = i
	}
	return s
}

func (m *Merger) setActive(active []int) error {
	w := make([]float64, len(active))
	for i, s := range active {
		w[i] = m.c.weights[s]
	}
	sum := 0.0
	for _, x := range w {
		sum += x
	}
	if sum == 0 {
		return &WeightError{Index: -1, Msg: fmt.Sprintf("the selected sides %v all have weight zero", active)}
	}
	m.active = active
	m.activeP = normalise(w)
	m.im = newIntMerger(m.c.weights, active)
	switch m.c.strategy {
	case Median, TrimmedMean, Bulyan:
		m.io = newIntOrder(m.c, m.k, active)
	}
	return nil
}

// Strategy returns the validated strategy name.
func (m *Merger) Strategy() string { return m.c.strategy }

// NeedsModelPass reports whether the strategy needs the model-level pass
// (krum, multi-krum, bulyan: distances over all tensors concatenated).
func (m *Merger) NeedsModelPass() bool {
	switch m.c.strategy {
	case Krum, MultiKrum, Bulyan:
		return true
	}
	return false
}

// StateNames lists the optimiser state tensors a server-optimiser strategy
// reads and writes for every float tensor, in the order MergePiece takes
// them: fedavgm ["momentum"], fedadam/fedyogi/fedadagrad ["m", "v"];
// nil for the other strategies. A state tensor has the dtype and shape of
// its model tensor; an absent one (first round) is all zeros.
func (m *Merger) StateNames() []string {
	switch m.c.strategy {
	case FedAvgM:
		return []string{"momentum"}
	case FedAdam, FedYogi, FedAdagrad:
		return []string{"m", "v"}
	}
	return nil
}

func (m *Merger) checkSides(name string, dt objects.DType, base []byte, sides [][]byte, needBase bool) error {
	if len(sides) != m.k {
		return fmt.Errorf("merge: tensor %s: %d sides, want %d: %w", name, len(sides), m.k, ErrShapeMismatch)
	}
	n := len(sides[0])
	if n%elemSize(dt) != 0 {
		return fmt.Errorf("merge: tensor %s: piece of %d bytes is not whole %s elements: %w", name, n, dt, ErrShapeMismatch)
	}
	for _, s := range sides[1:] {
		if len(s) != n {
			return &ShapeError{Tensor: name, Want: uint64(n), Got: uint64(len(s))}
		}
	}
	if needBase {
		if base == nil {
			return fmt.Errorf("merge: tensor %s: %w", name, ErrNeedsBase)
		}
		if len(base) != n {
			return &ShapeError{Tensor: name, Want: uint64(n), Got: uint64(len(base))}
		}
	}
	return nil
}

// ObserveModel feeds one piece of one tensor to the model-level pass.
// Tensors must come in increasing name order, pieces in order from 0.
// Tensors of non-float dtypes are ignored and may be skipped.
func (m *Merger) ObserveModel(name string, dt objects.DType, piece int, sides [][]byte) error {
	if !m.NeedsModelPass() || m.planned {
		return fmt.Errorf("merge: observe %s: no model pass pending: %w", name, ErrOrder)
	}
	if classOf(dt) != classFloat {
		return nil
	}
	if err := m.checkSides(name, dt, nil, sides, false); err != nil {
		return err
	}
	m.allScratch()
	if !m.mStarted || name != m.mName {
		if m.mStarted && name <= m.mName {
			return fmt.Errorf("merge: observe %s after %s: tensors must come in increasing name order: %w", name, m.mName, ErrOrder)
		}
		if piece != 0 {
			return fmt.Errorf("merge: observe %s: first piece is %d, want 0: %w", name, piece, ErrOrder)
		}
		m.foldModelTensor()
		m.mName, m.mPiece, m.mStarted = name, 0, true
	}
	if piece != m.mPiece {
		return fmt.Errorf("merge: observe %s: piece %d, want %d: %w", name, piece, m.mPiece, ErrOrder)
	}
	m.mPiece++
	k := m.k
	n := len(sides[0]) / elemSize(dt)
	m.mAcc.add(m, n, func(w *scratch, sums []float64, lo, hi int) {
		sz := elemSize(dt)
		for s := lo; s < hi; s += tile {
			e := min(s+tile, hi)
			for j := 0; j < k; j++ {
				decodeFloats(dt, sides[j][s*sz:e*sz], w.xs[j][:e-s])
			}
			p := 0
			for i := 0; i < k; i++ {
				xi := w.xs[i][:e-s]
				for j := i + 1; j < k; j++ {
					xj := w.xs[j][:e-s]
					acc := sums[p]
					for x := range xi {
						d := xi[x] - xj[x]
						acc += float64(d * d)
					}
					sums[p] = acc
					p++
				}
			}
		}
	})
	return nil
}

func (m *Merger) foldModelTensor() {
	if !m.mStarted {
		return
	}
	tot := m.mAcc.finish()
	p := 0
	for i := 0; i < m.k; i++ {
		for j := i + 1; j < m.k; j++ {
			m.dist[i*m.k+j] += tot[p]
			m.dist[j*m.k+i] = m.dist[i*m.k+j]
			p++
		}
	}
	m.mAcc.reset()
}

// Plan ends the model-level pass and selects the sides (krum, multi-krum,
// bulyan). For other strategies it does nothing.
func (m *Merger) Plan() error {
	if m.planned {
		return nil
	}
	m.foldModelTensor()
	m.planned = true
	k, f := m.k, m.c.f
	for i := 0; i < k; i++ {
		for j := 0; j < k; j++ {
			if d := m.dist[i*k+j]; d != d {
				m.dist[i*k+j] = math.Inf(1) // NaN distances rank worst
			}
		}
	}
	all := allSides(k)
	first := m.krumScores(all, k-f-2)
	for i, s := range first {
		m.report.Sides[i].Score = reportable(s)
	}
	var sel []int
	switch m.c.strategy {
	case Krum, MultiKrum:
		order := allSides(k)
		sort.SliceStable(order, func(a, b int) bool { return first[order[a]] < first[order[b]] })
		sel = append(sel, order[:m.c.m]...)
		m.report.Selected = append([]int(nil), sel...)
		cut := first[order[m.c.m-1]]
		for _, i := range order[m.c.m:] {
			m.report.Sides[i].Selected = false
			m.report.Sides[i].Reason = fmt.Sprintf("krum score %.6g above the selection cut %.6g (sum of the %d smallest squared distances)", first[i], cut, k-f-2)
		}
	case Bulyan:
		rest := allSides(k)
		for len(sel) < k-2*f {
			nb := len(rest) - f - 2
			if nb < 1 {
				nb = 1
			}
			sc := m.krumScores(rest, nb)
			best := 0
			for i := range rest {
				if sc[i] < sc[best] {
					best = i
				}
			}
			sel = append(sel, rest[best])
			rest = append(rest[:best:best], rest[best+1:]...)
		}
		m.report.Selected = append([]int(nil), sel...)
		for _, i := range rest {
			m.report.Sides[i].Selected = false
			m.report.Sides[i].Reason = fmt.Sprintf("not among the %d sides chosen by repeated krum (f=%d)", k-2*f, f)
		}
	}
	sort.Ints(sel)
	return m.setActive(sel)
}

// krumScores returns, for each side in set, the sum (ascending order) of
// its nb smallest squared distances to the other sides of set.
func (m *Merger) krumScores(set []int, nb int) []float64 {
	if nb > len(set)-1 {
		nb = len(set) - 1
	}
	out := make([]float64, len(set))
	ds := make([]float64, 0, len(set))
	for a, i := range set {
		ds = ds[:0]
		for _, j := range set {
			if j != i {
				ds = append(ds, m.dist[i*m.k+j])
			}
		}
		sort.Float64s(ds)
		s := 0.0
		for _, d := range ds[:nb] {
			s += d
		}
		out[a] = s
	}
	return out
}

// reportable maps ±Inf and NaN to ±MaxFloat64 so reports encode as JSON.
func reportable(x float64) float64 {
	switch {
	case x != x || math.IsInf(x, 1):
		return math.MaxFloat64
	case math.IsInf(x, -1):
		return -math.MaxFloat64
	}
	return x
}

// parallel splits n elements into contiguous, tile-aligned ranges and runs
// fn on them on up to len(m.workers) goroutines.
func (m *Merger) parallel(n int, fn func(w *scratch, lo, hi int)) {
	nw := len(m.workers)
	if nw > n/minChunk {
		nw = n / minChunk
	}
	if nw <= 1 {
		fn(m.workers[0], 0, n)
		return
	}
	per := (n/nw + tile - 1) / tile * tile
	var wg sync.WaitGroup
	for i := 1; i < nw; i++ {
		lo, hi := i*per, min((i+1)*per, n)
		if lo >= hi {
			continue
		}
		wg.Add(1)
		go func(w *scratch) {
			defer wg.Done()
			fn(w, lo, hi)
		}(m.workers[i])
	}
	fn(m.workers[0], 0, min(per, n))
	wg.Wait()
}

// blockAcc computes sums over a tensor streamed in pieces, independent of
// piece size and parallelism: elements are grouped in blocks of statBlock
// from the start of the tensor; each block is summed sequentially in
// element order from zero, and the block sums are added in block order.
type blockAcc struct {
	pos     uint64
	cur     []float64
	total   []float64
	scratch [][]float64
}

func (a *blockAcc) init(n int) {
	a.cur = make([]float64, n)
	a.total = make([]float64, n)
	a.reset()
}

func (a *blockAcc) reset() {
	a.pos = 0
	clear(a.cur)
	clear(a.total)
}

func addTo(dst, src []float64) {
	for i := range dst {
		dst[i] += src[i]
	}
}

// add consumes the next n elements; kernel adds piece elements [lo, hi) in
// order into sums.
func (a *blockAcc) add(m *Merger, n int, kernel func(w *scratch, sums []float64, lo, hi int)) {
	i := 0
	if in := int(a.pos % statBlock); in != 0 {
		take := min(n, statBlock-in)
		kernel(m.workers[0], a.cur, 0, take)
		i = take
		a.pos += uint64(take)
		if a.pos%statBlock == 0 {
			addTo(a.total, a.cur)
			clear(a.cur)
		}
	}
	full := (n - i) / statBlock
	for len(a.scratch) < full {
		a.scratch = append(a.scratch, make([]float64, len(a.cur)))
	}
	if full > 0 {
		start := i
		nw := min(len(m.workers), full)
		var wg sync.WaitGroup
		for g := 0; g < nw; g++ {
			wg.Add(1)
			go func(w *scratch, g int) {
				defer wg.Done()
				for b := g; b < full; b += nw {
					s := a.scratch[b]
					clear(s)
					kernel(w, s, start+b*statBlock, start+(b+1)*statBlock)
				}
			}(m.workers[g], g)
		}
		wg.Wait()
		for b := 0; b < full; b++ {
			addTo(a.total, a.scratch[b])
		}
		i += full * statBlock
		a.pos += uint64(full * statBlock)
	}
	if i < n {
		kernel(m.workers[0], a.cur, i, n)
		a.pos += uint64(n - i)
	}
}

// finish folds the last partial block and returns the totals.
func (a *blockAcc) finish() []float64 {
	if a.pos%statBlock != 0 {
		addTo(a.total, a.cur)
		clear(a.cur)
	}
	return a.total
}

// opaqueMerge copies identical sides or reports a conflict.
func opaqueMerge(name string, dt objects.DType, offset uint64, sides [][]byte, out []byte) error {
	for _, s := range sides[1:] {
		if !bytes.Equal(s, sides[0]) {
			return &ConflictError{Tensor: name, DType: dt, Offset: offset}
		}
	}
	copy(out, sides[0])
	return nil
}
