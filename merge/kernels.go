package merge

import (
	"math"
	"math/bits"
	"slices"
)

// kernel computes res[i] for the n decoded elements of one tile (value or
// update, see valueMode); off is the tile's first element index in the
// tensor. It writes new optimiser state to w.nst.
func (t *Tensor) kernel(w *scratch, res []float64, n int, off uint64) {
	c := t.m.c
	switch c.strategy {
	case FedAvg, Linear, Krum, MultiKrum:
		t.kMean(w, res)
	case Median, TrimmedMean:
		t.kOrder(w, res, n)
	case Bulyan:
		t.kBulyan(w, res, n)
	case Slerp:
		x0, x1 := w.xs[0][:n], w.xs[1][:n]
		for i := range res {
			res[i] = float64(t.s0*x0[i]) + float64(t.s1*x1[i])
		}
	case TaskArith, ModelStock:
		coef := c.lambda
		if c.strategy == ModelStock {
			coef = t.s0
		}
		t.kSumTau(w, res, n)
		for i, s := range res {
			res[i] = float64(coef * s)
		}
	case Ties, DareLinear, DareTies:
		t.kSparse(w, res, n, off)
	case FedAvgM, FedAdam, FedYogi, FedAdagrad:
		t.kSumTau(w, res, n)
		t.kServer(w, res, n)
	}
}

// kMean: Σ q_a x_a over the contributing sides, q normalised over them.
func (t *Tensor) kMean(w *scratch, res []float64) {
	act, q := t.m.active, t.m.activeP
	n := len(res)
	x0, p0 := w.xs[act[0]][:n], q[0]
	for i := range res {
		res[i] = float64(p0 * x0[i])
	}
	for a := 1; a < len(act); a++ {
		x, p := w.xs[act[a]][:n], q[a]
		for i := range res {
			res[i] += float64(p * x[i])
		}
	}
}

// kSumTau: Σ p_k τ_k over all sides, τ_k = θ_k − θ₀ (0 where equal).
func (t *Tensor) kSumTau(w *scratch, res []float64, n int) {
	p := t.m.c.p
	b := w.b[:n]
	clear(res)
	for j := range p {
		x, pj := w.xs[j][:n], p[j]
		for i := range res {
			res[i] += float64(pj * tau(x[i], b[i]))
		}
	}
}

// sortVS sorts the first k (value, side) pairs by lessVS (insertion sort:
// k is small, and it allocates nothing).
func sortVS(vals []float64, sides []int) {
	for i := 1; i < len(vals); i++ {
		v, s := vals[i], sides[i]
		j := i
		for j > 0 && lessVS(v, s, vals[j-1], sides[j-1]) {
			vals[j], sides[j] = vals[j-1], sides[j-1]
			j--
		}
		vals[j], sides[j] = v, s
	}
}

// sortLarge is where sortPairs leaves insertion sort: past it, K² compares
// per element cost more than a general sort's K log K.
const sortLarge = 32

// sortPairs sorts (value, side) pairs by lessVS, which is a total order,
// so every algorithm gives the same permutation. Sides must ascend with
// their position (so that ties by side are ties by position). narrow says
// every value is exact in float32 (F32, F16, BF16 inputs): then the pairs
// sort as packed integer keys.
func sortPairs(w *scratch, vals []float64, sides []int, narrow bool) {
	k := len(vals)
	if k <= sortLarge {
		sortVS(vals, sides)
		return
	}
	if cap(w.keys) < k {
		w.keys = make([]uint64, k)
		w.pairs = make([]vsPair, k)
	}
	pairs := w.pairs[:k]
	for a := range vals {
		pairs[a] = vsPair{vals[a], sides[a]}
	}
	if narrow {
		keys := w.keys[:k]
		for a, v := range vals {
			keys[a] = uint64(orderKey32(v))<<32 | uint64(a)
		}
		slices.Sort(keys)
		for b, key := range keys {
			p := pairs[uint32(key)]
			vals[b], sides[b] = p.v, p.s
		}
		return
	}
	slices.SortFunc(pairs, func(x, y vsPair) int {
		if lessVS(x.v, x.s, y.v, y.s) {
			return -1
		}
		if lessVS(y.v, y.s, x.v, x.s) {
			return 1
		}
		return 0
	})
	for b, p := range pairs {
		vals[b], sides[b] = p.v, p.s
	}
}

