//go:build !linux

package repo

import "os"

// startWriteback is a no-op where sync_file_range does not exist.
func startWriteback(f *os.File) {}

// dropCache is a no-op where posix_fadvise is not available here.
func dropCache(path string) {}
