package objects

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// Locate returns the file that holds the stored form of id and the section
// of it the form takes: a loose object file whole, or an entry of a pack
// (design §6b). It is for tools and tests that look at the bytes on disk;
// an object still pending in this process's batch is not published
// anywhere yet and is reported as not found.
func (s *DiskStore) Locate(id ID) (path string, off, n int64, err error) {
	p := s.final(id)
	fi, err := os.Stat(p)
	if err == nil {
		return p, 0, fi.Size(), nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", 0, 0, fmt.Errorf("locate object %s: %w", id, err)
	}
	if l, ok := s.findPacked(id, true); ok && l.pk != nil {
		return l.pk.path, l.e.off, l.e.n, nil
	}
	return "", 0, 0, &NotFoundError{ID: id}
}
