package repo

import (
	"os"
	"path/filepath"
	"testing"
)

func TestIsTempName(t *testing.T) {
	for name, want := range map[string]bool{
		".fed-tmp-1":          true,
		".fed-tmp-4294967295": true,
		".fed-tmp-":           false,
		".fed-tmp-notes":      false,
		".fed-tmp-12a":        false,
		"fed-tmp-12":          false,
		"x.fed-tmp-12":        false,
	} {
		if got := isTempName(name); got != want {
			t.Errorf("isTempName(%q) = %v, want %v", name, got, want)
		}
	}
}

// Only the holder of the repository lock sweeps: another fed process
// may be writing the files while it holds the lock.
func TestSweepTempsOnlyUnderLock(t *testing.T) {
	r := newTestRepo(t)
	tmp := filepath.Join(r.Root, ".fed-tmp-77")
	if err := os.WriteFile(tmp, []byte("partial"), 0o644); err != nil {
		t.Fatal(err)
	}
	if sw := r.sweepTemps(true, false); sw.Files != 0 {
		t.Fatalf("sweep without the lock removed %d files", sw.Files)
	}
	if _, err := os.Stat(tmp); err != nil {
		t.Fatalf("sweep without the lock: %v", err)
	}
	unlock, err := r.Lock(lockWait)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if sw := r.sweepTemps(true, true); sw.Files != 1 || sw.Bytes != 7 {
		t.Fatalf("dry run = %+v, want 1 file of 7 bytes", sw)
	}
	if _, err := os.Stat(tmp); err != nil {
		t.Fatalf("dry run removed the file: %v", err)
	}
	if sw := r.sweepTemps(true, false); sw.Files != 1 {
		t.Fatalf("sweep under the lock = %+v, want 1 file", sw)
	}
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Fatalf("file still there after the sweep: %v", err)
	}
}
