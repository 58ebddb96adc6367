package fsys

import (
	"errors"
	"math/rand/v2"
	"os"
	"time"

	"golang.org/x/sys/windows"
)

// RenameRetry is how long Rename keeps retrying a sharing or access
// violation (the budget cmd/go's robustio gives the same errors).
const RenameRetry = 2 * time.Second

func rename(oldpath, newpath string) error {
	deadline := time.Now().Add(RenameRetry)
	backoff := time.Millisecond
	for {
		err := os.Rename(oldpath, newpath)
		if err == nil || !transient(err) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(backoff/2 + rand.N(backoff/2+1))
		backoff = min(2*backoff, 100*time.Millisecond)
	}
}

func transient(err error) bool {
	return errors.Is(err, windows.ERROR_SHARING_VIOLATION) || errors.Is(err, windows.ERROR_ACCESS_DENIED) ||
		errors.Is(err, windows.ERROR_LOCK_VIOLATION)
}

func open(path string) (*os.File, error) {
	deadline := time.Now().Add(RenameRetry)
	backoff := time.Millisecond
	for {
		// Backup semantics open directories too, as os.Open does.
		f, err := openShared(path, windows.GENERIC_READ, windows.OPEN_EXISTING, windows.FILE_FLAG_BACKUP_SEMANTICS)
		if err == nil || !errors.Is(err, windows.ERROR_SHARING_VIOLATION) || time.Now().After(deadline) {
			return f, err
		}
		time.Sleep(backoff/2 + rand.N(backoff/2+1))
		backoff = min(2*backoff, 100*time.Millisecond)
	}
}
