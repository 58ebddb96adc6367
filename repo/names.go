package repo

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"golang.org/x/text/unicode/norm"

	"github.com/fed-vcs/fed/objects"
)

// TestFoldingFS is a test hook: when set, every checkout treats the
// working tree's file system as one that folds case and normalises
// Unicode, whatever the probe finds (cmd/fed's script tests set it, as
// Linux test machines have no such file system to mount). Nothing else
// may set it.
var TestFoldingFS bool

// goos is runtime.GOOS (tests check Windows' rules elsewhere).
var goos = runtime.GOOS

// NameCollisionError reports two paths of a tree that name the same file
// on the working tree's file system, which folds case or normalises
// Unicode (macOS, Windows): checking out both would overwrite one with
// the other.
type NameCollisionError struct {
	A, B string // the two paths, A < B
}

func (e *NameCollisionError) Error() string {
	return fmt.Sprintf("paths %q and %q differ only in case or Unicode normalisation, and this file system does not tell such names apart: checking out both would overwrite one with the other", e.A, e.B)
}

// WindowsNameError reports a path that Windows cannot hold.
type WindowsNameError struct {
	Path, Problem string
}

func (e *WindowsNameError) Error() string {
	return fmt.Sprintf("path %q cannot be checked out on Windows: it has %s", e.Path, e.Problem)
}

// foldKey is the name under which a file system that folds case and
// normalises Unicode finds name: without the code points HFS+ ignores,
// in NFD (as HFS+ stores names; APFS compares normalised names) and in
// Unicode case folding.
func foldKey(name string) string {
	var b strings.Builder
	for _, r := range norm.NFD.String(name) {
		switch {
		case r >= 0x200c && r <= 0x200f, r >= 0x202a && r <= 0x202e, r >= 0x206a && r <= 0x206f, r == 0xfeff:
			continue
		}
		b.WriteRune(r)
	}
	return strings.ToLower(strings.ToUpper(b.String()))
}

// checkCheckout refuses, before anything is written, a target tree whose
// paths this working tree cannot hold: a reserved name (validPath, on
// every system), two paths that fold to one name where the file system
// folds names, and names Windows cannot hold when running on Windows.
func (r *Repo) checkCheckout(target map[string]TreeFile) error {
	paths := make([]string, 0, len(target))
	for p := range target {
		if err := validPath(p); err != nil {
			return fmt.Errorf("refusing to check out: %w", err)
		}
		paths = append(paths, p)
	}
	sort.Strings(paths)
	if goos == "windows" {
		for _, p := range paths {
			for _, c := range strings.Split(p, "/") {
				if prob := objects.WindowsNameProblem(c); prob != "" {
					return &WindowsNameError{Path: p, Problem: prob}
				}
			}
		}
	}
	if !r.foldsNames() {
		return nil
	}
	if cs := collisions(paths); len(cs) > 0 {
		return cs[0]
	}
	return nil
}

// collisions returns a NameCollisionError for each path of paths
// (sorted) that folds to the name of an earlier one, a directory's path
// counting as a name too ("A/x" and "a/y" put two directories on one
// name).
func collisions(paths []string) []*NameCollisionError {
	var out []*NameCollisionError
	seen := map[string]string{} // fold key of a path or directory prefix -> its first spelling
	for _, p := range paths {
		parts := strings.Split(p, "/")
		keys := make([]string, len(parts))
		for i := range parts {
			keys[i] = foldKey(parts[i])
			spelled, key := strings.Join(parts[:i+1], "/"), strings.Join(keys[:i+1], "/")
			prev, ok := seen[key]
			if !ok {
				seen[key] = spelled
				continue
			}
			if prev != spelled {
				out = append(out, &NameCollisionError{A: min(prev, spelled), B: max(prev, spelled)})
				break
			}
		}
	}
	return out
}

// foldsNames reports whether the working tree's file system folds case
// or normalises Unicode, probing once: a file created in .fed under a
// name with an upper-case letter and a precomposed é is looked up in
// lower case and decomposed. If the probe fails, macOS and Windows are
// assumed to fold (their default file systems do).
func (r *Repo) foldsNames() bool {
	if TestFoldingFS {
		return true
	}
	if r.folds == nil {
		f := probeFolding(r.Dir)
		r.folds = &f
	}
	return *r.folds
}

func probeFolding(dir string) bool {
	guess := runtime.GOOS == "darwin" || runtime.GOOS == "windows"
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return guess
	}
	tag := hex.EncodeToString(b[:])
	name := filepath.Join(dir, "fold-probe-"+tag+"-X\u00e9")
	f, err := os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return guess
	}
	f.Close()
	defer os.Remove(name)
	for _, other := range []string{"fold-probe-" + tag + "-x\u00e9", "fold-probe-" + tag + "-Xe\u0301"} {
		if _, err := os.Lstat(filepath.Join(dir, other)); err == nil {
			return true
		}
	}
	return false
}

// portabilityWarnings lists, for fed add, what among the added paths
// would not check out on another system: names Windows cannot hold, and
// names that fold to the name of another path of all (the index's and
// the added ones) on macOS and Windows.
func portabilityWarnings(added, all []string) []string {
	var out []string
	isAdded := map[string]bool{}
	for _, p := range added {
		isAdded[p] = true
	}
	sort.Strings(added)
	for _, p := range added {
		for _, c := range strings.Split(p, "/") {
			if prob := objects.WindowsNameProblem(c); prob != "" {
				out = append(out, fmt.Sprintf("%s would not check out on Windows: it has %s", p, prob))
				break
			}
		}
	}
	sort.Strings(all)
	for _, ce := range collisions(all) {
		if isAdded[ce.A] || isAdded[ce.B] || anyUnder(added, ce.A) || anyUnder(added, ce.B) {
			out = append(out, fmt.Sprintf("%s and %s differ only in case or Unicode normalisation: macOS and Windows cannot check out both", ce.A, ce.B))
		}
	}
	return out
}

func anyUnder(paths []string, dir string) bool {
	for _, p := range paths {
		if strings.HasPrefix(p, dir+"/") {
			return true
		}
	}
	return false
}
