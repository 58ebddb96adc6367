package fsys

import (
	"io"
	"io/fs"
	"os"
)

// Open opens the file at path for reading, like os.Open, except that on
// Windows others may rename or delete it while it is open (as on unix:
// a writer publishing a file by renaming over it is not blocked by
// readers), and a sharing violation (a rename over it in progress) is
// retried for up to RenameRetry.
func Open(path string) (*os.File, error) { return open(path) }

// OpenFile is os.OpenFile for regular files and directories (not pipes,
// sockets or terminals): on unix it opens them without the runtime
// poller, which never takes them, saving the system calls os.OpenFile
// spends finding that out (five per file on Linux); elsewhere it is
// os.OpenFile.
func OpenFile(path string, flag int, perm fs.FileMode) (*os.File, error) {
	return openFile(path, flag, perm)
}

// ReadFile reads the whole file at path, opened by Open.
func ReadFile(path string) ([]byte, error) {
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var size int
	if fi, err := f.Stat(); err == nil && fi.Size() < 1<<40 {
		size = int(fi.Size())
	}
	b := make([]byte, 0, size+512)
	for {
		n, err := f.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
}
