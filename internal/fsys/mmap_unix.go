//go:build linux || darwin || freebsd || netbsd || openbsd

package fsys

import (
	"os"
	"syscall"
)

// MapReadOnly maps the first size bytes of f read-only into memory and
// returns them with the function that unmaps them; f may be closed at
// once. Reading the mapping after the file shrank below size raises
// SIGBUS: callers read it under debug.SetPanicOnFault (see objects). It
// fails where mapping is not supported (then read the file instead).
func MapReadOnly(f *os.File, size int) ([]byte, func(), error) {
	if size <= 0 {
		return nil, nil, syscall.EINVAL
	}
	b, err := syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ, syscall.MAP_SHARED|mapPopulate)
	if err != nil {
		return nil, nil, err
	}
	return b, func() { syscall.Munmap(b) }, nil
}
