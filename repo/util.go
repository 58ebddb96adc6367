package repo

import (
	"bufio"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/fed-vcs/fed/internal/fsys"
)

func splitPath(p string) []string { return strings.Split(p, "/") }

func dirOf(p string) string { return filepath.Dir(p) }

func newBufWriter(w io.Writer) *bufio.Writer { return bufio.NewWriterSize(w, 1<<20) }

type fsInfo = fs.FileInfo

func lstat(p string) (fs.FileInfo, error) {
	fi, err := os.Lstat(p)
	if err == nil && !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", p)
	}
	return fi, err
}

// writebackEvery is how many bytes a working-tree file is written between
// two fsys.StartWriteback calls.
const writebackEvery = 32 << 20

// flushingWriter passes writes to f and starts their writeback every
// writebackEvery bytes (see fsys.StartWriteback).
type flushingWriter struct {
	f       *os.File
	pending int64
}

func (w *flushingWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.pending += int64(n)
	if w.pending >= writebackEvery {
		fsys.StartWriteback(w.f)
		w.pending = 0
	}
	return n, err
}
