package repo

import (
	"context"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/refs"
)

// What a command reads of the refs and objects, without reaching through
// r.Refs or r.Objects (whose types are the stores', which a hosted
// repository replaces).

// ReadRef returns the id ref name points to (a commit, or a tag object
// for an annotated tag); an error wrapping refs.ErrNotFound when there is
// no such ref.
func (r *Repo) ReadRef(name refs.Name) (objects.ID, error) { return r.Refs.Read(name) }

// ListRefs returns the refs whose full names start with prefix ("refs/"
// for all, refs.HeadsPrefix for branches), sorted by name.
func (r *Repo) ListRefs(prefix string) ([]refs.Ref, error) { return r.Refs.List(prefix) }

// ReadCommit reads commit id from the object store, verified.
func (r *Repo) ReadCommit(ctx context.Context, id objects.ID) (*objects.Commit, error) {
	return objects.ReadCommit(ctx, r.Objects, id)
}

// ReadTag reads tag object id from the object store, verified; an error
// when id is not a tag object (a plain tag's ref points to a commit).
func (r *Repo) ReadTag(ctx context.Context, id objects.ID) (*objects.Tag, error) {
	return objects.ReadTag(ctx, r.Objects, id)
}
