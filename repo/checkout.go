package repo

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/refs"
)

// DirtyError lists the paths whose uncommitted changes an operation
// would overwrite. It unwraps to ErrDirty.
type DirtyError struct {
	Op    string
	Paths []string
}

func (e *DirtyError) Error() string {
	p := e.Paths
	more := ""
	if len(p) > 5 {
		p, more = p[:5], fmt.Sprintf(" and %d more", len(e.Paths)-5)
	}
	return fmt.Sprintf("%s would overwrite uncommitted changes in %s%s", e.Op, strings.Join(p, ", "), more)
}

func (e *DirtyError) Unwrap() error { return ErrDirty }

// dirtyPaths returns the paths with staged or unstaged changes, and the
// untracked files, relative to HEAD's files.
func (r *Repo) dirtyPaths(ctx context.Context) (map[string]byte, error) {
	st, err := r.Status(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]byte{}
	for _, s := range st {
		if s.Worktree == 'W' && s.Staged == 0 {
			continue // withheld weights: nothing local to lose
		}
		if s.Worktree == '?' {
			out[s.Path] = '?'
		} else {
			out[s.Path] = 'M'
		}
	}
	return out, nil
}

// moveTo makes the index and working tree hold target's files where they
// differ from HEAD's (from), keeping local changes to other paths.
// Without force it refuses, changing nothing, when a changed path has
// local changes or an untracked file is in the way.
func (r *Repo) moveTo(ctx context.Context, op string, from, target map[string]TreeFile, force bool) error {
	if err := r.checkCheckout(target); err != nil {
		return err
	}
	idx, err := r.ReadIndex()
	if err != nil {
		return err
	}
	var changed []string
	for p, t := range target {
		if f, ok := from[p]; !ok || f != t {
			changed = append(changed, p)
		}
	}
	for p := range from {
		if _, ok := target[p]; !ok {
			changed = append(changed, p)
		}
	}
	sort.Strings(changed)
	if !force {
		dirty, err := r.dirtyPaths(ctx)
		if err != nil {
			return err
		}
		var bad []string
		for _, p := range changed {
			if _, d := dirty[p]; d {
				// an untracked or modified file identical to the target is fine
				if t, ok := target[p]; ok {
					if _, id, err := r.fileID(ctx, r.abs(p), p); err == nil && id == t.ID {
						continue
					}
				}
				if r.deletedOnly(p, idx, from, target) {
					continue
				}
				bad = append(bad, p)
			}
		}
		// a directory in the target where an untracked file stands, and so on
		for p := range dirty {
			for _, c := range changed {
				if strings.HasPrefix(c, p+"/") || strings.HasPrefix(p, c+"/") {
					bad = append(bad, p)
				}
			}
		}
		if len(bad) > 0 {
			sort.Strings(bad)
			return &DirtyError{Op: op, Paths: bad}
		}
	}
	var total int64
	for _, p := range changed {
		if t, ok := target[p]; ok {
			total += r.fileSize(ctx, t.ID)
		}
	}
	r.Progress.Start("checking out", total, "B")
	defer r.Progress.Done()
	wf, err := r.withheldFiles()
	if err != nil {
		return err
	}
	for _, p := range changed {
		t, ok := target[p]
		if !ok || wf.file(ctx, t.Kind, t.ID) {
			idx.Remove(p)
			if err := os.Remove(r.abs(p)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			r.pruneEmptyDirs(p)
			if ok {
				// weights withheld: tracked, not in the working tree
				idx.Set(IndexEntry{Path: p, Kind: t.Kind, ID: t.ID, Mode: t.Mode})
			}
			continue
		}
		fi, err := r.checkoutFile(ctx, p, t.ID, t.Mode)
		if err != nil {
			return err
		}
		r.Progress.Add(fi.Size())
		e := IndexEntry{Path: p, Kind: t.Kind, ID: t.ID}
		statInfo(&e, fi)
		e.Mode = t.Mode
		idx.Set(e)
	}
	if force {
		// reset the index to the target for every path, and restore files
		// whose local changes are being discarded
		for p, t := range target {
			e, ok := idx.Find(p)
			if ok && e.ID == t.ID && e.Mode == t.Mode {
				if fi, err := os.Lstat(r.abs(p)); err == nil && idx.clean(e, fi) {
					continue
				}
				if _, id, err := r.fileID(ctx, r.abs(p), p); err == nil && id == t.ID {
					continue
				}
			}
			if wf.file(ctx, t.Kind, t.ID) {
				if err := os.Remove(r.abs(p)); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return err
				}
				idx.Set(IndexEntry{Path: p, Kind: t.Kind, ID: t.ID, Mode: t.Mode})
				continue
			}
			fi, err := r.checkoutFile(ctx, p, t.ID, t.Mode)
			if err != nil {
				return err
			}
			ne := IndexEntry{Path: p, Kind: t.Kind, ID: t.ID}
			statInfo(&ne, fi)
			ne.Mode = t.Mode
			idx.Set(ne)
		}
		for _, e := range append([]IndexEntry(nil), idx.Entries...) {
			if _, ok := target[e.Path]; !ok {
				idx.Remove(e.Path)
			}
		}
	}
	return r.WriteIndex(idx)
}

