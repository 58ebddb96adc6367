//go:build darwin || ios || freebsd || netbsd

package fsys

import (
	"io/fs"
	"syscall"
)

func identityOf(fi fs.FileInfo) Identity {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return Identity{}
	}
	return Identity{Ino: uint64(st.Ino), CTime: int64(st.Ctimespec.Sec)*1e9 + int64(st.Ctimespec.Nsec)}
}
