package fsys

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// TestLockExcludes checks that a lock file locked through one open file
// cannot be locked through another, and can once the first is closed:
// what refs' stale-lock detection relies on.
func TestLockExcludes(t *testing.T) {
	if !CanProbeLocks {
		t.Skipf("no file locks on %s", runtime.GOOS)
	}
	path := filepath.Join(t.TempDir(), "x.lock")
	a, err := CreateLockFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := CreateLockFile(path); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second exclusive create: %v, want ErrExist", err)
	}
	if ok, err := TryLock(a); !ok || err != nil {
		t.Fatalf("first lock: %v, %v", ok, err)
	}
	// The holder writes the new contents into the lock file.
	if _, err := a.Write([]byte("new contents\n")); err != nil {
		t.Fatalf("write locked file: %v", err)
	}
	b, err := OpenLockFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if ok, err := TryLock(b); ok || err != nil {
		t.Fatalf("lock held elsewhere: got %v, %v; want false, nil", ok, err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if ok, err := TryLock(b); !ok || err != nil {
		t.Fatalf("lock after the holder closed: %v, %v", ok, err)
	}
}

// TestLockFileRenamedWhileOpen checks that an open lock file can be
// renamed over its target and removed, as refs' Commit and Unlock do
// (on Windows only with FILE_SHARE_DELETE).
func TestLockFileRenamedWhileOpen(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "main")
	if err := os.WriteFile(target, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := CreateLockFile(target + ".lock")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := TryLock(f); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("new\n")); err != nil {
		t.Fatal(err)
	}
	if err := Rename(target+".lock", target); err != nil {
		t.Fatalf("rename open lock file over target: %v", err)
	}
	if got, err := os.ReadFile(target); err != nil || string(got) != "new\n" {
		t.Fatalf("target after rename: %q, %v", got, err)
	}
	if err := SyncDir(dir); err != nil {
		t.Fatalf("sync dir: %v", err)
	}
	g, err := CreateLockFile(target + ".lock")
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if err := os.Remove(target + ".lock"); err != nil {
		t.Fatalf("remove open lock file: %v", err)
	}
}

// TestIdentityNoticesReplacement checks that a file replaced by another
// of the same size and modification time gets a different identity
// where the system offers one (inode on unix).
func TestIdentityNoticesReplacement(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows gives no file index through os.FileInfo, and file system tunnelling keeps the creation time of a name replaced within 15 s")
	}
	dir := t.TempDir()
	p, q := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	mtime := time.Unix(1_700_000_000, 0)
	for _, name := range []string{p, q} {
		if err := os.WriteFile(name, []byte("same"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(name, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	before, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := Rename(q, p); err != nil {
		t.Fatal(err)
	}
	after, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if before.Size() != after.Size() || !before.ModTime().Equal(after.ModTime()) {
		t.Fatalf("setup: size or mtime differ")
	}
	if IdentityOf(before) == IdentityOf(after) {
		t.Fatalf("replaced file has the same identity %+v", IdentityOf(after))
	}
	again, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if IdentityOf(again) != IdentityOf(after) || IdentityOf(after).Ino == 0 {
		t.Fatalf("identity %+v: want a stable, non-zero inode", IdentityOf(after))
	}
}

// TestWritebackHints checks that the hints are harmless on any file.
func TestWritebackHints(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(make([]byte, 1<<16)); err != nil {
		t.Fatal(err)
	}
	StartWriteback(f)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	DropCache(p)
	DropCache(filepath.Join(t.TempDir(), "missing"))
	if fi, err := os.Stat(p); err != nil || fi.Size() != 1<<16 {
		t.Fatalf("file after hints: %v, %v", fi, err)
	}
}

// TestRenameOverOpenFile checks that a file opened by Open does not stop
// a writer from publishing a new version by renaming over it (on Windows
// only with FILE_SHARE_DELETE), and that ReadFile then reads the new one.
func TestRenameOverOpenFile(t *testing.T) {
	dir := t.TempDir()
	p, tmp := filepath.Join(dir, "obj"), filepath.Join(dir, "tmp")
	if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tmp, []byte("new version"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open of a missing file: %v, want ErrNotExist", err)
	}
	if underWine() {
		// Wine 8's MoveFileEx refuses to replace a file that is open, even
		// with FILE_SHARE_DELETE; NTFS on current Windows replaces it (POSIX
		// rename semantics), which this test is for.
		t.Skip("Wine 8 cannot replace a file open elsewhere, even with FILE_SHARE_DELETE")
	}
	f, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := Rename(tmp, p); err != nil {
		t.Fatalf("rename over a file open for reading: %v", err)
	}
	if got, err := ReadFile(p); err != nil || string(got) != "new version" {
		t.Fatalf("ReadFile after rename: %q, %v", got, err)
	}
}

func TestOpenFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if _, err := OpenFile(p, os.O_RDONLY, 0); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("open of a missing file: %v, want ErrNotExist", err)
	}
	f, err := OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("hello\n")); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	var pe *fs.PathError
	if _, err := OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o640); !errors.Is(err, fs.ErrExist) || !errors.As(err, &pe) || pe.Path != p {
		t.Fatalf("exclusive create of an existing file: %v, want a PathError naming it, ErrExist", err)
	}
	a, err := OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	a.Write([]byte("world\n"))
	a.Close()
	b, err := ReadFile(p)
	if err != nil || string(b) != "hello\nworld\n" {
		t.Fatalf("ReadFile = %q, %v", b, err)
	}
	if fi, err := os.Stat(p); err != nil || (execBits && fi.Mode().Perm()&^0o640 != 0) {
		t.Fatalf("mode %v, %v: want at most 0640", fi.Mode(), err)
	}
	if err := SyncDir(dir); err != nil {
		t.Fatalf("SyncDir: %v", err)
	}
}
