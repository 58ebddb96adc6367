//go:build unix

package refs

import (
	"errors"
	"os"
	"syscall"
)

// flockOwn takes the flock of a lock file this process just created.
func flockOwn(f *os.File) (bool, error) { return tryFlock(f) }

// flockProbe tries to take the flock of someone else's lock file; success
// means its holder is gone.
func flockProbe(f *os.File) (bool, error) { return tryFlock(f) }

// tryFlock takes an exclusive flock(2) on f without blocking. It reports
// false when another open file description holds it.
func tryFlock(f *os.File) (bool, error) {
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

// syncDir fsyncs a directory so that a rename or removal in it is durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	errSync := d.Sync()
	errClose := d.Close()
	return errors.Join(errSync, errClose)
}
