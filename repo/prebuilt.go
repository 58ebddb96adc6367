package repo

import (
	"fmt"
	"os"

	"github.com/fed-vcs/fed/objects"
)

// A merge (package mergeexec) and a clone write the working-tree file of
// a model while they produce or fetch it, next to its destination,
// instead of reading it back from the store afterwards (which would
// decode and verify every piece again). checkoutFile then renames the
// prebuilt file into place. A prebuilt file is used only for the object
// id it was completed for; anything left over is removed when the
// operation ends (DropPrebuilt).

// AddPrebuilt registers the finished temporary file name (made by
// WorktreeTemp) as holding the content of object id, for the next
// checkout of id to rename into place (replacing, and removing, an
// earlier one).
func (r *Repo) AddPrebuilt(id objects.ID, name string) {
	if r.prebuilt == nil {
		r.prebuilt = map[objects.ID]string{}
	}
	if old, ok := r.prebuilt[id]; ok {
		os.Remove(old)
	}
	r.prebuilt[id] = name
}

// DropPrebuilt removes the prebuilt files no checkout used.
func (r *Repo) DropPrebuilt() {
	for id, name := range r.prebuilt {
		os.Remove(name)
		delete(r.prebuilt, id)
	}
}

// takePrebuilt returns the prebuilt file holding object id, if any, and
// forgets it.
func (r *Repo) takePrebuilt(id objects.ID) (string, bool) {
	name, ok := r.prebuilt[id]
	if ok {
		delete(r.prebuilt, id)
		r.prebuiltUsed++
	}
	return name, ok
}

// PrebuiltUsed is how many files checkouts took from prebuilt ones (for
// tests).
func (r *Repo) PrebuiltUsed() int { return r.prebuiltUsed }

// WorktreeTemp creates an empty temporary file in the directory of the
// working-tree file at path (slash-separated, relative to the root),
// making the directories it needs, for a file that a checkout will rename
// into place (AddPrebuilt). It works only while the caller holds the
// repository lock (LockWorktree), so that the sweep of temporaries an
// interrupted command left cannot take it.
func (r *Repo) WorktreeTemp(path string) (*os.File, error) {
	if !r.locked {
		return nil, fmt.Errorf("temporary file for %s: the repository lock is not held", path)
	}
	if err := validPath(path); err != nil {
		return nil, err
	}
	if err := r.mkdirs(path); err != nil {
		return nil, err
	}
	return os.CreateTemp(dirOf(r.abs(path)), ".fed-tmp-*")
}
