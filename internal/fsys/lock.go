package fsys

import "os"

// Lock files. A lock file is created exclusively (CreateLockFile) and then
// locked (TryLock) for as long as it is held; the system drops the lock
// when its holder exits, so another process that manages to lock an
// existing lock file (OpenLockFile, TryLock) knows its holder is gone.
// Both open the file so that it can be renamed or removed while open (on
// Windows with FILE_SHARE_DELETE), which the lock-file protocol does.

// CreateLockFile creates path exclusively for reading and writing.
func CreateLockFile(path string) (*os.File, error) { return createLockFile(path) }

// OpenLockFile opens the existing lock file at path for reading.
func OpenLockFile(path string) (*os.File, error) { return openLockFile(path) }

// TryLock takes an exclusive lock on f without blocking: flock(2) on unix,
// LockFileEx on Windows. It reports false when another open file holds
// it. Where the system has no such lock (CanProbeLocks is false) it
// reports true and holds nothing.
func TryLock(f *os.File) (bool, error) { return tryLock(f) }

// CanProbeLocks reports whether TryLock really locks, so that a lock file
// nobody holds can be told from one a live process holds.
const CanProbeLocks = canProbeLocks
