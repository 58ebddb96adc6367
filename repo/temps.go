package repo

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// tempPrefix begins the name of every temporary file fed writes in the
// working tree: a file being checked out, prepared by a clone or built by
// a merge, renamed over its path when complete. os.CreateTemp puts a
// decimal number after it.
const tempPrefix = ".fed-tmp-"

// isTempName reports whether name is one of fed's working-tree
// temporaries: the prefix and then digits only, so that a user's own
// file that merely starts with the prefix is never touched.
func isTempName(name string) bool {
	rest, ok := strings.CutPrefix(name, tempPrefix)
	if !ok || rest == "" {
		return false
	}
	for _, c := range rest {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// TempSweep counts the working-tree temporaries a sweep removed.
type TempSweep struct {
	Files int
	Bytes int64
}

// sweepTemps removes the working-tree temporaries that fed processes
// killed while writing the working tree left behind (design §13). The
// caller holds the repository lock: fed writes such files only while it
// holds that lock, and removes or renames them before it lets go, so a
// temporary found by the lock's holder belongs to no live process,
// whatever its age. withIgnored also looks inside ignored directories
// (gc; a checkout sweeps only what status walks). Directories holding a
// .fed directory of their own are other repositories, under other locks,
// and are left alone. Files that cannot be removed are left, silently:
// the sweep is housekeeping and never fails the command that runs it.
// dryRun only counts.
func (r *Repo) sweepTemps(withIgnored, dryRun bool) TempSweep {
	var sw TempSweep
	if !r.locked {
		return sw // never without the lock: the files may be in use
	}
	ig, err := r.loadIgnore()
	if err != nil {
		ig = nil
	}
	_ = filepath.WalkDir(r.Root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if d != nil && d.IsDir() && p != r.Root {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			if p == r.Root {
				return nil
			}
			if d.Name() == DirName {
				return filepath.SkipDir
			}
			if _, err := os.Lstat(filepath.Join(p, DirName)); err == nil {
				return filepath.SkipDir // a nested repository
			}
			if !withIgnored && ig != nil {
				if rel, err := filepath.Rel(r.Root, p); err == nil && ig.ignored(filepath.ToSlash(rel), true) {
					return filepath.SkipDir
				}
			}
			return nil
		}
		if !d.Type().IsRegular() || !isTempName(d.Name()) {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		if dryRun {
			sw.Files++
			sw.Bytes += fi.Size()
			return nil
		}
		if err := os.Remove(p); err == nil || errors.Is(err, fs.ErrNotExist) {
			sw.Files++
			sw.Bytes += fi.Size()
		}
		return nil
	})
	return sw
}

// lockWorktree takes the repository lock for a command that rewrites the
// working tree and, before the command writes anything, removes the
// temporaries that killed commands left (telling Warn).
func (r *Repo) lockWorktree() (unlock func() error, err error) {
	unlock, err = r.Lock(lockWait)
	if err != nil {
		return nil, err
	}
	if sw := r.sweepTemps(false, false); sw.Files > 0 && r.Warn != nil {
		r.Warn(fmt.Sprintf("removed %d temporary file(s) (%d bytes) that an interrupted fed command left in the working tree", sw.Files, sw.Bytes))
	}
	return unlock, nil
}
