package repo

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// noTempFiles fails when a temporary file of fed is left in the working
// tree (a merge or clone writes its files next to their destination
// first).
func noTempFiles(t *testing.T, r *Repo) {
	t.Helper()
	filepath.WalkDir(r.Root, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), ".fed-tmp-") {
			t.Errorf("temporary file left behind: %s", p)
		}
		return nil
	})
}