// deletedOnly reports whether the only local change to p is its deletion,
// which moving to target loses nothing of (git's rule): p is gone from the
// working tree, and its index entry is the one from has (an unstaged
// deletion) or, when target has no p either, absent (a staged one).
func (r *Repo) deletedOnly(p string, idx *Index, from, target map[string]TreeFile) bool {
	if _, err := os.Lstat(r.abs(p)); !errors.Is(err, fs.ErrNotExist) {
		return false
	}
	f, inFrom := from[p]
	e, inIndex := idx.Find(p)
	if !inIndex {
		_, inTarget := target[p]
		return !inTarget
	}
	return inFrom && e.Stage == 0 && e.ID == f.ID && e.Mode == f.Mode
}

// fileSize is the byte size of a blob or model object (0 when unreadable).
func (r *Repo) fileSize(ctx context.Context, id objects.ID) int64 {
	o, err := objects.Read(ctx, r.Objects, id, 0)
	if err != nil {
		return 0
	}
	switch o := o.(type) {
	case *objects.Blob:
		return int64(o.Size)
	case *objects.Model:
		return int64(o.Size)
	}
	return 0
}

// SwitchOptions tune Switch.
type SwitchOptions struct {
	Create bool   // create the branch first
	Start  string // where a created branch starts (default HEAD)
	Force  bool   // discard local changes in the way
}

// Switch makes branch the current branch and checks it out.
func (r *Repo) Switch(ctx context.Context, branch string, opts SwitchOptions) error {
	name := refs.Branch(branch)
	if err := refs.ValidateName(string(name)); err != nil {
		return err
	}
	unlock, err := r.lockWorktree()
	if err != nil {
		return err
	}
	defer unlock()
	head, _, err := r.Head()
	if err != nil {
		return err
	}
	var target objects.ID
	if opts.Create {
		start := head
		if opts.Start != "" {
			if start, err = r.Resolve(ctx, opts.Start); err != nil {
				return err
			}
		}
		if start.IsZero() {
			return fmt.Errorf("cannot create branch %s: HEAD has no commits yet", branch)
		}
		if err := r.Refs.Update(name, objects.ZeroID, start, r.entry("branch: created from "+start.Short())); err != nil {
			if errors.Is(err, refs.ErrStale) {
				return fmt.Errorf("branch %s already exists", branch)
			}
			return err
		}
		target = start
	} else {
		target, err = r.Refs.Read(name)
		if errors.Is(err, refs.ErrNotFound) {
			return fmt.Errorf("%w: no branch named %s", ErrUnknownRev, branch)
		}
		if err != nil {
			return err
		}
	}
	if err := r.moveHeadFiles(ctx, "switch", head, target, opts.Force); err != nil {
		return err
	}
	return r.Refs.SetHead(refs.Head{Symbolic: name, ID: target}, r.moveEntry(branch))
}

func (r *Repo) moveHeadFiles(ctx context.Context, op string, from, to objects.ID, force bool) error {
	ff, err := r.CommitFiles(ctx, from)
	if err != nil {
		return err
	}
	tf, err := r.CommitFiles(ctx, to)
	if err != nil {
		return err
	}
	return r.moveTo(ctx, op, ff, tf, force)
}

