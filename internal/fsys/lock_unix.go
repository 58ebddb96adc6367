//go:build unix

package fsys

import (
	"errors"
	"os"
	"syscall"
)

const canProbeLocks = true

func createLockFile(path string) (*os.File, error) {
	return openFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
}

func openLockFile(path string) (*os.File, error) { return openFile(path, os.O_RDONLY, 0) }

func tryLock(f *os.File) (bool, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return false, err
	}
	var ferr error
	cerr := rc.Control(func(fd uintptr) {
		for {
			ferr = syscall.Flock(int(fd), syscall.LOCK_EX|syscall.LOCK_NB)
			if ferr != syscall.EINTR {
				return
			}
		}
	})
	if cerr != nil {
		return false, cerr
	}
	if errors.Is(ferr, syscall.EWOULDBLOCK) {
		return false, nil
	}
	if ferr != nil {
		return false, &os.SyscallError{Syscall: "flock", Err: ferr}
	}
	return true, nil
}
