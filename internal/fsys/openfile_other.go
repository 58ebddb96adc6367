//go:build !unix

package fsys

import (
	"io/fs"
	"os"
)

// openFile is os.OpenFile (see the unix version).
func openFile(path string, flag int, perm fs.FileMode) (*os.File, error) {
	return os.OpenFile(path, flag, perm)
}
