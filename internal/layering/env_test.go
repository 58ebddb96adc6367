package layering

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestEnvOnlyInCmd: only commands (package main: cmd/fed, the benchmark
// and test drivers) read environment variables, the home or cache
// directory they name; libraries take what they need from their caller.
// Tests and test-support packages (test…, …test) may.
func TestEnvOnlyInCmd(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	reads := regexp.MustCompile(`\bos\.(Getenv|LookupEnv|Environ|ExpandEnv|UserHomeDir|UserCacheDir|UserConfigDir)\(`)
	mainPkg := regexp.MustCompile(`(?m)^package main\b`)
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); n == ".git" || n == "testdata" || n == "node_modules" || path != root && strings.HasPrefix(n, ".") {
				return filepath.SkipDir
			}
			return nil
		}
		pkg := filepath.Base(filepath.Dir(path))
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") || strings.HasSuffix(pkg, "test") || strings.HasPrefix(pkg, "test") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if mainPkg.Match(b) {
			return nil
		}
		if m := reads.Find(b); m != nil {
			rel, _ := filepath.Rel(root, path)
			t.Errorf("%s calls %s): only cmd/fed reads the environment; pass the value in", rel, m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
