package merge

import (
	"encoding/binary"
	"math"
	"math/big"
	"math/bits"

	"github.com/fed-vcs/fed/objects"
)

// i128 is a two's complement 128-bit integer, enough for Σ w·x with
// |w·x| < 2^63 and fewer than 2^63 terms.
type i128 struct {
	hi int64
	lo uint64
}

func (a *i128) add64(t int64) {
	lo, c := bits.Add64(a.lo, uint64(t), 0)
	a.hi += t>>63 + int64(c)
	a.lo = lo
}

// floorDiv returns q = ⌊n/d⌋ and r = n − q·d (0 ≤ r < d) for d > 0, when q
// fits in an int64.
func floorDiv(n i128, d uint64) (int64, uint64) {
	if n.hi >= 0 {
		q, r := bits.Div64(uint64(n.hi), n.lo, d)
		return int64(q), r
	}
	lo, c := bits.Add64(^n.lo, 1, 0)
	hi := ^uint64(n.hi) + c
	q, r := bits.Div64(hi, lo, d)
	if r == 0 {
		return -int64(q), 0
	}
	return -int64(q) - 1, d - r
}

// halfEven rounds q + r/d (0 ≤ r < d) to the nearest integer, ties to even.
func halfEven(q int64, r, d uint64) int64 {
	if r > d-r || (r == d-r && q&1 != 0) {
		return q + 1
	}
	return q
}

// intWeights turns float64 weights into integers with exactly the same
// ratios: w_k = mant_k · 2^e_k becomes mant_k · 2^(e_k − min e). Zero
// weights stay zero.
func intWeights(w []float64) []*big.Int {
	minE := math.MaxInt
	type me struct {
		mant uint64
		e    int
	}
	parts := make([]me, len(w))
	for i, x := range w {
		if x == 0 {
			continue
		}
		frac, exp := math.Frexp(x)
		m := uint64(math.Ldexp(frac, 53))
		tz := bits.TrailingZeros64(m)
		parts[i] = me{m >> uint(tz), exp - 53 + tz}
		if parts[i].e < minE {
			minE = parts[i].e
		}
	}
	out := make([]*big.Int, len(w))
	for i, p := range parts {
		out[i] = new(big.Int)
		if p.mant != 0 {
			out[i].SetUint64(p.mant)
			out[i].Lsh(out[i], uint(p.e-minE))
		}
	}
	return out
}

// intMerger computes the exact weighted mean of integer elements, rounded
// half to even: round(Σ W_k x_k / Σ W_k).
type intMerger struct {
	sides []int      // contributing sides
	bw    []*big.Int // integer weights of those sides
	bsum  *big.Int
	small []int64 // the same weights when they fit the fast path
	ssum  uint64
	fast  bool // all weights < 2^31
	// scratch for the big path
	n, t, q, r, d2 big.Int
}

func newIntMerger(weights []float64, sides []int) *intMerger {
	w := make([]float64, len(sides))
	for i, s := range sides {
		w[i] = weights[s]
	}
	im := &intMerger{sides: sides, bw: intWeights(w), bsum: new(big.Int), fast: true}
	for _, b := range im.bw {
		im.bsum.Add(im.bsum, b)
		if b.BitLen() > 31 {
			im.fast = false
		}
	}
	if im.fast {
		for _, b := range im.bw {
			im.small = append(im.small, b.Int64())
			im.ssum += uint64(b.Int64())
		}
	}
	return im
}

func readInt(dt objects.DType, b []byte) (int64, uint64, bool) {
	switch dt {
	case objects.U8:
		return int64(b[0]), 0, false
	case objects.I8:
		return int64(int8(b[0])), 0, false
	case objects.U16:
		return int64(binary.LittleEndian.Uint16(b)), 0, false
	case objects.I16:
		return int64(int16(binary.LittleEndian.Uint16(b))), 0, false
	case objects.U32:
		return int64(binary.LittleEndian.Uint32(b)), 0, false
	case objects.I32:
		return int64(int32(binary.LittleEndian.Uint32(b))), 0, false
	case objects.I64:
		return int64(binary.LittleEndian.Uint64(b)), 0, false
	}
	return 0, binary.LittleEndian.Uint64(b), true // U64
}

func writeInt(dt objects.DType, v int64, u uint64, dst []byte) {
	switch dt {
	case objects.U8, objects.I8:
		dst[0] = byte(v)
	case objects.U16, objects.I16:
		binary.LittleEndian.PutUint16(dst, uint16(v))
	case objects.U32, objects.I32:
		binary.LittleEndian.PutUint32(dst, uint32(v))
	case objects.I64:
		binary.LittleEndian.PutUint64(dst, uint64(v))
	default:
		binary.LittleEndian.PutUint64(dst, u)
	}
}

// merge writes the merged elements of one piece to out.
func (im *intMerger) merge(dt objects.DType, sides [][]byte, out []byte) {
	sz := elemSize(dt)
	wide := sz == 8
	for off := 0; off+sz <= len(out); off += sz {
		if im.fast && !wide {
			var acc i128
			for i, s := range im.sides {
				v, _, _ := readInt(dt, sides[s][off:])
				acc.add64(im.small[i] * v)
			}
			q, r := floorDiv(acc, im.ssum)
			writeInt(dt, halfEven(q, r, im.ssum), 0, out[off:])
			continue
		}
		im.n.SetInt64(0)
		for i, s := range im.sides {
			v, u, isU := readInt(dt, sides[s][off:])
			if isU {
				im.t.SetUint64(u)
			} else {
				im.t.SetInt64(v)
			}
			im.t.Mul(&im.t, im.bw[i])
			im.n.Add(&im.n, &im.t)
		}
		im.q.DivMod(&im.n, im.bsum, &im.r) // Euclidean: floor for a positive divisor
		im.d2.Lsh(&im.r, 1)
		if c := im.d2.Cmp(im.bsum); c > 0 || (c == 0 && im.q.Bit(0) == 1) {
			im.q.Add(&im.q, big.NewInt(1))
		}
		if dt == objects.U64 {
			writeInt(dt, 0, im.q.Uint64(), out[off:])
		} else {
			writeInt(dt, im.q.Int64(), 0, out[off:])
		}
	}
}

