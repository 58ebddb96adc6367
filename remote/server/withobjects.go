package server

import (
	"context"
	"fmt"
	"time"

	"github.com/fed-vcs/fed/repometa"
)

// ObjectStores opens the object stores of the repositories of a Hosting
// that keeps objects apart from refs and settings (objects in S3; see
// WithObjects). pgstore's ObjectStores is the same interface.
type ObjectStores interface {
	// Open returns the object store of repository name, creating it when
	// create is set (and doing nothing when it exists).
	Open(ctx context.Context, name string, create bool) (ObjectStore, error)
	// Check reports whether the storage can be reached now (/readyz).
	Check(ctx context.Context) error
}

// WithObjects returns h with every repository's objects in o instead of
// where h keeps them (fed serve --objects s3://… over the directories of
// --root): a repository is opened or created in h, then its object store
// in o. Check checks both. Features are h's, and so are the hooks (fed
// serve puts package hosting's above: they read the objects in o).
func WithObjects(h Hosting, o ObjectStores) Hosting {
	return &withObjects{h: h, o: o}
}

type withObjects struct {
	h Hosting
	o ObjectStores
}

func (w *withObjects) Open(ctx context.Context, name string) (Repository, error) {
	r, err := w.h.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	return w.with(ctx, name, r, false)
}

func (w *withObjects) Create(ctx context.Context, name string, s repometa.Settings) (Repository, error) {
	r, err := w.h.Create(ctx, name, s)
	if err != nil {
		return nil, err
	}
	return w.with(ctx, name, r, true)
}

func (w *withObjects) with(ctx context.Context, name string, r Repository, create bool) (Repository, error) {
	st, err := w.o.Open(ctx, name, create)
	if err != nil {
		return nil, fmt.Errorf("open the object store of %s: %w", name, err)
	}
	return &objectsApart{Repository: r, objects: st}, nil
}

func (w *withObjects) Names(ctx context.Context) ([]string, error) { return w.h.Names(ctx) }

func (w *withObjects) Features() Features { return w.h.Features() }

func (w *withObjects) Check(ctx context.Context) error {
	if err := w.h.Check(ctx); err != nil {
		return err
	}
	return w.o.Check(ctx)
}

// RemoveStale passes h's clean-up of interrupted creations on.
func (w *withObjects) RemoveStale(ctx context.Context, cutoff time.Time) error {
	if rs, ok := w.h.(interface {
		RemoveStale(context.Context, time.Time) error
	}); ok {
		return rs.RemoveStale(ctx, cutoff)
	}
	return nil
}

// objectsApart is a repository whose objects live in another store.
type objectsApart struct {
	Repository
	objects ObjectStore
}

func (r *objectsApart) Objects() ObjectStore { return r.objects }
