//go:build !(linux && (amd64 || arm64 || riscv64 || loong64 || s390x || mips64 || mips64le))

package fsys

import "os"

// StartWriteback is a no-op where sync_file_range does not exist.
func StartWriteback(f *os.File) {}

// DropCache is a no-op where posix_fadvise is not used.
func DropCache(path string) {}