// wide is an integer element of any integer dtype, widened to 128 bits
// (U64 values above 2^63 stay positive).
type wide = i128

func readWide(dt objects.DType, b []byte) wide {
	v, u, isU := readInt(dt, b)
	if isU {
		return wide{0, u}
	}
	return wide{v >> 63, uint64(v)}
}

func (a wide) less(b wide) bool {
	if a.hi != b.hi {
		return a.hi < b.hi
	}
	return a.lo < b.lo
}

func (a wide) add(b wide) wide {
	lo, c := bits.Add64(a.lo, b.lo, 0)
	return wide{a.hi + b.hi + int64(c), lo}
}

func (a wide) sub(b wide) wide {
	lo, c := bits.Sub64(a.lo, b.lo, 0)
	return wide{a.hi - b.hi - int64(c), lo}
}

func (a wide) abs() wide {
	if a.hi >= 0 {
		return a
	}
	return wide{}.sub(a)
}

// writeMean writes round_half_even(sum/d) (d > 0), the exact mean of d
// values of dtype dt whose sum is sum; it fits dt since a mean lies between
// its values.
func writeMean(dt objects.DType, sum wide, d uint64, dst []byte) {
	if dt == objects.U64 {
		q, r := bits.Div64(uint64(sum.hi), sum.lo, d) // sum ≥ 0 and < d·2^64
		if r > d-r || (r == d-r && q&1 != 0) {
			q++
		}
		writeInt(dt, 0, q, dst)
		return
	}
	q, r := floorDiv(sum, d)
	writeInt(dt, halfEven(q, r, d), 0, dst)
}

// intOrder applies the order-statistic rules (median, trimmed-mean, bulyan)
// to integer elements, as they apply to floats (design §14): the selection
// is the rule's own, only the mean of what it keeps is exact (rounded half
// to even) instead of a float sum. The weights play no part, as for floats.
type intOrder struct {
	strategy string
	sides    []int // median, trimmed-mean: all; bulyan: the krum selection
	lo, hi   int   // median, trimmed-mean: kept sorted positions [lo, hi]
	beta     int   // bulyan: values kept around the median
	vals     []wide
	idx      []int
	dist     []wide
	chosen   []bool
}

func newIntOrder(c *config, k int, active []int) *intOrder {
	o := &intOrder{strategy: c.strategy, sides: allSides(k)}
	switch c.strategy {
	case Median:
		o.lo, o.hi = k/2, k/2
		if k%2 == 0 {
			o.lo = k/2 - 1
		}
	case TrimmedMean:
		b := int(math.Floor(float64(c.beta * float64(k))))
		o.lo, o.hi = b, k-1-b
	case Bulyan:
		o.sides = active
		o.beta = k - 4*c.f
	}
	n := len(o.sides)
	o.vals, o.idx, o.dist, o.chosen = make([]wide, n), make([]int, n), make([]wide, n), make([]bool, n)
	return o
}

// sort orders vals (and idx, the positions they came from) ascending,
// ties by position.
func (o *intOrder) sort() {
	for i := 1; i < len(o.vals); i++ {
		v, x := o.vals[i], o.idx[i]
		j := i
		for j > 0 && (v.less(o.vals[j-1]) || v == o.vals[j-1] && x < o.idx[j-1]) {
			o.vals[j], o.idx[j] = o.vals[j-1], o.idx[j-1]
			j--
		}
		o.vals[j], o.idx[j] = v, x
	}
}

// merge writes the merged elements of one piece to out.
func (o *intOrder) merge(dt objects.DType, sides [][]byte, out []byte) {
	sz := elemSize(dt)
	n := len(o.sides)
	for off := 0; off+sz <= len(out); off += sz {
		for a, s := range o.sides {
			o.vals[a], o.idx[a] = readWide(dt, sides[s][off:]), a
		}
		o.sort()
		if o.strategy != Bulyan {
			var sum wide
			for a := o.lo; a <= o.hi; a++ {
				sum = sum.add(o.vals[a])
			}
			writeMean(dt, sum, uint64(o.hi-o.lo+1), out[off:])
			continue
		}
		// Distances to the median, doubled so that the median of an even
		// count (the mean of the middle two) stays an integer.
		med2 := o.vals[n/2].add(o.vals[n/2])
		if n%2 == 0 {
			med2 = o.vals[n/2-1].add(o.vals[n/2])
		}
		for a := range o.vals {
			o.dist[a] = o.vals[a].add(o.vals[a]).sub(med2).abs()
			o.chosen[a] = false
		}
		var sum wide
		for range o.beta {
			best := -1
			for a := range o.dist {
				if o.chosen[a] {
					continue
				}
				if best < 0 || o.dist[a].less(o.dist[best]) || o.dist[a] == o.dist[best] && o.idx[a] < o.idx[best] {
					best = a
				}
			}
			o.chosen[best] = true
			sum = sum.add(o.vals[best])
		}
		writeMean(dt, sum, uint64(o.beta), out[off:])
	}
}
