package pgstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/remote"
	"github.com/fed-vcs/fed/remote/server"
	"github.com/fed-vcs/fed/repometa"
)

// ObjectStores opens the object stores of the repositories a Hosting
// serves: DiskObjects (a directory per repository under a root), or
// another storage (S3).
type ObjectStores interface {
	// Open returns the object store of repository name, creating it when
	// create is set (and doing nothing when it exists).
	Open(ctx context.Context, name string, create bool) (server.ObjectStore, error)
	// Check reports whether the storage can be written now (/readyz).
	Check(ctx context.Context) error
}

// Hosting is a server.Hosting whose repositories keep their refs and
// records in the database and their objects in an ObjectStores: every
// replica on the same database and object storage serves the same
// repositories. Its repositories have no hooks (Features are off);
// package hosting adds those it can.
type Hosting struct {
	db      *DB
	objects ObjectStores
}

var _ server.Hosting = (*Hosting)(nil)

// Hosting returns the repositories of the database, with their objects
// in objects.
func (db *DB) Hosting(objects ObjectStores) *Hosting {
	return &Hosting{db: db, objects: objects}
}

// Features reports no hooks.
func (h *Hosting) Features() server.Features { return server.Features{} }

// Open opens repository name: its row, then its object store.
func (h *Hosting) Open(ctx context.Context, name string) (server.Repository, error) {
	if err := remote.ValidateRepoName(name); err != nil {
		return nil, err
	}
	r, err := h.db.OpenRepo(ctx, name)
	if err != nil {
		return nil, err
	}
	st, err := h.objects.Open(ctx, name, false)
	if err != nil {
		return nil, fmt.Errorf("open repository %s: %w", name, err)
	}
	return &HostedRepo{Repo: r, store: st}, nil
}

// Create creates repository name: its object store first (an object store
// without a row is empty and harmless), then its row, which makes it
// exist for every replica; when another replica created it meanwhile, its
// settings stay.
func (h *Hosting) Create(ctx context.Context, name string, s repometa.Settings) (server.Repository, error) {
	if err := remote.ValidateRepoName(name); err != nil {
		return nil, err
	}
	st, err := h.objects.Open(ctx, name, true)
	if err != nil {
		return nil, fmt.Errorf("create repository %s: %w", name, err)
	}
	r, _, err := h.db.CreateRepo(ctx, name, s)
	if err != nil {
		return nil, err
	}
	return &HostedRepo{Repo: r, store: st}, nil
}

// Names lists the repositories of the database.
func (h *Hosting) Names(ctx context.Context) ([]string, error) { return h.db.RepoNames(ctx) }

// Check checks the database and the object storage.
func (h *Hosting) Check(ctx context.Context) error {
	if err := h.db.Ping(ctx); err != nil {
		return fmt.Errorf("%w: %w", objects.ErrUnavailable, err)
	}
	return h.objects.Check(ctx)
}

// HostedRepo is a repository of a Hosting: its rows and its object store.
type HostedRepo struct {
	*Repo
	store server.ObjectStore
}

var _ server.Repository = (*HostedRepo)(nil)

// Objects returns the repository's object store.
func (r *HostedRepo) Objects() server.ObjectStore { return r.store }

var errNoHook = fmt.Errorf("pgstore: repositories in the database have no such hook: %w", errors.ErrUnsupported)

// RequireProofs is off.
func (r *HostedRepo) RequireProofs(context.Context, objects.ID) error { return errNoHook }

// CheckProof is off.
func (r *HostedRepo) CheckProof(context.Context, objects.ID, map[objects.ID]objects.ID) error {
	return errNoHook
}

// Prove is off.
func (r *HostedRepo) Prove(context.Context, objects.ID) error { return errNoHook }

// ZKSettings is off.
func (r *HostedRepo) ZKSettings(context.Context, map[string]string) (map[string]string, error) {
	return nil, errNoHook
}

// NFTHolder is off.
func (r *HostedRepo) NFTHolder(context.Context, objects.PublicKey, objects.ID) (objects.PublicKey, error) {
	return objects.PublicKey{}, errNoHook
}

// DiskObjects keeps each repository's objects in a DiskStore at
// <root>/<name>.fed/objects, the place the default layout has them.
// Replicas on one machine (or one shared file system) share the
// directory; a DiskStore is safe for that (write-once files, renamed into
// place).
type DiskObjects struct {
	Root string
}

// Open implements ObjectStores.
func (d DiskObjects) Open(ctx context.Context, name string, create bool) (server.ObjectStore, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	dir := filepath.Join(d.Root, filepath.FromSlash(name)+".fed", "objects")
	if !create {
		if _, err := os.Stat(dir); err != nil {
			return nil, fmt.Errorf("objects of %s: %w", name, err)
		}
	}
	return objects.OpenDisk(dir)
}

// Check creates, syncs and removes a file in the root directory.
func (d DiskObjects) Check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := os.MkdirAll(d.Root, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(d.Root, ".readyz-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
