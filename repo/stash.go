package repo

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/refs"
)

// StashPrefix holds the stash: one ref per entry, refs/stash/<seq>, seq a
// decimal counter (1, 2, …; a new entry takes the highest plus one). The
// entry with the highest seq is stash@{0}. Being refs, entries keep their
// objects from gc. Each names a commit W whose tree is the working tree's
// tracked files, with parents HEAD and I, a commit whose tree is the
// index (design §9, "Stash").
const StashPrefix = "refs/stash/"

// ErrNoStash reports a stash entry that does not exist.
var ErrNoStash = errors.New("repo: no such stash entry")

// Stash is one stash entry.
type Stash struct {
	Ref    refs.Name
	ID     objects.ID
	Commit *objects.Commit
}

// Stashes lists the stash, newest (stash@{0}) first.
func (r *Repo) Stashes(ctx context.Context) ([]Stash, error) {
	list, err := r.Refs.List(StashPrefix)
	if err != nil {
		return nil, err
	}
	type seqRef struct {
		seq int
		ref refs.Ref
	}
	var all []seqRef
	for _, ref := range list {
		n, err := strconv.Atoi(strings.TrimPrefix(string(ref.Name), StashPrefix))
		if err != nil || n < 1 {
			continue // not one fed made
		}
		all = append(all, seqRef{n, ref})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].seq > all[j].seq })
	out := make([]Stash, 0, len(all))
	for _, s := range all {
		c, err := objects.ReadCommit(ctx, r.Objects, s.ref.ID)
		if err != nil {
			return nil, fmt.Errorf("read stash %s: %w", s.ref.Name, err)
		}
		out = append(out, Stash{Ref: s.ref.Name, ID: s.ref.ID, Commit: c})
	}
	return out, nil
}

// stashEntry returns stash@{n}.
func (r *Repo) stashEntry(ctx context.Context, n int) (Stash, error) {
	list, err := r.Stashes(ctx)
	if err != nil {
		return Stash{}, err
	}
	if n < 0 || n >= len(list) {
		if len(list) == 0 {
			return Stash{}, fmt.Errorf("%w: stash@{%d}: the stash is empty", ErrNoStash, n)
		}
		return Stash{}, fmt.Errorf("%w: stash@{%d}: the stash has %d entries", ErrNoStash, n, len(list))
	}
	return list[n], nil
}

