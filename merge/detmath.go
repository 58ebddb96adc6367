package merge

import (
	"crypto/sha256"
	"encoding/binary"
	"math"
)

// Every product that feeds an addition below is wrapped in float64(): the
// Go spec makes an explicit conversion round, which forbids fusing it into
// an FMA, so results are the same with GOAMD64=v1 and v3 and on arm64. The
// math package's Sin/Acos are not used for the same reason.

// sinDet returns sin(x) for x in [0, π] by a fixed Taylor series.
func sinDet(x float64) float64 {
	if x > math.Pi/2 {
		x = math.Pi - x
	}
	x2 := float64(x * x)
	term, sum := x, x
	for n := 1; n <= 14; n++ {
		term = float64(-term*x2) / float64((2*n)*(2*n+1))
		sum += term
	}
	return sum
}

// cosDet returns cos(x) for x in [0, π] by a fixed Taylor series.
func cosDet(x float64) float64 {
	neg := false
	if x > math.Pi/2 {
		x = math.Pi - x
		neg = true
	}
	x2 := float64(x * x)
	term, sum := 1.0, 1.0
	for n := 1; n <= 14; n++ {
		term = float64(-term*x2) / float64((2*n-1)*(2*n))
		sum += term
	}
	if neg {
		return -sum
	}
	return sum
}

// acosDet returns arccos(c) for c in [-1, 1] by 64 steps of bisection on
// cosDet, which is decreasing on [0, π].
func acosDet(c float64) float64 {
	lo, hi := 0.0, math.Pi
	for i := 0; i < 64; i++ {
		mid := (lo + hi) / 2
		if cosDet(mid) > c {
			lo = mid
		} else {
			hi = mid
		}
	}
	return (lo + hi) / 2
}

// dareKey derives the 64-bit key of one side's drop mask of one tensor:
// the first 8 bytes (little-endian) of
// SHA-256("fed-dare-v1\x00" ‖ seed u64le ‖ len(name) u32le ‖ name ‖ side u32le).
func dareKey(seed uint64, tensor string, side int) uint64 {
	h := sha256.New()
	var b [8]byte
	h.Write([]byte("fed-dare-v1\x00"))
	binary.LittleEndian.PutUint64(b[:], seed)
	h.Write(b[:])
	binary.LittleEndian.PutUint32(b[:4], uint32(len(tensor)))
	h.Write(b[:4])
	h.Write([]byte(tensor))
	binary.LittleEndian.PutUint32(b[:4], uint32(side))
	h.Write(b[:4])
	return binary.LittleEndian.Uint64(h.Sum(nil))
}

// dareUniform is the counter-based draw for element i: SplitMix64's output
// function applied to key + (i+1)·0x9E3779B97F4A7C15, top 53 bits scaled to
// [0, 1). It depends only on (key, i).
func dareUniform(key, i uint64) float64 {
	z := key + (i+1)*0x9E3779B97F4A7C15
	z = (z ^ z>>30) * 0xBF58476D1CE4E5B9
	z = (z ^ z>>27) * 0x94D049BB133111EB
	z ^= z >> 31
	return float64(z>>11) * 0x1p-53
}

// signOf returns -1, 0 or 1 (0 for ±0 and NaN).
func signOf(x float64) float64 {
	switch {
	case x > 0:
		return 1
	case x < 0:
		return -1
	}
	return 0
}

// lessVS orders (value, side) pairs: by value, NaN after everything, ties
// (including -0 vs +0 and NaN vs NaN) by side index.
func lessVS(av float64, as int, bv float64, bs int) bool {
	an, bn := av != av, bv != bv
	if an || bn {
		if an && bn {
			return as < bs
		}
		return bn
	}
	if av != bv {
		return av < bv
	}
	return as < bs
}

// magKey is the ranking key of ties: the float32 bit pattern of |τ|
// rounded to float32, which orders like the magnitude.
func magKey(tau float64) uint32 {
	return math.Float32bits(float32(math.Abs(tau))) & 0x7fffffff
}
