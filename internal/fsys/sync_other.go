//go:build !unix

package fsys

import (
	"errors"
	"os"
)

// SyncDir is a no-op: Windows (NTFS journals its metadata) and the other
// systems here cannot open a directory for fsync.
func SyncDir(dir string) error { return nil }

const oncePerm = 0o644

func syncPath(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	errSync := f.Sync()
	return errors.Join(errSync, f.Close())
}

const execBits = false

// tempPerm keeps the owner's write bit: on Windows a read-only file could
// be neither opened for SyncPath's write access nor replaced by a rename.
func tempPerm(perm os.FileMode) os.FileMode { return perm | 0o200 }
