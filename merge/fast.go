package merge

import (
	"encoding/binary"
	"math"
)

// meanF32 is the fused fedavg/linear loop for F32: the same arithmetic as
// kMean + encodeValues (Σ in side order from the first product, each
// product rounded, one rounding to float32, identical sides copied), without
// the float64 tile.
func meanF32(act []int, q []float64, sides [][]byte, out []byte, lo, hi int) {
	lo += meanF32Fast(act, q, sides, out, lo, hi)
	o := out[4*lo : 4*hi]
	s0 := sides[act[0]][4*lo : 4*hi]
	q0 := q[0]
	switch len(act) {
	case 1:
		copy(o, s0)
	case 2:
		s1 := sides[act[1]][4*lo : 4*hi]
		q1 := q[1]
		for len(o) >= 4 && len(s0) >= 4 && len(s1) >= 4 {
			u0 := binary.LittleEndian.Uint32(s0)
			u1 := binary.LittleEndian.Uint32(s1)
			acc := float64(q0 * float64(math.Float32frombits(u0)))
			acc += float64(q1 * float64(math.Float32frombits(u1)))
			binary.LittleEndian.PutUint32(o, pickF32(u0, u0^u1 != 0, acc))
			o, s0, s1 = o[4:], s0[4:], s1[4:]
		}
	case 3:
		s1 := sides[act[1]][4*lo : 4*hi]
		s2 := sides[act[2]][4*lo : 4*hi]
		q1, q2 := q[1], q[2]
		for len(o) >= 4 && len(s0) >= 4 && len(s1) >= 4 && len(s2) >= 4 {
			u0 := binary.LittleEndian.Uint32(s0)
			u1 := binary.LittleEndian.Uint32(s1)
			u2 := binary.LittleEndian.Uint32(s2)
			acc := float64(q0 * float64(math.Float32frombits(u0)))
			acc += float64(q1 * float64(math.Float32frombits(u1)))
			acc += float64(q2 * float64(math.Float32frombits(u2)))
			binary.LittleEndian.PutUint32(o, pickF32(u0, (u0^u1)|(u0^u2) != 0, acc))
			o, s0, s1, s2 = o[4:], s0[4:], s1[4:], s2[4:]
		}
	case 4:
		s1 := sides[act[1]][4*lo : 4*hi]
		s2 := sides[act[2]][4*lo : 4*hi]
		s3 := sides[act[3]][4*lo : 4*hi]
		q1, q2, q3 := q[1], q[2], q[3]
		for len(o) >= 4 && len(s0) >= 4 && len(s1) >= 4 && len(s2) >= 4 && len(s3) >= 4 {
			u0 := binary.LittleEndian.Uint32(s0)
			u1 := binary.LittleEndian.Uint32(s1)
			u2 := binary.LittleEndian.Uint32(s2)
			u3 := binary.LittleEndian.Uint32(s3)
			acc := float64(q0 * float64(math.Float32frombits(u0)))
			acc += float64(q1 * float64(math.Float32frombits(u1)))
			acc += float64(q2 * float64(math.Float32frombits(u2)))
			acc += float64(q3 * float64(math.Float32frombits(u3)))
			binary.LittleEndian.PutUint32(o, pickF32(u0, (u0^u1)|(u0^u2)|(u0^u3) != 0, acc))
			o, s0, s1, s2, s3 = o[4:], s0[4:], s1[4:], s2[4:], s3[4:]
		}
	default:
		for i := 0; i < hi-lo; i++ {
			u0 := binary.LittleEndian.Uint32(s0[4*i:])
			acc := float64(q0 * float64(math.Float32frombits(u0)))
			var d uint32
			for a := 1; a < len(act); a++ {
				u := binary.LittleEndian.Uint32(sides[act[a]][4*(lo+i):])
				d |= u ^ u0
				acc += float64(q[a] * float64(math.Float32frombits(u)))
			}
			binary.LittleEndian.PutUint32(o[4*i:], pickF32(u0, d != 0, acc))
		}
	}
}

// pickF32 returns u0 when the sides agree, else acc rounded to float32
// (canonical NaN for NaN).
func pickF32(u0 uint32, differ bool, acc float64) uint32 {
	if !differ {
		return u0
	}
	if acc != acc {
		return nanF32
	}
	return math.Float32bits(float32(acc))
}
