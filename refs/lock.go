package refs

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/fed-vcs/fed/internal/fsys"
)

// ErrLocked reports that a lock file stayed held by a live process for the
// whole wait.
var ErrLocked = errors.New("refs: locked by another process")

// DefaultLockTimeout is how long lock acquisition waits by default.
const DefaultLockTimeout = 5 * time.Second

const (
	minBackoff = time.Millisecond
	maxBackoff = 100 * time.Millisecond
	// maxFastRetries bounds immediate retries between two waits.
	maxFastRetries = 100
)

// Lock is a held lock file: a file created exclusively at its path and
// flock(2)-locked for as long as it is held, so that it dies with the
// process that holds it. See AcquireLock for the protocol.
//
// The holder may write the new contents of the locked file into the lock
// (Write) and then Commit it over the target, as refs does; or use it as a
// mere mutex and Unlock it.
type Lock struct {
	path   string
	f      *os.File
	done   bool // the lock file no longer stands at path
	closed bool
}

// AcquireLock creates the lock file path with O_CREATE|O_EXCL and takes an
// exclusive flock on it. When path already exists it checks whether the lock
// is stale: if no live process holds an flock on the existing file, the file
// is removed and creation retried. Otherwise it retries with backoff until
// timeout has passed (timeout <= 0 means DefaultLockTimeout) and then
// returns an error wrapping ErrLocked that names path. The parent directory
// is created if missing.
//
// Breaking a stale lock is race-free: the breaker first takes the flock on
// the file it opened, then checks that path still names that same file
// (same device and inode) before unlinking it. A new holder, after creating
// the file and taking its flock, likewise checks that path still names its
// file, and starts over if a breaker removed it in between. So at most one
// process at a time holds the flock of the file that path names.
//
// The lock is flock(2) on unix and LockFileEx on Windows (internal/fsys);
// both die with their process. On Windows the lock file is opened with
// FILE_SHARE_DELETE so that it can be renamed and removed while open, and
// a lock file another process is just removing (delete pending) is waited
// for like a held one. Processes on systems with neither lock cannot
// detect stale locks; there a leftover lock file makes acquisition time
// out.
func AcquireLock(path string, timeout time.Duration) (*Lock, error) {
	if timeout <= 0 {
		timeout = DefaultLockTimeout
	}
	deadline := time.Now().Add(timeout)
	backoff := minBackoff
	fast := 0         // immediate retries in a row
	var passing error // the last transient error, if the last attempt met one
	for {
		l, retryNow, err := tryAcquire(path)
		passing = nil
		if fsys.Transient(err) {
			passing, err = err, nil
		}
		if err != nil {
			return nil, err
		}
		if l != nil {
			return l, nil
		}
		// The situation changed (a stale lock broken, a directory made):
		// retry at once, but never spin without end.
		if retryNow && fast < maxFastRetries {
			fast++
			continue
		}
		fast = 0
		now := time.Now()
		if !now.Before(deadline) {
			if passing != nil {
				return nil, passing // already names path
			}
			return nil, fmt.Errorf("%w: %s is held by a live process (waited %v)", ErrLocked, path, timeout)
		}
		sleep := backoff/2 + rand.N(backoff/2+1)
		if rest := deadline.Sub(now); sleep > rest {
			sleep = rest
		}
		time.Sleep(sleep)
		backoff = min(2*backoff, maxBackoff)
	}
}

// tryAcquire makes one attempt. It returns the lock on success; retryNow
// when the situation changed under it (a stale lock was removed, the file
// vanished) and another attempt should follow at once; neither when a live
// process holds the lock.
func tryAcquire(path string) (l *Lock, retryNow bool, err error) {
	f, err := fsys.CreateLockFile(path)
	switch {
	case err == nil:
		return own(path, f)
	case errors.Is(err, fs.ErrNotExist):
		// The parent is missing (never made, or pruned by a concurrent
		// delete): make it and go again.
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, false, fmt.Errorf("lock %s: %w", path, err)
		}
		return nil, true, nil
	case errors.Is(err, fs.ErrExist):
		return breakIfStale(path)
	default:
		return nil, false, fmt.Errorf("lock %s: %w", path, err)
	}
}

