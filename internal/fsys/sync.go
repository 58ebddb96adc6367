package fsys

// SyncPath makes the data of the closed file at path durable (fsync). A
// batch writes many files, closes them, and syncs them all later: on unix
// a read-only descriptor can be synced, on Windows FlushFileBuffers needs
// a handle with write access.
func SyncPath(path string) error { return syncPath(path) }

// OncePerm is the permission of files written once and never changed
// (objects): read-only on unix; on Windows a read-only file could not be
// opened for the write access SyncPath needs, nor replaced by a rename, so
// it is left writable there.
const OncePerm = oncePerm
