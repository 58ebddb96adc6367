package objects

// Implemented in ungroup_amd64.s: n blocks of 16 elements; base nil
// means no XOR.
//
//go:noescape
func ungroup4(dst, p0, p1, p2, p3, base *byte, n int)

//go:noescape
func ungroup2(dst, p0, p1, base *byte, n int)

// ungroupFast interleaves the first n-n%16 elements of the planes (element
// size s = len(planes), each at least n bytes) into dst, XORed with base
// when base is not nil, and returns how many elements it did (0 when s has
// no fast path).
func ungroupFast(dst []byte, planes [][]byte, base []byte, n int) int {
	s := len(planes)
	blocks := n / 16
	if blocks == 0 || (s != 2 && s != 4) {
		return 0
	}
	m := blocks * 16
	_ = dst[m*s-1]
	for _, p := range planes {
		_ = p[m-1]
	}
	var b *byte
	if base != nil {
		_ = base[m*s-1]
		b = &base[0]
	}
	if s == 4 {
		ungroup4(&dst[0], &planes[0][0], &planes[1][0], &planes[2][0], &planes[3][0], b, blocks)
	} else {
		ungroup2(&dst[0], &planes[0][0], &planes[1][0], b, blocks)
	}
	return m
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
