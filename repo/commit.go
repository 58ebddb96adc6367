package repo

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/refs"
)

// CommitOptions tune Commit.
type CommitOptions struct {
	Message string
	All     bool              // stage modified and deleted tracked files first
	Samples int64             // training examples behind this update; 0: unset
	Meta    map[string]string // more key/value metadata
	// Parents adds parents after HEAD (merges); AllowEmpty permits a commit
	// whose tree equals its first parent's.
	Parents    []objects.ID
	AllowEmpty bool
}

// Validate checks the options.
func (o *CommitOptions) Validate() error {
	if strings.TrimSpace(o.Message) == "" {
		return fmt.Errorf("empty commit message")
	}
	if o.Samples < 0 {
		return fmt.Errorf("samples %d: must not be negative", o.Samples)
	}
	for k := range o.Meta {
		if k == "" || strings.ContainsAny(k, "\n=") {
			return fmt.Errorf("metadata key %q: must be non-empty without '=' or newlines", k)
		}
	}
	return nil
}

// Commit records the index as a new commit on HEAD and returns its id.
func (r *Repo) Commit(ctx context.Context, opts CommitOptions) (objects.ID, error) {
	if err := opts.Validate(); err != nil {
		return objects.ZeroID, err
	}
	if r.Key == nil {
		return objects.ZeroID, ErrNoKey
	}
	unlock, err := r.Lock(lockWait)
	if err != nil {
		return objects.ZeroID, err
	}
	defer unlock()
	return r.commitLocked(ctx, opts)
}

// commitLocked is Commit for a caller that holds the repository lock (a
// merge or revert that must commit what it staged, with no other command
// in between).
func (r *Repo) commitLocked(ctx context.Context, opts CommitOptions) (objects.ID, error) {
	idx, err := r.ReadIndex()
	if err != nil {
		return objects.ZeroID, err
	}
	if c := idx.Conflicted(); len(c) > 0 {
		return objects.ZeroID, fmt.Errorf("%w: unresolved conflicts in %s", ErrConflict, strings.Join(c, ", "))
	}
	if opts.All {
		if err := r.stageTracked(ctx, idx); err != nil {
			return objects.ZeroID, err
		}
	}
	head, _, err := r.Head()
	if err != nil {
		return objects.ZeroID, err
	}
	// A commit concludes a merge in progress, like git's.
	ms, err := r.readMergeState()
	if err != nil {
		return objects.ZeroID, err
	}
	if ms != nil {
		if ms.Head != head {
			return objects.ZeroID, fmt.Errorf("HEAD moved from %s to %s during the merge; run `fed merge --abort`", ms.Head.Short(), head.Short())
		}
		opts.Parents = append(ms.Parents, opts.Parents...)
		if opts.Meta == nil {
			opts.Meta = map[string]string{}
		}
		for k, v := range ms.Meta {
			if _, ok := opts.Meta[k]; !ok {
				opts.Meta[k] = v
			}
		}
	}
	files := indexFiles(idx)
	if !opts.AllowEmpty && len(opts.Parents) == 0 {
		hf, err := r.CommitFiles(ctx, head)
		if err != nil {
			return objects.ZeroID, err
		}
		if sameFiles(hf, files) {
			return objects.ZeroID, ErrNothingToCommit
		}
	}
	var parents []objects.ID
	if !head.IsZero() {
		parents = append(parents, head)
	}
	parents = append(parents, opts.Parents...)
	id, err := r.writeCommit(ctx, files, parents, opts)
	if err != nil {
		return objects.ZeroID, err
	}
	if opts.All {
		if err := r.WriteIndex(idx); err != nil {
			return objects.ZeroID, err
		}
	}
	first := strings.SplitN(opts.Message, "\n", 2)[0]
	kind := "commit"
	if head.IsZero() {
		kind = "commit (initial)"
	} else if len(parents) > 1 {
		kind = "commit (merge)"
	}
	if err := r.Refs.UpdateHead(head, id, r.entry(kind+": "+first)); err != nil {
		return objects.ZeroID, err
	}
	if ms != nil {
		if err := os.Remove(r.mergeStatePath()); err != nil {
			return id, fmt.Errorf("commit %s made, but the merge state stays: %w", id.Short(), err)
		}
	}
	return id, nil
}

// writeCommit stores the trees of files and a signed commit object, with
// the commit hook (BeforeSign).
func (r *Repo) writeCommit(ctx context.Context, files map[string]TreeFile, parents []objects.ID, opts CommitOptions) (objects.ID, error) {
	var kvs []objects.KV
	for k, v := range opts.Meta {
		kvs = append(kvs, objects.KV{Key: k, Value: v})
	}
	if opts.Samples > 0 {
		kvs = append(kvs, objects.KV{Key: "samples", Value: strconv.FormatInt(opts.Samples, 10)})
	}
	return r.storeCommit(ctx, files, parents, opts.Message, kvs, r.BeforeSign)
}

// storeCommit stores the trees of files and a commit of them with meta,
// signed with r.Key; beforeSign, when not nil, may amend the commit first
// (the tree is stored by then, so it can read it).
func (r *Repo) storeCommit(ctx context.Context, files map[string]TreeFile, parents []objects.ID, msg string, meta []objects.KV, beforeSign func(context.Context, *objects.Commit) error) (objects.ID, error) {
	w := objects.NewWriter(ctx, r.Objects)
	tree, err := writeTree(w, files)
	if err != nil {
		return objects.ZeroID, err
	}
	now := r.Now()
	_, off := now.Zone()
	c := &objects.Commit{Tree: tree, Parents: parents, Time: now.Unix(), TZ: int16(off / 60), Message: msg, Meta: objects.SortKV(meta)}
	if beforeSign != nil {
		if err := w.Flush(); err != nil {
			return objects.ZeroID, err
		}
		if err := beforeSign(ctx, c); err != nil {
			return objects.ZeroID, err
		}
		c.Meta = objects.SortKV(c.Meta)
	}
	if err := objects.SignCommit(c, r.Key); err != nil {
		return objects.ZeroID, err
	}
	id, err := w.Object(c)
	if err != nil {
		return objects.ZeroID, err
	}
	if err := w.Flush(); err != nil {
		return objects.ZeroID, err
	}
	return id, nil
}

// stageTracked re-stages every tracked file that changed or vanished.
func (r *Repo) stageTracked(ctx context.Context, idx *Index) error {
	wf, err := r.withheldFiles()
	if err != nil {
		return err
	}
	todo := map[string]fsInfo{}
	for _, e := range append([]IndexEntry(nil), idx.Entries...) {
		fi, err := lstat(r.abs(e.Path))
		if err != nil {
			// a file whose weights were withheld stays as it is
			if !errors.Is(err, fs.ErrNotExist) || !wf.file(ctx, e.Kind, e.ID) {
				idx.Remove(e.Path)
			}
			continue
		}
		todo[e.Path] = fi
	}
	return r.stage(ctx, idx, todo)
}

// Samples returns a commit's samples metadata, 0 when absent or invalid.
func Samples(c *objects.Commit) int64 {
	v, ok := c.Value("samples")
	if !ok {
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// Branches lists branch names and ids.
func (r *Repo) Branches() ([]refs.Ref, error) { return r.Refs.List(refs.HeadsPrefix) }