// Checkout detaches HEAD at rev and checks it out.
func (r *Repo) Checkout(ctx context.Context, rev string, force bool) (objects.ID, error) {
	unlock, err := r.lockWorktree()
	if err != nil {
		return objects.ZeroID, err
	}
	defer unlock()
	target, err := r.Resolve(ctx, rev)
	if err != nil {
		return objects.ZeroID, err
	}
	head, _, err := r.Head()
	if err != nil {
		return objects.ZeroID, err
	}
	if err := r.moveHeadFiles(ctx, "checkout", head, target, force); err != nil {
		return objects.ZeroID, err
	}
	return target, r.Refs.SetHead(refs.Head{ID: target}, r.moveEntry(rev))
}

// CheckoutPaths restores paths (files or directories) from rev, or from
// the index when rev is empty, into the working tree (and the index, for
// rev).
func (r *Repo) CheckoutPaths(ctx context.Context, rev string, paths []string) error {
	unlock, err := r.lockWorktree()
	if err != nil {
		return err
	}
	defer unlock()
	idx, err := r.ReadIndex()
	if err != nil {
		return err
	}
	var src map[string]TreeFile
	if rev == "" {
		src = indexFiles(idx)
	} else {
		id, err := r.Resolve(ctx, rev)
		if err != nil {
			return err
		}
		if src, err = r.CommitFiles(ctx, id); err != nil {
			return err
		}
	}
	for _, p := range paths {
		rel, err := r.rel(p)
		if err != nil {
			return err
		}
		n := 0
		for sp, t := range src {
			if sp != rel && !under(sp, rel) {
				continue
			}
			n++
			fi, err := r.checkoutFile(ctx, sp, t.ID, t.Mode)
			if err != nil {
				return err
			}
			e := IndexEntry{Path: sp, Kind: t.Kind, ID: t.ID}
			statInfo(&e, fi)
			e.Mode = t.Mode
			if rev != "" {
				idx.Set(e)
			} else if ie, ok := idx.Find(sp); ok {
				*ie = e
			}
		}
		if n == 0 {
			return fmt.Errorf("pathspec %s did not match any file in %s", p, orIndex(rev))
		}
	}
	return r.WriteIndex(idx)
}

func orIndex(rev string) string {
	if rev == "" {
		return "the index"
	}
	return rev
}

// ResetMode is how far Reset goes.
type ResetMode int

// Reset modes, as in git.
const (
	ResetMixed ResetMode = iota // move the branch and the index
	ResetSoft                   // move the branch only
	ResetHard                   // move the branch, the index and the working tree
)

// Reset moves the current branch (or detached HEAD) to rev. ResetHard
// discards uncommitted changes to tracked files, as git's --hard does;
// untracked files stay unless the target has a file at their path.
func (r *Repo) Reset(ctx context.Context, rev string, mode ResetMode) (objects.ID, error) {
	unlock, err := r.lockWorktree()
	if err != nil {
		return objects.ZeroID, err
	}
	defer unlock()
	target, err := r.Resolve(ctx, rev)
	if err != nil {
		return objects.ZeroID, err
	}
	head, _, err := r.Head()
	if err != nil {
		return objects.ZeroID, err
	}
	switch mode {
	case ResetHard:
		if err := r.moveHeadFiles(ctx, "reset --hard", head, target, true); err != nil {
			return objects.ZeroID, err
		}
	case ResetMixed:
		tf, err := r.CommitFiles(ctx, target)
		if err != nil {
			return objects.ZeroID, err
		}
		idx, err := r.ReadIndex()
		if err != nil {
			return objects.ZeroID, err
		}
		old := map[string]IndexEntry{}
		for _, e := range idx.Entries {
			if e.Stage == 0 {
				old[e.Path] = e
			}
		}
		idx.Entries = nil
		for p, t := range tf {
			e := IndexEntry{Path: p, Kind: t.Kind, ID: t.ID, Mode: t.Mode}
			if o, ok := old[p]; ok && o.ID == t.ID {
				e = o // keep the stat cache
			}
			idx.Entries = append(idx.Entries, e)
		}
		if err := r.WriteIndex(idx); err != nil {
			return objects.ZeroID, err
		}
	}
	return target, r.Refs.UpdateHead(head, target, r.entry("reset: moving to "+rev))
}

