package repo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/fed-vcs/fed/internal/fsys"
	"github.com/fed-vcs/fed/objects"
)

// A merge itself is executed by package mergeexec; repo keeps what a
// merge leaves in the repository between commands: the merge state that
// the next commit concludes, --continue and --abort, the merge base, and
// the conflicts a merge or revert reports.

// Errors of merges.
var (
	// ErrMergeInProgress reports a merge that waits for --continue or
	// --abort.
	ErrMergeInProgress = errors.New("repo: a merge is in progress")
	// ErrNoMerge reports --continue or --abort without a merge.
	ErrNoMerge = errors.New("repo: no merge in progress")
)

// ConflictError lists what an operation could not decide. It unwraps to
// ErrConflict.
type ConflictError struct {
	Op    string
	Items []string // "path" or "path: tensor name"
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("%s: conflicts in %s", e.Op, strings.Join(e.Items, ", "))
}

func (e *ConflictError) Unwrap() error { return ErrConflict }

// MergeState is kept in .fed/MERGE_STATE while a merge waits for its
// conflicts to be resolved (or, with --no-commit, for its commit): the
// next commit (Commit, MergeContinue) takes its parents and metadata, and
// MergeAbort drops it.
type MergeState struct {
	// Head is HEAD when the merge began; a commit refuses to conclude the
	// merge when HEAD moved since.
	Head    objects.ID        `json:"head"`
	Parents []objects.ID      `json:"parents"` // the merged commits besides HEAD
	Message string            `json:"message"` // the commit message
	Meta    map[string]string `json:"meta"`    // the commit's metadata (mergeexec's)
}

func (r *Repo) mergeStatePath() string { return filepath.Join(r.Dir, "MERGE_STATE") }

func (r *Repo) readMergeState() (*MergeState, error) {
	b, err := os.ReadFile(r.mergeStatePath())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var st MergeState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("merge state %s: %w", r.mergeStatePath(), err)
	}
	return &st, nil
}

// MergeInProgress reports whether a merge waits for --continue.
func (r *Repo) MergeInProgress() bool {
	_, err := os.Stat(r.mergeStatePath())
	return err == nil
}

// WriteMergeState records a merge that waits for --continue (replacing
// the file atomically). The caller holds the repository lock.
func (r *Repo) WriteMergeState(st MergeState) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return fsys.WriteFile(r.mergeStatePath(), 0o644, b)
}

// MergeBase returns the best common ancestor of ids: a common ancestor
// that is not an ancestor of another common ancestor; among several, the
// newest by commit time, then the smallest id. ZeroID when there is none.
func (r *Repo) MergeBase(ctx context.Context, ids []objects.ID) (objects.ID, error) {
	if len(ids) == 0 {
		return objects.ZeroID, nil
	}
	common, err := r.reachable(ctx, ids[:1], nil, false)
	if err != nil {
		return objects.ZeroID, err
	}
	for _, id := range ids[1:] {
		set, err := r.reachable(ctx, []objects.ID{id}, nil, false)
		if err != nil {
			return objects.ZeroID, err
		}
		for c := range common {
			if !set[c] {
				delete(common, c)
			}
		}
	}
	// drop common ancestors that are ancestors of other common ancestors
	best := map[objects.ID]bool{}
	for c := range common {
		best[c] = true
	}
	for c := range common {
		if !best[c] {
			continue
		}
		cm, err := objects.ReadCommit(ctx, r.Objects, c)
		if err != nil {
			return objects.ZeroID, err
		}
		anc, err := r.reachable(ctx, cm.Parents, nil, false)
		if err != nil {
			return objects.ZeroID, err
		}
		for a := range anc {
			delete(best, a)
		}
	}
	var out objects.ID
	var outTime int64
	for c := range best {
		cm, err := objects.ReadCommit(ctx, r.Objects, c)
		if err != nil {
			return objects.ZeroID, err
		}
		if out.IsZero() || cm.Time > outTime || cm.Time == outTime && c.String() < out.String() {
			out, outTime = c, cm.Time
		}
	}
	return out, nil
}

// MergeContinue commits a merge whose conflicts have been resolved (by
// `fed add` of each conflicted path); a plain Commit does the same.
func (r *Repo) MergeContinue(ctx context.Context, message string) (objects.ID, error) {
	st, err := r.readMergeState()
	if err != nil {
		return objects.ZeroID, err
	}
	if st == nil {
		return objects.ZeroID, ErrNoMerge
	}
	idx, err := r.ReadIndex()
	if err != nil {
		return objects.ZeroID, err
	}
	if c := idx.Conflicted(); len(c) > 0 {
		return objects.ZeroID, &ConflictError{Op: "merge --continue", Items: c}
	}
	if message == "" {
		message = st.Message
	}
	return r.Commit(ctx, CommitOptions{Message: message, AllowEmpty: true})
}

// MergeAbort drops a merge in progress and restores HEAD's files.
func (r *Repo) MergeAbort(ctx context.Context) error {
	st, err := r.readMergeState()
	if err != nil {
		return err
	}
	if st == nil {
		return ErrNoMerge
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
	hf, err := r.CommitFiles(ctx, head)
	if err != nil {
		return err
	}
	idx, err := r.ReadIndex()
	if err != nil {
		return err
	}
	cur := indexFiles(idx)
	for _, p := range idx.Conflicted() {
		if _, ok := cur[p]; !ok {
			cur[p] = TreeFile{} // force a rewrite of conflicted paths
		}
	}
	for _, e := range idx.Entries {
		if e.Stage != 0 {
			idx.Remove(e.Path)
		}
	}
	if err := r.WriteIndex(idx); err != nil {
		return err
	}
	if err := r.moveTo(ctx, "merge --abort", cur, hf, true); err != nil {
		return err
	}
	return os.Remove(r.mergeStatePath())
}
