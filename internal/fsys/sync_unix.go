//go:build unix

package fsys

import (
	"errors"
	"os"
)

// SyncDir fsyncs directory dir so that a rename or removal in it is
// durable. A file system that cannot sync directories (EINVAL) is not an
// error.
func SyncDir(dir string) error {
	d, err := openFile(dir, os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	errSync := d.Sync()
	if errors.Is(errSync, os.ErrInvalid) {
		errSync = nil
	}
	return errors.Join(errSync, d.Close())
}

const oncePerm = 0o444

func syncPath(path string) error {
	f, err := openFile(path, os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	errSync := f.Sync()
	return errors.Join(errSync, f.Close())
}

const execBits = true

func tempPerm(perm os.FileMode) os.FileMode { return perm }
