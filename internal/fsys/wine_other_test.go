//go:build !windows

package fsys

func underWine() bool { return false }
