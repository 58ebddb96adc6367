package objects

// Implemented in ungroup_amd64.s: n blocks of 16 elements, planes stride
// bytes apart.
//
//go:noescape
func ungroup4(dst, src *byte, n, stride int)

//go:noescape
func ungroup4Xor(dst, src, base *byte, n, stride int)

//go:noescape
func ungroup2(dst, src *byte, n, stride int)

//go:noescape
func ungroup2Xor(dst, src, base *byte, n, stride int)

// ungroupFast interleaves the first n-n%16 elements of grouped (element
// size s, planes n bytes long) into dst, XORed with base when base is not
// nil, and returns how many elements it did (0 when s has no fast path).
func ungroupFast(dst, grouped, base []byte, s, n int) int {
	blocks := n / 16
	if blocks == 0 || (s != 2 && s != 4) {
		return 0
	}
	_ = dst[n*s-1]
	_ = grouped[n*s-1]
	if base != nil {
		_ = base[n*s-1]
	}
	switch {
	case s == 4 && base == nil:
		ungroup4(&dst[0], &grouped[0], blocks, n)
	case s == 4:
		ungroup4Xor(&dst[0], &grouped[0], &base[0], blocks, n)
	case base == nil:
		ungroup2(&dst[0], &grouped[0], blocks, n)
	default:
		ungroup2Xor(&dst[0], &grouped[0], &base[0], blocks, n)
	}
	return blocks * 16
}

//go:noescape
func group4Xor(dst, src, base *byte, n, stride int)

//go:noescape
func group2Xor(dst, src, base *byte, n, stride int)

// groupFast groups the first n-n%16 elements of data (element size s,
// XORed with base when base is not nil) into planes n bytes long in dst,
// and returns how many elements it did (0 when s has no fast path).
func groupFast(dst, data, base []byte, s, n int) int {
	blocks := n / 16
	if blocks == 0 || (s != 2 && s != 4) {
		return 0
	}
	_ = dst[n*s-1]
	_ = data[n*s-1]
	if base != nil {
		_ = base[n*s-1]
	}
	var b *byte // nil: no XOR
	if base != nil {
		b = &base[0]
	}
	if s == 4 {
		group4Xor(&dst[0], &data[0], b, blocks, n)
	} else {
		group2Xor(&dst[0], &data[0], b, blocks, n)
	}
	return blocks * 16
}
