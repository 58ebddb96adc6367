package merge

// meanF32x4 and meanF32x8 are implemented in fast_amd64.s.
//
//go:noescape
func meanF32x4(out *byte, sides **byte, q *float64, k, n int)

//go:noescape
func meanF32x8(out *byte, sides **byte, q *float64, k, n int)

// useAVX2 selects meanF32x8 (tests turn it off to check meanF32x4).
var useAVX2 = hasAVX2()

//go:noescape
func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)

func xgetbv() (eax, edx uint32)

// hasAVX2 reports whether the CPU has AVX2 and the OS saves its registers.
func hasAVX2() bool {
	maxLeaf, _, _, _ := cpuid(0, 0)
	if maxLeaf < 7 {
		return false
	}
	_, _, ecx1, _ := cpuid(1, 0)
	const osxsave, avx = 1 << 27, 1 << 28
	if ecx1&osxsave == 0 || ecx1&avx == 0 {
		return false
	}
	if xcr0, _ := xgetbv(); xcr0&6 != 6 { // XMM and YMM state enabled
		return false
	}
	_, ebx7, _, _ := cpuid(7, 0)
	return ebx7&(1<<5) != 0
}

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
