package layering

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStandsAlone: the repository must not depend on files outside it.
// A pointer to a sibling directory of the checkout (the planning notes
// the project started from) would be a dead link on every other
// machine, so no tracked text names one.
func TestStandsAlone(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	// Spelled in pieces, so that this file does not name them itself.
	shared := "shared"
	forbidden := []string{"../" + shared, "/work/" + shared, shared + "/STYLE.md", "FIELD-" + "NOTES.md"}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "node_modules", "bin":
				return filepath.SkipDir
			}
			return nil
		}
		info, err := d.Info()
		if err != nil || info.Size() > 4<<20 {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if strings.IndexByte(string(b[:min(len(b), 8000)]), 0) >= 0 {
			return nil // binary
		}
		for _, f := range forbidden {
			if strings.Contains(string(b), f) {
				rel, _ := filepath.Rel(root, path)
				t.Errorf("%s mentions %q: the repository must stand on its own", rel, f)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
