package refs_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/fed-vcs/fed/refs"
	"github.com/fed-vcs/fed/refs/refstest"
)

// The ref files conform to refs.Backend.
func TestFileBackendConforms(t *testing.T) {
	var dir string
	refstest.Run(t, func(t *testing.T) refs.Backend {
		dir = filepath.Join(t.TempDir(), "repo.fed")
		if _, err := refs.Init(dir, refs.Branch("main")); err != nil {
			t.Fatal(err)
		}
		s, err := refs.OpenWith(dir, refs.Options{LockTimeout: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		return s.Backend()
	}, refstest.Options{
		// another process holds main's lock
		Unavailable: func(t *testing.T) func() {
			l, err := refs.AcquireLock(filepath.Join(dir, "refs", "heads", "main.lock"), time.Second)
			if err != nil {
				t.Fatal(err)
			}
			return func() { l.Unlock() }
		},
	})
}

func TestFilesOfBackend(t *testing.T) {
	s, err := refs.Init(filepath.Join(t.TempDir(), "repo.fed"), refs.Branch("main"))
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := refs.Files(s.Backend()); !ok || got != s {
		t.Fatalf("Files(s.Backend()) = %v, %v", got, ok)
	}
	if _, ok := refs.Files(nil); ok {
		t.Fatal("Files(nil) reports a file store")
	}
}
