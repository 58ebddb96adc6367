package repo

import (
	"context"

	"github.com/fed-vcs/fed/objects"
)

// What the packages beside repo (mergeexec) use to change a working tree
// as repo's own commands do: under the repository lock, through the index,
// with reflog entries.

// WritebackEvery is how many bytes of a working-tree file are written
// between two hints to the system to start writing them back (see
// fsys.StartWriteback).
const WritebackEvery = writebackEvery

// LockWorktree takes the repository lock for a command that rewrites the
// working tree and, before the command writes anything, removes the
// temporaries that interrupted commands left (telling Warn). The caller
// must call unlock.
func (r *Repo) LockWorktree() (unlock func() error, err error) { return r.lockWorktree() }

// FastForward moves HEAD (its branch, or HEAD itself when detached) from
// commit from to its descendant to, checking out to's files where they
// differ from from's and refusing, changing nothing, to overwrite local
// changes. The reflog says "<op>: fast-forward". The caller holds the
// repository lock.
func (r *Repo) FastForward(ctx context.Context, op string, from, to objects.ID) error {
	if err := r.moveHeadFiles(ctx, op, from, to, false); err != nil {
		return err
	}
	return r.Refs.UpdateHead(from, to, r.entry(op+": fast-forward"))
}

// CheckoutFiles makes the index and working tree hold target's files
// where they differ from from's (HEAD's), keeping local changes to other
// paths. Without force it refuses, changing nothing, when a changed path
// has local changes or an untracked file is in the way; op names the
// command in its errors. The caller holds the repository lock.
func (r *Repo) CheckoutFiles(ctx context.Context, op string, from, target map[string]TreeFile, force bool) error {
	return r.moveTo(ctx, op, from, target, force)
}

// CommitLocked is Commit for a caller that holds the repository lock (a
// merge or revert that must commit what it staged, with no other command
// in between).
func (r *Repo) CommitLocked(ctx context.Context, opts CommitOptions) (objects.ID, error) {
	return r.commitLocked(ctx, opts)
}
