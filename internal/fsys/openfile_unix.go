//go:build unix

package fsys

import (
	"io/fs"
	"os"
	"syscall"
)

// openFile opens path as os.OpenFile does, but without offering the file
// to the runtime's network poller: a regular file is never ready-or-not
// the way the poller can wait for, and os.OpenFile's attempt costs four
// fcntl and a failing epoll_ctl call for every file, and two more fcntl
// when Fd is asked for (StartWriteback). A model of thousands of tensors
// opens tens of thousands of object files.
func openFile(path string, flag int, perm fs.FileMode) (*os.File, error) {
	for {
		fd, err := syscall.Open(path, flag|syscall.O_CLOEXEC, uint32(perm.Perm()))
		if err == nil {
			return os.NewFile(uintptr(fd), path), nil
		}
		if err != syscall.EINTR {
			return nil, &fs.PathError{Op: "open", Path: path, Err: err}
		}
	}
}
