//go:build !windows

package fsys

import (
	"os"
	"time"
)

// RenameRetry is how long Rename retries on Windows; unused elsewhere.
const RenameRetry = time.Duration(0)

func rename(oldpath, newpath string) error { return os.Rename(oldpath, newpath) }

func transient(err error) bool { return false }

func open(path string) (*os.File, error) { return openFile(path, os.O_RDONLY, 0) }
