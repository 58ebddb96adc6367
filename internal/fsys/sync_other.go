//go:build !unix

package fsys

// SyncDir is a no-op: Windows (NTFS journals its metadata) and the other
// systems here cannot open a directory for fsync.
func SyncDir(dir string) error { return nil }
