package fsys

import (
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// tempFiles lists the temporary files CreateTemp left in dir.
func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		if strings.HasPrefix(e.Name(), TempPrefix) {
			out = append(out, e.Name())
		}
	}
	return out
}

// TestWriteFileReplaces writes a file, then replaces it, read-only as
// objects' files are: on unix the new file is read-only, on Windows it
// keeps its write bit, or the second write could not replace it.
func TestWriteFileReplaces(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "config")
	if err := WriteFile(path, 0o444, []byte("one ")); err != nil {
		t.Fatalf("first write (creating the directory): %v", err)
	}
	if err := WriteFile(path, 0o444, []byte("two "), []byte("parts\n")); err != nil {
		t.Fatalf("replace a read-only file: %v", err)
	}
	got, err := os.ReadFile(path)
	if err != nil || string(got) != "two parts\n" {
		t.Fatalf("after replace: %q, %v", got, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	writable := fi.Mode().Perm()&0o200 != 0
	if want := runtime.GOOS == "windows"; writable != want {
		t.Errorf("%s: mode %v, owner-writable %v, want %v", runtime.GOOS, fi.Mode(), writable, want)
	}
	if left := tempFiles(t, filepath.Dir(path)); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// TestWriteFileUnderOpenReader replaces a file that a reader has open
// (through Open): the reader goes on reading the old contents, a new
// open reads the new ones. On Windows that needs FILE_SHARE_DELETE.
func TestWriteFileUnderOpenReader(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.json")
	if err := WriteFile(path, 0o644, []byte("old\n")); err != nil {
		t.Fatal(err)
	}
	if underWine() {
		t.Skip("Wine 8 cannot replace a file open elsewhere, even with FILE_SHARE_DELETE (see TestRenameOverOpenFile)")
	}
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := WriteFile(path, 0o644, []byte("new\n")); err != nil {
		t.Fatalf("replace a file open for reading: %v", err)
	}
	old, err := io.ReadAll(r)
	if err != nil || string(old) != "old\n" {
		t.Errorf("open reader: %q, %v; want the old contents", old, err)
	}
	got, err := ReadFile(path)
	if err != nil || string(got) != "new\n" {
		t.Errorf("new reader: %q, %v", got, err)
	}
}

// TestWriteFileFailureKeepsOld: when the rename fails (the path is a
// directory that is not empty), the path is untouched and no temporary
// file stays behind.
func TestWriteFileFailureKeepsOld(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "taken")
	if err := os.MkdirAll(filepath.Join(path, "inside"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, 0o644, []byte("x")); err == nil {
		t.Fatal("WriteFile over a non-empty directory succeeded")
	}
	if fi, err := os.Stat(filepath.Join(path, "inside")); err != nil || !fi.IsDir() {
		t.Errorf("the directory changed: %v", err)
	}
	if left := tempFiles(t, dir); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// TestPublish writes temporary files first and publishes them later, as
// objects' batches do.
func TestPublish(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ab")
	var tmps []string
	for i := range 2 {
		f, err := CreateTemp(dir, OncePerm)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(filepath.Base(f.Name()), TempPrefix) || filepath.Dir(f.Name()) != dir {
			t.Errorf("temporary file %s: want %s/%s…", f.Name(), dir, TempPrefix)
		}
		if _, err := f.Write([]byte{byte('a' + i)}); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		tmps = append(tmps, f.Name())
	}
	if tmps[0] == tmps[1] {
		t.Fatalf("two temporary files share the name %s", tmps[0])
	}
	for i, tmp := range tmps {
		if err := Publish(tmp, filepath.Join(dir, "obj")); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
		if got, err := os.ReadFile(filepath.Join(dir, "obj")); err != nil || string(got) != string(rune('a'+i)) {
			t.Errorf("after publish %d: %q, %v", i, got, err)
		}
	}
	if left := tempFiles(t, dir); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
	if err := Publish(filepath.Join(dir, TempPrefix+"missing"), filepath.Join(dir, "obj")); err == nil {
		t.Error("publishing a missing file succeeded")
	}
}