// CreateBranch creates a branch at rev (default HEAD).
func (r *Repo) CreateBranch(ctx context.Context, name, rev string) (objects.ID, error) {
	if rev == "" {
		rev = "HEAD"
	}
	id, err := r.Resolve(ctx, rev)
	if err != nil {
		return objects.ZeroID, err
	}
	n := refs.Branch(name)
	if err := refs.ValidateName(string(n)); err != nil {
		return objects.ZeroID, err
	}
	if err := r.Refs.Update(n, objects.ZeroID, id, r.entry("branch: created from "+rev)); err != nil {
		if errors.Is(err, refs.ErrStale) {
			return objects.ZeroID, fmt.Errorf("branch %s already exists", name)
		}
		return objects.ZeroID, err
	}
	return id, nil
}

// DeleteBranch deletes a branch; not the current one, and, unless force,
// only when it is merged into HEAD.
func (r *Repo) DeleteBranch(ctx context.Context, name string, force bool) (objects.ID, error) {
	n := refs.Branch(name)
	id, err := r.Refs.Read(n)
	if err != nil {
		if errors.Is(err, refs.ErrNotFound) {
			return objects.ZeroID, fmt.Errorf("%w: no branch named %s", ErrUnknownRev, name)
		}
		return objects.ZeroID, err
	}
	head, cur, err := r.Head()
	if err != nil {
		return objects.ZeroID, err
	}
	if cur == n {
		return objects.ZeroID, fmt.Errorf("cannot delete branch %s: it is checked out", name)
	}
	if !force {
		ok, err := r.IsAncestor(ctx, id, head)
		if err != nil {
			return objects.ZeroID, err
		}
		if !ok {
			return objects.ZeroID, fmt.Errorf("branch %s is not merged into HEAD; use -D to delete it anyway", name)
		}
	}
	return id, r.Refs.Update(n, id, objects.ZeroID, r.entry("branch: deleted"))
}

// TagOptions tune CreateTag.
type TagOptions struct {
	Message string // non-empty: a signed tag object; empty: a plain ref
	Force   bool
}

// CreateTag names rev (default HEAD) with a tag.
func (r *Repo) CreateTag(ctx context.Context, name, rev string, opts TagOptions) (objects.ID, error) {
	if rev == "" {
		rev = "HEAD"
	}
	target, err := r.Resolve(ctx, rev)
	if err != nil {
		return objects.ZeroID, err
	}
	n := refs.Tag(name)
	if err := refs.ValidateName(string(n)); err != nil {
		return objects.ZeroID, err
	}
	id := target
	if opts.Message != "" {
		if r.Key == nil {
			return objects.ZeroID, ErrNoKey
		}
		now := r.Now()
		_, off := now.Zone()
		t := &objects.Tag{Target: target, TargetKind: objects.KindCommit, Name: name, Time: now.Unix(), TZ: int16(off / 60), Message: opts.Message}
		if err := objects.SignTag(t, r.Key); err != nil {
			return objects.ZeroID, err
		}
		if id, err = objects.Write(ctx, r.Objects, t); err != nil {
			return objects.ZeroID, err
		}
	}
	old := objects.ZeroID
	if opts.Force {
		if cur, err := r.Refs.Read(n); err == nil {
			old = cur
		}
	}
	if err := r.Refs.Update(n, old, id, r.entry("tag: "+name)); err != nil {
		if errors.Is(err, refs.ErrStale) {
			return objects.ZeroID, fmt.Errorf("tag %s already exists", name)
		}
		return objects.ZeroID, err
	}
	return id, nil
}

// DeleteTag deletes a tag ref (a signed tag object stays until gc).
func (r *Repo) DeleteTag(name string) (objects.ID, error) {
	n := refs.Tag(name)
	id, err := r.Refs.Read(n)
	if err != nil {
		if errors.Is(err, refs.ErrNotFound) {
			return objects.ZeroID, fmt.Errorf("%w: no tag named %s", ErrUnknownRev, name)
		}
		return objects.ZeroID, err
	}
	return id, r.Refs.Update(n, id, objects.ZeroID, r.entry("tag: deleted "+name))
}
