package fsys

import (
	"io"
	"os"
)

// Open opens the file at path for reading, like os.Open, except that on
// Windows others may rename or delete it while it is open (as on unix:
// a writer publishing a file by renaming over it is not blocked by
// readers), and a sharing violation (a rename over it in progress) is
// retried for up to RenameRetry.
func Open(path string) (*os.File, error) { return open(path) }

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