type vsPair struct {
	v float64
	s int
}

// orderKey32 maps a value exact in float32 to a key ordered as lessVS
// orders values: −0 and +0 equal, every NaN equal and above +Inf.
func orderKey32(v float64) uint32 {
	if v != v {
		return math.MaxUint32
	}
	if v == 0 {
		v = 0 // −0 ties with +0
	}
	u := math.Float32bits(float32(v))
	if u&(1<<31) != 0 {
		return ^u
	}
	return u | 1<<31
}

// kOrder: coordinate-wise median (even count: mean of the middle two) or
// trimmed mean (drop ⌊beta·K⌋ lowest and highest, mean of the rest summed
// in ascending order).
func (t *Tensor) kOrder(w *scratch, res []float64, n int) {
	k := t.m.k
	lo, hi := k/2, k/2 // kept positions [lo, hi]
	if k%2 == 0 {
		lo = k/2 - 1
	}
	trim := t.m.c.strategy == TrimmedMean
	if trim {
		b := int(math.Floor(float64(t.m.c.beta * float64(k))))
		lo, hi = b, k-1-b
	}
	if !trim && k > sortLarge && t.sz <= 4 {
		t.kMedianSelect(w, res, n, lo, hi)
		return
	}
	vals, sides := w.vals[:k], w.sides[:k]
	for i := 0; i < n; i++ {
		for j := 0; j < k; j++ {
			vals[j], sides[j] = w.xs[j][i], j
		}
		sortPairs(w, vals, sides, t.sz <= 4)
		if trim {
			s := vals[lo]
			for a := lo + 1; a <= hi; a++ {
				s += vals[a]
			}
			res[i] = s / float64(hi-lo+1)
		} else if lo == hi {
			res[i] = vals[lo]
		} else {
			res[i] = (vals[lo] + vals[hi]) * 0.5
		}
		for a := 0; a < lo; a++ {
			w.disc[sides[a]]++
		}
		for a := hi + 1; a < k; a++ {
			w.disc[sides[a]]++
		}
	}
}

// kBulyan: among the selected sides, the mean of the K−4f values closest
// to their coordinate-wise median (ties by side), summed in side order.
func (t *Tensor) kBulyan(w *scratch, res []float64, n int) {
	act := t.m.active
	th := len(act)
	beta := t.m.k - 4*t.m.c.f
	vals, sides, dist := w.vals[:th], w.sides[:th], w.dist[:th]
	for i := 0; i < n; i++ {
		for a, j := range act {
			vals[a], sides[a] = w.xs[j][i], j
			w.chosen[j] = false
		}
		sortPairs(w, vals, sides, t.sz <= 4)
		med := vals[th/2]
		if th%2 == 0 {
			med = (vals[th/2-1] + vals[th/2]) * 0.5
		}
		for a := range vals {
			dist[a] = math.Abs(vals[a] - med)
		}
		for r := 0; r < beta; r++ {
			best := -1
			for a := range dist {
				if w.chosen[sides[a]] {
					continue
				}
				if best < 0 || lessVS(dist[a], sides[a], dist[best], sides[best]) {
					best = a
				}
			}
			w.chosen[sides[best]] = true
		}
		s, first := 0.0, true
		for _, j := range act {
			if !w.chosen[j] {
				w.disc[j]++
				continue
			}
			if first {
				s, first = w.xs[j][i], false
			} else {
				s += w.xs[j][i]
			}
		}
		res[i] = s / float64(beta)
	}
}

// kSparse: ties, dare-linear, dare-ties.
func (t *Tensor) kSparse(w *scratch, res []float64, n int, off uint64) {
	c := t.m.c
	k := t.m.k
	p := c.p
	ties := c.strategy != DareLinear
	dare := c.strategy != Ties
	delta := w.vals[:k]
	for i := 0; i < n; i++ {
		b := w.b[i]
		sum := 0.0
		for j := 0; j < k; j++ {
			d := tau(w.xs[j][i], b)
			switch {
			case d == 0:
			case dare:
				if dareUniform(t.keys[j], off+uint64(i)) < c.density {
					d = d / c.density
				} else {
					d = 0
					w.disc[j]++
				}
			default:
				if magKey(d) < t.thr[j] {
					d = 0
					w.disc[j]++
				}
			}
			delta[j] = d
			sum += float64(p[j] * d)
		}
		if !ties {
			res[i] = float64(c.lambda * sum)
			continue
		}
		if sum != sum {
			res[i] = sum
			continue
		}
		sg := signOf(sum)
		num, den := 0.0, 0.0
		for j, d := range delta {
			if d == 0 {
				continue
			}
			if signOf(d) != sg {
				w.disc[j]++
				continue
			}
			num += float64(p[j] * d)
			den += p[j]
		}
		if den > 0 {
			res[i] = float64(c.lambda * (num / den))
		} else {
			res[i] = 0
		}
	}
}

