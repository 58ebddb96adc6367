//go:build !(linux || darwin || freebsd || netbsd || openbsd)

package fsys

import (
	"errors"
	"os"
)

// MapReadOnly is not supported here: callers read the file instead.
func MapReadOnly(f *os.File, size int) ([]byte, func(), error) {
	return nil, nil, errors.ErrUnsupported
}
