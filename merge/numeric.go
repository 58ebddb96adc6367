package merge

import (
	"encoding/binary"
	"math"

	"github.com/fed-vcs/fed/objects"
)

// class says how a dtype is merged.
type class int

const (
	classOpaque class = iota // no arithmetic: sides must be identical
	classFloat               // F16, BF16, F32, F64: float64 arithmetic
	classInt                 // U8 … U64: the strategy's selection, exact mean, half-to-even
)

func classOf(dt objects.DType) class {
	switch dt {
	case objects.F16, objects.BF16, objects.F32, objects.F64:
		return classFloat
	case objects.U8, objects.I8, objects.I16, objects.U16, objects.I32, objects.U32, objects.I64, objects.U64:
		return classInt
	}
	return classOpaque
}

// Arithmetic reports whether merge does arithmetic on dtype dt. Tensors of
// other dtypes merge only when all sides are identical (else a
// *ConflictError).
func Arithmetic(dt objects.DType) bool { return classOf(dt) != classOpaque }

// elemSize is the element size used to cut pieces; opaque dtypes without a
// whole-byte size are handled byte by byte.
func elemSize(dt objects.DType) int {
	if n, ok := dt.Size(); ok {
		return n
	}
	return 1
}

// Canonical NaNs written for a NaN result (never for a copied input).
const (
	nanF16  = 0x7e00
	nanBF16 = 0x7fc0
	nanF32  = 0x7fc00000
	nanF64  = 0x7ff8000000000000
)

// F16ToFloat64 returns the exact value of the IEEE 754 binary16 bits h.
func F16ToFloat64(h uint16) float64 {
	return halfToFloat64(h, 5, 10)
}

// BF16ToFloat64 returns the exact value of the bfloat16 bits h.
func BF16ToFloat64(h uint16) float64 {
	return halfToFloat64(h, 8, 7)
}

// Float64ToF16 rounds x to binary16, to nearest with ties to even, in one
// step (no intermediate float32), with subnormals, overflow to ±Inf, and
// NaN mapped to a quiet NaN that keeps the sign and top payload bits.
func Float64ToF16(x float64) uint16 {
	return float64ToHalf(x, 5, 10)
}

// Float64ToBF16 rounds x to bfloat16 like Float64ToF16.
func Float64ToBF16(x float64) uint16 {
	return float64ToHalf(x, 8, 7)
}

func halfToFloat64(h uint16, expBits, mantBits uint) float64 {
	sign := uint64(h>>(expBits+mantBits)) << 63
	exp := int(h>>mantBits) & (1<<expBits - 1)
	mant := uint64(h) & (1<<mantBits - 1)
	bias := 1<<(expBits-1) - 1
	switch {
	case exp == 1<<expBits-1: // Inf or NaN: keep the payload
		return math.Float64frombits(sign | 0x7ff<<52 | mant<<(52-mantBits))
	case exp == 0: // zero or subnormal: mant · 2^(1-bias-mantBits), exact
		v := math.Ldexp(float64(mant), 1-bias-int(mantBits))
		if sign != 0 {
			v = -v
		}
		return v
	}
	return math.Float64frombits(sign | uint64(exp-bias+1023)<<52 | mant<<(52-mantBits))
}

