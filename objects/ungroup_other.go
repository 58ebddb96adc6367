//go:build !amd64

package objects

func ungroupFast(dst []byte, planes [][]byte, base []byte, n int) int { return 0 }

func groupFast(dst, data, base []byte, s, n int) int { return 0 }
