package repo

import (
	"bufio"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
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
