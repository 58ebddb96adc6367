// Package fsys holds what fed asks of the operating system that differs
// between systems, behind one portable interface: a file's identity and
// change time for stat caches, directory fsync, lock files that die with
// their process, renaming over an existing file, write-back hints, and
// read-only file mappings.
//
// Each system's code sits in its own small file under a build tag
// (stat_*.go, lock_*.go, sync_*.go, rename_*.go, writeback_*.go,
// mmap_*.go); this
// file and the portable parts are the same everywhere. Where a system has
// no equivalent the call is a documented no-op (SyncDir on Windows, the
// write-back hints off Linux), never an error; MapReadOnly alone fails
// where there is no mapping (Windows), and its callers read instead.
//
// On these it builds the one way fed replaces a file (atomic.go):
// WriteFile writes a temporary file beside the target, fsyncs it, renames
// it over the target and fsyncs the directory; CreateTemp and Publish are
// its two halves for writers that publish later (objects' batches). Every
// package that writes a file in place uses it; refs' lock files are the
// same protocol with the lock file as the temporary file.
//
// It leaves to its callers what to do with the answers: the lock-file
// protocol is refs', the stat cache is repo's index, the decode cache is
// objects'.
package fsys
