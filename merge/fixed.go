package merge

import (
	"fmt"
	"math"
)

// FixedShift is the binary point of the verifiable fixed-point mode: a value
// x is represented by the int32 q = round-half-even(x · 2^FixedShift).
const FixedShift = 16

// Quantize returns round-half-even(x · 2^16) as an int32. It fails (matching
// ErrRange) for NaN, ±Inf and values whose quantum lies outside the int32
// range.
func Quantize(x float64) (int32, error) {
	y := math.RoundToEven(math.Ldexp(x, FixedShift)) // scaling by 2^16 is exact
	if !(y >= math.MinInt32 && y <= math.MaxInt32) {
		return 0, fmt.Errorf("quantize %v: %w", x, ErrRange)
	}
	return int32(y), nil
}

// Dequantize returns q / 2^16 (exact in float64).
func Dequantize(q int32) float64 { return math.Ldexp(float64(q), -FixedShift) }

// FixedMean is the verifiable merge of one element: ⌊Σ w_k·q_k / W⌋ with
// W = Σ w_k, computed exactly (128-bit) and floored towards −∞. Weights must
// be at most MaxFixedWeight and not all zero; len(w) must equal len(q).
// The result always fits an int32 because it lies between min q and max q.
func FixedMean(q []int32, w []uint64) (int32, error) {
	if len(q) != len(w) {
		return 0, &WeightError{Index: -1, Msg: fmt.Sprintf("%d weights for %d values", len(w), len(q))}
	}
	var acc i128
	var total uint64
	for i, x := range q {
		if w[i] > MaxFixedWeight {
			return 0, &WeightError{Index: i, Msg: fmt.Sprintf("%d exceeds %d", w[i], uint64(MaxFixedWeight))}
		}
		acc.add64(int64(w[i]) * int64(x))
		total += w[i]
	}
	if total == 0 {
		return 0, &WeightError{Index: -1, Msg: "all zero"}
	}
	m, _ := floorDiv(acc, total)
	return int32(m), nil
}
