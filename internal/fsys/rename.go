package fsys

// Rename renames oldpath to newpath, replacing newpath if it exists, like
// os.Rename. On Windows, where a file that another process has open
// without FILE_SHARE_DELETE (a virus scanner, an indexer, a reader) cannot
// be replaced for a moment, it retries sharing and access violations for
// up to RenameRetry before giving up with the last error.
func Rename(oldpath, newpath string) error { return rename(oldpath, newpath) }

// Transient reports whether err is one of the passing conditions Rename
// retries (always false off Windows): callers that open or remove files
// another process may hold can retry them too.
func Transient(err error) bool { return transient(err) }
