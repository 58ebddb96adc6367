package fsys

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// TempPrefix starts the name of every temporary file CreateTemp makes, so
// that a directory's owner can tell them from its files and remove the
// ones a crash left behind (objects' gc does).
const TempPrefix = ".tmp-"

// CreateTemp creates a new file in dir, named TempPrefix and 16 random hex
// digits, open for reading and writing, with permission perm (less the
// umask, as os.WriteFile; on Windows never read-only, which would keep the
// file from being synced by SyncPath or replaced by Rename). A missing dir
// is created, with its parents.
func CreateTemp(dir string, perm fs.FileMode) (*os.File, error) {
	f, err := createTemp(dir, perm)
	if errors.Is(err, fs.ErrNotExist) {
		if err = os.MkdirAll(dir, 0o755); err == nil {
			f, err = createTemp(dir, perm)
		}
	}
	return f, err
}

func createTemp(dir string, perm fs.FileMode) (*os.File, error) {
	for range 3 {
		var r [8]byte
		_, _ = rand.Read(r[:])
		f, err := openFile(filepath.Join(dir, TempPrefix+hex.EncodeToString(r[:])), os.O_RDWR|os.O_CREATE|os.O_EXCL, tempPerm(perm))
		if !errors.Is(err, fs.ErrExist) {
			return f, err
		}
	}
	return nil, &fs.PathError{Op: "create temporary file", Path: dir, Err: fs.ErrExist}
}

// WriteFile replaces the file at path (or creates it) with the
// concatenation of data, atomically and durably: it writes a temporary
// file beside path (CreateTemp), fsyncs and closes it, renames it over
// path (Rename) and fsyncs the directory (SyncDir). A reader sees the old
// file or the new one, never a part; a crash leaves at most a temporary
// file. On failure path is unchanged and the temporary file is removed.
func WriteFile(path string, perm fs.FileMode, data ...[]byte) error {
	dir := filepath.Dir(path)
	f, err := CreateTemp(dir, perm)
	if err != nil {
		return err
	}
	tmp := f.Name()
	for _, d := range data {
		if _, err := f.Write(d); err != nil {
			f.Close()
			os.Remove(tmp)
			return err
		}
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return SyncDir(dir)
}

// Publish makes the closed temporary file tmp the file at path, durably:
// it fsyncs tmp (SyncPath), renames it over path and fsyncs path's
// directory. It is WriteFile's second half for writers that write many
// files first and publish them later; on failure tmp is removed.
func Publish(tmp, path string) error {
	err := SyncPath(tmp)
	if err == nil {
		err = Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return SyncDir(filepath.Dir(path))
}
