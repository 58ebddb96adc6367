//go:build !linux

package objects

import "os"

// startWriteback is a no-op where sync_file_range is missing.
func startWriteback(f *os.File) {}