// StashPush saves the changes to tracked files, staged and not, as a new
// stash entry (signed with r.Key) and resets the index and the working
// tree to HEAD, as git stash does. Untracked files stay. message replaces
// the default "WIP on <branch>: <short id> <subject>".
func (r *Repo) StashPush(ctx context.Context, message string) (Stash, error) {
	if r.Key == nil {
		return Stash{}, ErrNoKey
	}
	unlock, err := r.lockWorktree()
	if err != nil {
		return Stash{}, err
	}
	defer unlock()
	head, branch, err := r.Head()
	if err != nil {
		return Stash{}, err
	}
	if head.IsZero() {
		return Stash{}, fmt.Errorf("cannot stash: branch %s has no commits yet", branch.Short())
	}
	idx, err := r.ReadIndex()
	if err != nil {
		return Stash{}, err
	}
	if c := idx.Conflicted(); len(c) > 0 {
		return Stash{}, fmt.Errorf("%w: cannot stash during a merge with unresolved conflicts in %s", ErrConflict, strings.Join(c, ", "))
	}
	hf, err := r.CommitFiles(ctx, head)
	if err != nil {
		return Stash{}, err
	}
	indexed := indexFiles(idx)
	work := &Index{Entries: append([]IndexEntry(nil), idx.Entries...), written: idx.written}
	if err := r.stageTracked(ctx, work); err != nil {
		return Stash{}, err
	}
	worked := indexFiles(work)
	if sameFiles(hf, indexed) && sameFiles(hf, worked) {
		return Stash{}, errors.New("no local changes to save")
	}
	where := "(no branch)"
	if branch != "" {
		where = branch.Short()
	}
	hc, err := objects.ReadCommit(ctx, r.Objects, head)
	if err != nil {
		return Stash{}, err
	}
	about := head.Short() + " " + firstLine(hc.Message)
	iid, err := r.writeStashCommit(ctx, indexed, []objects.ID{head}, "index on "+where+": "+about)
	if err != nil {
		return Stash{}, err
	}
	msg := "WIP on " + where + ": " + about
	if message != "" {
		msg = "On " + where + ": " + message
	}
	wid, err := r.writeStashCommit(ctx, worked, []objects.ID{head, iid}, msg)
	if err != nil {
		return Stash{}, err
	}
	list, err := r.Refs.List(StashPrefix)
	if err != nil {
		return Stash{}, err
	}
	seq := 0
	for _, ref := range list {
		if n, err := strconv.Atoi(strings.TrimPrefix(string(ref.Name), StashPrefix)); err == nil && n > seq {
			seq = n
		}
	}
	name := refs.Name(StashPrefix + strconv.Itoa(seq+1))
	if err := r.Refs.Update(name, objects.ZeroID, wid, r.entry("stash: "+msg)); err != nil {
		return Stash{}, err
	}
	// back to HEAD: tracked files as committed; files only the stash has
	// (added since HEAD) leave the working tree
	if err := r.moveTo(ctx, "stash", hf, hf, true); err != nil {
		return Stash{}, fmt.Errorf("stash saved as %s, but resetting to HEAD failed: %w", name, err)
	}
	for _, files := range []map[string]TreeFile{indexed, worked} {
		for p := range files {
			if _, ok := hf[p]; ok {
				continue
			}
			if err := os.Remove(r.abs(p)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return Stash{}, err
			}
			r.pruneEmptyDirs(p)
		}
	}
	c, err := objects.ReadCommit(ctx, r.Objects, wid)
	if err != nil {
		return Stash{}, err
	}
	return Stash{Ref: name, ID: wid, Commit: c}, nil
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// writeStashCommit stores the trees of files and a signed commit of them
// (without the commit hook: a stash records no proofs or zk roots).
func (r *Repo) writeStashCommit(ctx context.Context, files map[string]TreeFile, parents []objects.ID, msg string) (objects.ID, error) {
	return r.storeCommit(ctx, files, parents, msg, nil, nil)
}

// StashApply brings back the changes of stash@{n} (staged changes staged
// again, the others not), keeping the entry. Every path the entry changed
// must be as the entry's base commit had it in HEAD, and have no local
// changes; otherwise nothing changes and the error says which paths
// (ErrConflict, or a *DirtyError).
func (r *Repo) StashApply(ctx context.Context, n int) (Stash, error) {
	unlock, err := r.lockWorktree()
	if err != nil {
		return Stash{}, err
	}
	defer unlock()
	s, err := r.stashEntry(ctx, n)
	if err != nil {
		return Stash{}, err
	}
	if len(s.Commit.Parents) != 2 {
		return Stash{}, fmt.Errorf("stash %s: commit %s has %d parents, want 2 (base and index)", s.Ref, s.ID.Short(), len(s.Commit.Parents))
	}
	bf, err := r.CommitFiles(ctx, s.Commit.Parents[0])
	if err != nil {
		return Stash{}, err
	}
	ifl, err := r.CommitFiles(ctx, s.Commit.Parents[1])
	if err != nil {
		return Stash{}, err
	}
	wf, err := r.CommitFiles(ctx, s.ID)
	if err != nil {
		return Stash{}, err
	}
	head, _, err := r.Head()
	if err != nil {
		return Stash{}, err
	}
	hf, err := r.CommitFiles(ctx, head)
	if err != nil {
		return Stash{}, err
	}
	differs := func(a, b map[string]TreeFile, p string) bool {
		x, okx := a[p]
		y, oky := b[p]
		return okx != oky || x != y
	}
	touched := map[string]bool{}
	for _, m := range []map[string]TreeFile{bf, ifl, wf} {
		for p := range m {
			if differs(bf, ifl, p) || differs(bf, wf, p) {
				touched[p] = true
			}
		}
	}
	var moved, dirtyPaths []string
	dirty, err := r.dirtyPaths(ctx)
	if err != nil {
		return Stash{}, err
	}
	for p := range touched {
		if differs(hf, bf, p) {
			moved = append(moved, p)
		}
		if _, d := dirty[p]; d {
			dirtyPaths = append(dirtyPaths, p)
		}
	}
	if len(moved) > 0 {
		sort.Strings(moved)
		return Stash{}, fmt.Errorf("%w: stash@{%d} changes %s, which HEAD changed since the stash was made on %s", ErrConflict, n, strings.Join(moved, ", "), s.Commit.Parents[0].Short())
	}
	if len(dirtyPaths) > 0 {
		sort.Strings(dirtyPaths)
		return Stash{}, &DirtyError{Op: "stash apply", Paths: dirtyPaths}
	}
	target := make(map[string]TreeFile, len(hf))
	for p, f := range hf {
		target[p] = f
	}
	for p := range touched {
		if f, ok := wf[p]; ok {
			target[p] = f
		} else {
			delete(target, p)
		}
	}
	if err := r.moveTo(ctx, "stash apply", hf, target, false); err != nil {
		return Stash{}, err
	}
	// the index: staged changes as they were staged, the rest unstaged
	idx, err := r.ReadIndex()
	if err != nil {
		return Stash{}, err
	}
	for p := range touched {
		want, ok := bf[p]
		if differs(bf, ifl, p) {
			want, ok = ifl[p]
		}
		if !ok {
			idx.Remove(p)
			continue
		}
		if e, found := idx.Find(p); found && e.ID == want.ID && e.Mode == want.Mode {
			continue // as moveTo left it, with its stat cache
		}
		idx.Set(IndexEntry{Path: p, Kind: want.Kind, ID: want.ID, Mode: want.Mode})
	}
	return s, r.WriteIndex(idx)
}

// StashDrop deletes stash@{n}; later entries move up by one.
func (r *Repo) StashDrop(ctx context.Context, n int) (Stash, error) {
	s, err := r.stashEntry(ctx, n)
	if err != nil {
		return Stash{}, err
	}
	return s, r.Refs.Update(s.Ref, s.ID, objects.ZeroID, r.entry("stash: dropped"))
}
