package fsys

import (
	"io/fs"
	"syscall"
)

func identityOf(fi fs.FileInfo) Identity {
	d, ok := fi.Sys().(*syscall.Win32FileAttributeData)
	if !ok {
		return Identity{}
	}
	return Identity{CTime: d.CreationTime.Nanoseconds()}
}
