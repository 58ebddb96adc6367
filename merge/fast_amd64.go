package merge

import "golang.org/x/sys/cpu"

// meanF32x4 and meanF32x8 are implemented in fast_amd64.s.
//
//go:noescape
func meanF32x4(out *byte, sides **byte, q *float64, k, n int)

//go:noescape
func meanF32x8(out *byte, sides **byte, q *float64, k, n int)

// useAVX2 selects meanF32x8 (tests turn it off to check meanF32x4).
var useAVX2 = cpu.X86.HasAVX2

// meanF32Fast runs meanF32 over the whole blocks of 8 (AVX2) or 4 (SSE2)
// elements of [lo, hi) and returns how many elements it did.
func meanF32Fast(act []int, q []float64, sides [][]byte, out []byte, lo, hi int) int {
	const maxK = 16
	width := 4
	if useAVX2 {
		width = 8
	}
	k := len(act)
	blocks := (hi - lo) / width
	if k < 2 || k > maxK || blocks == 0 || len(q) < k {
		return 0
	}
	var ptrs [maxK]*byte
	end := 4 * (lo + width*blocks)
	for a, j := range act {
		s := sides[j][4*lo : end]
		ptrs[a] = &s[0]
	}
	o := out[4*lo : end]
	if useAVX2 {
		meanF32x8(&o[0], &ptrs[0], &q[0], k, blocks)
	} else {
		meanF32x4(&o[0], &ptrs[0], &q[0], k, blocks)
	}
	return width * blocks
}