// kServer turns Δ (in res) into the server optimiser's update and new state.
func (t *Tensor) kServer(w *scratch, res []float64, n int) {
	c := t.m.c
	dt := t.dt
	switch c.strategy {
	case FedAvgM:
		v, nv := w.st[0][:n], w.nst[0][:n]
		for i, d := range res {
			nv[i] = float64(c.mu*v[i]) - d
			res[i] = -float64(c.lr * roundTrip(dt, nv[i]))
		}
		return
	}
	m, v := w.st[0][:n], w.st[1][:n]
	nm, nv := w.nst[0][:n], w.nst[1][:n]
	omb1, omb2 := 1-c.beta1, 1-c.beta2
	for i, d := range res {
		nm[i] = float64(c.beta1*m[i]) + float64(omb1*d)
		d2 := float64(d * d)
		switch c.strategy {
		case FedAdam:
			nv[i] = float64(c.beta2*v[i]) + float64(omb2*d2)
		case FedYogi:
			nv[i] = v[i] - float64(float64(omb2*d2)*signOf(v[i]-d2))
		case FedAdagrad:
			nv[i] = v[i] + d2
		}
		mr, vr := roundTrip(dt, nm[i]), roundTrip(dt, nv[i])
		res[i] = float64(c.eta*mr) / (math.Sqrt(vr) + c.tau)
	}
}

// kMedianSelect is kOrder's median past sortLarge sides of a dtype exact
// in float32: instead of sorting each element's K values it selects the
// middle one (two) by their packed keys, in O(K): the same values and the
// same sides counted as discarded, the order being total.
func (t *Tensor) kMedianSelect(w *scratch, res []float64, n, lo, hi int) {
	k := t.m.k
	if cap(w.keys) < k {
		w.keys = make([]uint64, k)
		w.pairs = make([]vsPair, k)
	}
	keys := w.keys[:k]
	for i := 0; i < n; i++ {
		for j := range keys {
			keys[j] = uint64(orderKey32(w.xs[j][i]))<<32 | uint64(j)
		}
		selectKey(keys, lo)
		if hi > lo {
			m := lo + 1
			for a := lo + 2; a < k; a++ {
				if keys[a] < keys[m] {
					m = a
				}
			}
			keys[lo+1], keys[m] = keys[m], keys[lo+1]
		}
		vlo := w.xs[uint32(keys[lo])][i]
		if lo == hi {
			res[i] = vlo
		} else {
			res[i] = (vlo + w.xs[uint32(keys[hi])][i]) * 0.5
		}
		for _, key := range keys[:lo] {
			w.disc[uint32(key)]++
		}
		for _, key := range keys[hi+1:] {
			w.disc[uint32(key)]++
		}
	}
}

// selectKey reorders distinct keys so that a[k] holds the key of rank k,
// smaller ones before it and larger ones after (introselect: quickselect
// with a median-of-three pivot, a sort once 2·log₂(len) rounds have not
// finished, so that no input costs more than K log K).
func selectKey(a []uint64, k int) {
	lo, hi := 0, len(a)-1
	budget := 2 * bits.Len(uint(len(a)))
	for hi > lo {
		if budget == 0 {
			slices.Sort(a[lo : hi+1])
			return
		}
		budget--
		mid := lo + (hi-lo)/2
		if a[mid] < a[lo] {
			a[mid], a[lo] = a[lo], a[mid]
		}
		if a[hi] < a[lo] {
			a[hi], a[lo] = a[lo], a[hi]
		}
		if a[hi] < a[mid] {
			a[hi], a[mid] = a[mid], a[hi]
		}
		p := a[mid]
		i, j := lo, hi
		for i <= j {
			for a[i] < p {
				i++
			}
			for a[j] > p {
				j--
			}
			if i <= j {
				a[i], a[j] = a[j], a[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return
		}
	}
}