// own finishes taking a lock file this process has just created.
func own(path string, f *os.File) (*Lock, bool, error) {
	held, err := fsys.TryLock(f)
	if err != nil {
		f.Close()
		return nil, false, fmt.Errorf("lock %s: %w", path, err)
	}
	if !held {
		// A breaker holds our fresh file and will remove it.
		f.Close()
		return nil, false, nil
	}
	same, err := namesFile(path, f)
	if err != nil {
		f.Close()
		return nil, false, fmt.Errorf("lock %s: %w", path, err)
	}
	if !same {
		// A breaker removed our file before we took its flock.
		f.Close()
		return nil, true, nil
	}
	return &Lock{path: path, f: f}, false, nil
}

// breakIfStale removes the existing lock file at path if no live process
// holds its flock.
func breakIfStale(path string) (*Lock, bool, error) {
	if !fsys.CanProbeLocks {
		return nil, false, nil // no way to tell a dead holder: treat it as live
	}
	f, err := fsys.OpenLockFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, true, nil // released in between
	}
	if err != nil {
		return nil, false, fmt.Errorf("lock %s: %w", path, err)
	}
	defer f.Close()
	held, err := fsys.TryLock(f)
	if err != nil {
		return nil, false, fmt.Errorf("lock %s: %w", path, err)
	}
	if !held {
		return nil, false, nil // a live holder
	}
	same, err := namesFile(path, f)
	if err != nil {
		return nil, false, fmt.Errorf("lock %s: %w", path, err)
	}
	if !same {
		return nil, true, nil // replaced in between
	}
	// We hold the flock of the file path names, so its creator is dead (or
	// has not taken the flock yet and will notice the removal).
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, false, fmt.Errorf("break stale lock %s: %w", path, err)
	}
	return nil, true, nil
}

// namesFile reports whether path currently names the open file f.
func namesFile(path string, f *os.File) (bool, error) {
	fi, err := f.Stat()
	if err != nil {
		return false, err
	}
	pi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return os.SameFile(fi, pi), nil
}

// LockFile takes the lock file at path (see AcquireLock) and returns the
// function that releases it. It is for repository-wide mutexes such as
// "<repo>/.fed/index.lock" or "<repo>/.fed/gc.lock".
func LockFile(path string, timeout time.Duration) (unlock func() error, err error) {
	l, err := AcquireLock(path, timeout)
	if err != nil {
		return nil, err
	}
	return l.Unlock, nil
}

// Path returns the lock file's path.
func (l *Lock) Path() string { return l.path }

// Write writes to the lock file (the new contents of the locked file).
func (l *Lock) Write(p []byte) (int, error) {
	if l.done {
		return 0, fmt.Errorf("write lock %s: already released", l.path)
	}
	return l.f.Write(p)
}

// Commit makes the lock file's contents the contents of target: it fsyncs
// the lock file, renames it over target, fsyncs target's directory and
// releases the lock.
func (l *Lock) Commit(target string) error {
	if l.done {
		return fmt.Errorf("commit lock %s: already released", l.path)
	}
	if err := l.f.Sync(); err != nil {
		l.Unlock()
		return fmt.Errorf("commit lock %s: %w", l.path, err)
	}
	if err := fsys.Rename(l.path, target); err != nil {
		l.Unlock()
		return fmt.Errorf("commit lock %s: %w", l.path, err)
	}
	l.done = true // the file is now target's; never remove it
	errSync := fsys.SyncDir(filepath.Dir(target))
	errClose := l.close()
	if err := errors.Join(errSync, errClose); err != nil {
		return fmt.Errorf("commit lock %s: %w", l.path, err)
	}
	return nil
}

// rename moves the lock file over target without syncing anything; the
// caller has synced the file, syncs the directory afterwards, then calls
// Unlock to close the file.
func (l *Lock) rename(target string) error {
	if err := fsys.Rename(l.path, target); err != nil {
		return fmt.Errorf("rename %s: %w", l.path, err)
	}
	l.done = true
	return nil
}

func (l *Lock) close() error {
	if l.closed {
		return nil
	}
	l.closed = true
	return l.f.Close()
}

// Unlock removes the lock file and releases the lock. The file is removed
// before its flock is dropped, so no other process can mistake it for
// stale. Unlocking a released or committed lock does nothing.
func (l *Lock) Unlock() error {
	var errRemove error
	if !l.done {
		l.done = true
		errRemove = os.Remove(l.path)
	}
	errClose := l.close()
	if err := errors.Join(errRemove, errClose); err != nil {
		return fmt.Errorf("unlock %s: %w", l.path, err)
	}
	return nil
}
