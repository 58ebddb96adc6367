//go:build !unix

package refs

import "os"

// Without flock(2) a lock file's creator owns it by creating it, and no
// process can prove another holder dead: someone else's lock file is always
// treated as live, so a leftover lock file makes acquisition time out.

func flockOwn(f *os.File) (bool, error) { return true, nil }

func flockProbe(f *os.File) (bool, error) { return false, nil }

// syncDir is a no-op where directories cannot be opened for fsync.
func syncDir(dir string) error { return nil }
