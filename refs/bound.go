package refs

import (
	"context"
	"errors"
	"fmt"

	"github.com/fed-vcs/fed/objects"
)

// Bound is a Backend seen through the methods of *Store that read and
// move refs, every call made with one context: package repo's view of a
// hosted repository (repo.OpenHosted), whose refs may live in a database,
// for as long as one request or job. HEAD reads through the branch it
// names, as Store.Read does; HEAD itself never moves (a hosted
// repository's HEAD is not a ref an update names): UpdateHead, SetHead and
// updates naming HEAD return an error wrapping errors.ErrUnsupported.
type Bound struct {
	ctx context.Context
	b   Backend
}

// Bind returns b bound to ctx.
func Bind(ctx context.Context, b Backend) *Bound { return &Bound{ctx: ctx, b: b} }

var errHeadFixed = fmt.Errorf("a hosted repository's HEAD does not move: %w", errors.ErrUnsupported)

// Read returns the id ref name holds; "HEAD" resolves through its branch
// (an unborn branch gives ErrNotFound).
func (x *Bound) Read(name Name) (objects.ID, error) {
	if name != HeadName {
		return x.b.Read(x.ctx, name)
	}
	h, err := x.b.Head(x.ctx)
	if err != nil {
		return objects.ZeroID, fmt.Errorf("read ref HEAD: %w", err)
	}
	if h.ID.IsZero() {
		return objects.ZeroID, fmt.Errorf("read ref HEAD: branch %s is unborn: %w", h.Symbolic, ErrNotFound)
	}
	return h.ID, nil
}

// Head returns the state of HEAD.
func (x *Bound) Head() (Head, error) { return x.b.Head(x.ctx) }

// List returns the refs whose names start with prefix, sorted by name.
func (x *Bound) List(prefix string) ([]Ref, error) { return x.b.List(x.ctx, prefix) }

// Reflog returns the entries of ref name, oldest first.
func (x *Bound) Reflog(name Name) ([]LogEntry, error) { return x.b.Reflog(x.ctx, name) }

// Update moves ref name from old to new if it holds old (compare-and-swap).
func (x *Bound) Update(name Name, old, new objects.ID, msg Entry) error {
	return x.Transaction([]Update{{Name: name, Old: old, New: new}}, msg)
}

// Transaction applies updates all or nothing (Backend.Apply).
func (x *Bound) Transaction(updates []Update, msg Entry) error {
	for _, u := range updates {
		if u.Name == HeadName {
			return fmt.Errorf("update refs %s: %w", describeUpdates(updates), errHeadFixed)
		}
	}
	return x.b.Apply(x.ctx, updates, msg)
}

// UpdateHead is refused: HEAD does not move.
func (x *Bound) UpdateHead(old, new objects.ID, msg Entry) error {
	return fmt.Errorf("update HEAD: %w", errHeadFixed)
}

// SetHead is refused: HEAD does not move.
func (x *Bound) SetHead(new Head, msg Entry) error {
	return fmt.Errorf("set HEAD: %w", errHeadFixed)
}
