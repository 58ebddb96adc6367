package merge

// meanF32x4 is implemented in fast_amd64.s.
//
//go:noescape
func meanF32x4(out *byte, sides **byte, q *float64, k, n int)

// meanF32Fast runs meanF32 over the whole blocks of 4 elements of [lo, hi)
// with SSE2 and returns how many elements it did.
func meanF32Fast(act []int, q []float64, sides [][]byte, out []byte, lo, hi int) int {
	const maxK = 16
	k := len(act)
	blocks := (hi - lo) / 4
	if k < 2 || k > maxK || blocks == 0 || len(q) < k {
		return 0
	}
	var ptrs [maxK]*byte
	end := 4 * (lo + 4*blocks)
	for a, j := range act {
		s := sides[j][4*lo : end]
		ptrs[a] = &s[0]
	}
	o := out[4*lo : end]
	meanF32x4(&o[0], &ptrs[0], &q[0], k, blocks)
	return 4 * blocks
}
