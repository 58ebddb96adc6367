package repo

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"

	"github.com/fed-vcs/fed/objects"
)

// RestoreOptions tune Restore.
type RestoreOptions struct {
	// Source is the revision to restore from. Empty: the index for the
	// working tree, HEAD for the index.
	Source string
	// Staged restores the index, Worktree the working tree; neither set
	// means Worktree.
	Staged, Worktree bool
}

// Restore brings paths (files or directories) back as they are in the
// source, as git restore does: in the working tree (the default), the
// index (Staged), or both. A path the source does not have is deleted
// from what is restored (so restoring the index of a newly added file
// unstages it). Local changes to the paths are overwritten.
func (r *Repo) Restore(ctx context.Context, paths []string, opts RestoreOptions) error {
	if !opts.Staged && !opts.Worktree {
		opts.Worktree = true
	}
	unlock, err := r.lockWorktree()
	if err != nil {
		return err
	}
	defer unlock()
	idx, err := r.ReadIndex()
	if err != nil {
		return err
	}
	source := opts.Source
	var src map[string]TreeFile
	switch {
	case source == "" && !opts.Staged:
		src, source = indexFiles(idx), "the index"
	default:
		if source == "" {
			source = "HEAD"
		}
		id, err := resolveOrUnborn(ctx, r, source)
		if err != nil {
			return err
		}
		if src, err = r.CommitFiles(ctx, id); err != nil {
			return err
		}
	}
	tracked := indexFiles(idx)
	var todo []string
	for _, p := range paths {
		rel, err := r.rel(p)
		if err != nil {
			return err
		}
		n := 0
		seen := map[string]bool{}
		for _, set := range []map[string]TreeFile{src, tracked} {
			for sp := range set {
				if (sp == rel || under(sp, rel)) && !seen[sp] {
					seen[sp] = true
					todo = append(todo, sp)
					n++
				}
			}
		}
		if n == 0 {
			return fmt.Errorf("pathspec %s did not match any file known to fed", p)
		}
	}
	sort.Strings(todo)
	for _, p := range todo {
		t, inSource := src[p]
		if opts.Worktree {
			if inSource {
				fi, err := r.checkoutFile(ctx, p, t.ID, t.Mode)
				if err != nil {
					return fmt.Errorf("restore %s from %s: %w", p, source, err)
				}
				// the index keeps its entry; refresh its stat cache when the
				// file now matches it
				if e, ok := idx.Find(p); ok && !opts.Staged && e.Stage == 0 && e.ID == t.ID && e.Mode == t.Mode {
					statInfo(e, fi)
					e.Mode = t.Mode
				}
				if opts.Staged {
					e := IndexEntry{Path: p, Kind: t.Kind, ID: t.ID}
					statInfo(&e, fi)
					e.Mode = t.Mode
					idx.Set(e)
				}
				continue
			}
			if err := os.Remove(r.abs(p)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("restore %s: %w", p, err)
			}
			r.pruneEmptyDirs(p)
		}
		if opts.Staged {
			if inSource {
				idx.Set(IndexEntry{Path: p, Kind: t.Kind, ID: t.ID, Mode: t.Mode})
			} else {
				idx.Remove(p)
			}
		}
	}
	return r.WriteIndex(idx)
}

// resolveOrUnborn resolves rev; HEAD of an unborn branch is the empty
// commit (ZeroID).
func resolveOrUnborn(ctx context.Context, r *Repo, rev string) (objects.ID, error) {
	if rev == "HEAD" {
		h, _, err := r.Head()
		if err != nil || h.IsZero() {
			return h, err
		}
	}
	return r.Resolve(ctx, rev)
}
