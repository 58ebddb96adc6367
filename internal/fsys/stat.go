package fsys

import "io/fs"

// Identity is what a stat cache compares besides size and modification
// time to notice that a file was changed or replaced: the file's number
// on its device (inode) and its change time in nanoseconds. A field a
// system does not offer is zero on every file there, so it never makes a
// file look changed. On Windows Ino is zero (os.FileInfo does not carry
// the file index) and CTime is the creation time, which a replacing
// rename changes; on unix systems CTime is the inode change time.
type Identity struct {
	Ino   uint64
	CTime int64
}

// IdentityOf returns fi's identity; fi must come from os.Stat, os.Lstat
// or (*os.File).Stat.
func IdentityOf(fi fs.FileInfo) Identity { return identityOf(fi) }

// ExecBits reports whether the file system records an executable bit
// (false on Windows, where a file's mode never shows one): where it does
// not, callers keep the bit they recorded instead of reading it back.
const ExecBits = execBits