func float64ToHalf(x float64, expBits, mantBits uint) uint16 {
	b := math.Float64bits(x)
	sign := uint16(b>>63) << (expBits + mantBits)
	exp := int(b>>52) & 0x7ff
	mant := b & (1<<52 - 1)
	infBits := uint16(1<<expBits-1) << mantBits
	if exp == 0x7ff {
		if mant != 0 {
			return sign | infBits | 1<<(mantBits-1) | uint16(mant>>(52-mantBits))
		}
		return sign | infBits
	}
	if exp == 0 { // zero or float64 subnormal: far below the smallest half subnormal
		return sign
	}
	bias := 1<<(expBits-1) - 1
	e := exp - 1023 // x = m · 2^(e-52), m has 53 bits
	if e > bias {
		return sign | infBits
	}
	m := mant | 1<<52
	emin := 1 - bias
	shift := 52 - int(mantBits)
	if e < emin {
		shift += emin - e
	}
	if shift > 53 { // below half of the smallest subnormal
		return sign
	}
	q := m >> uint(shift)
	rem := m & (1<<uint(shift) - 1)
	half := uint64(1) << uint(shift-1)
	if rem > half || (rem == half && q&1 == 1) {
		q++
	}
	if e < emin {
		return sign | uint16(q) // q == 1<<mantBits carries into the smallest normal
	}
	// q includes the implicit bit; a carry to 1<<(mantBits+1) bumps the
	// exponent, and past the largest exponent it lands exactly on Inf.
	return sign | uint16(uint64(e+bias-1)<<mantBits+q)
}

// roundTrip rounds x to the precision of dt and returns it as float64.
func roundTrip(dt objects.DType, x float64) float64 {
	switch dt {
	case objects.F32:
		return float64(float32(x))
	case objects.F16:
		return F16ToFloat64(Float64ToF16(x))
	case objects.BF16:
		return BF16ToFloat64(Float64ToBF16(x))
	}
	return x
}

// DecodeFloats converts the little-endian elements of float dtype dt in
// raw (len(raw)/size of them) to float64, exactly, into dst's storage
// (grown when short), and returns them. Other dtypes give none. It is the
// decoding every float computation of fed uses (merge, revert, diff
// statistics).
func DecodeFloats(dt objects.DType, raw []byte, dst []float64) []float64 {
	if classOf(dt) != classFloat {
		return dst[:0]
	}
	n := len(raw) / elemSize(dt)
	if cap(dst) < n {
		dst = make([]float64, n)
	}
	dst = dst[:n]
	decodeFloats(dt, raw, dst)
	return dst
}

// decodeFloats converts n elements of raw (little-endian, dtype dt) to
// float64, exactly.
func decodeFloats(dt objects.DType, raw []byte, dst []float64) {
	switch dt {
	case objects.F32:
		raw = raw[:4*len(dst)]
		for i := range dst {
			dst[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:])))
		}
	case objects.F64:
		raw = raw[:8*len(dst)]
		for i := range dst {
			dst[i] = math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:]))
		}
	case objects.F16:
		raw = raw[:2*len(dst)]
		for i := range dst {
			dst[i] = F16ToFloat64(binary.LittleEndian.Uint16(raw[2*i:]))
		}
	case objects.BF16:
		raw = raw[:2*len(dst)]
		for i := range dst {
			dst[i] = BF16ToFloat64(binary.LittleEndian.Uint16(raw[2*i:]))
		}
	}
}

// encodeFloat writes x rounded once (to nearest, ties to even) to dt at
// dst; a NaN becomes the canonical quiet NaN of dt.
func encodeFloat(dt objects.DType, x float64, dst []byte) { putFloat(dt, x, dst, true) }

// putFloat writes x rounded once (to nearest, ties to even) to dt at dst.
// A NaN becomes the canonical quiet NaN of dt when canonicalNaN is set;
// otherwise it keeps its sign and the payload bits dt can hold.
func putFloat(dt objects.DType, x float64, dst []byte, canonicalNaN bool) {
	nan := canonicalNaN && x != x
	switch dt {
	case objects.F32:
		u := math.Float32bits(float32(x))
		if nan {
			u = nanF32
		}
		binary.LittleEndian.PutUint32(dst, u)
	case objects.F64:
		u := math.Float64bits(x)
		if nan {
			u = nanF64
		}
		binary.LittleEndian.PutUint64(dst, u)
	case objects.F16:
		u := Float64ToF16(x)
		if nan {
			u = nanF16
		}
		binary.LittleEndian.PutUint16(dst, u)
	case objects.BF16:
		u := Float64ToBF16(x)
		if nan {
			u = nanBF16
		}
		binary.LittleEndian.PutUint16(dst, u)
	}
}
