package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fed-vcs/fed/internal/fsys"
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/refs"
	"github.com/fed-vcs/fed/remote"
	"github.com/fed-vcs/fed/repometa"
)

// On disk, repository <name> lives in <root>/<name>.fed/:
//
//	HEAD, refs/, logs/   package refs (HEAD names refs/heads/main)
//	objects/             package objects (DiskStore)
//	fed-repo.json        owner, NFT and access settings   (package repometa)
//	push.log             one JSON PushLogEntry per line    (package repometa)
//	withheld, private    id lists, one hex id per line     (package repometa)
//	config               the repository's zk settings for fed serve's
//	                     hooks (zk.chunk, zk.linf, zk.l2, zk.vk; read by
//	                     package repo, written by the administrator or the
//	                     owner through ZKFile)
//
// Repository names never end a component in ".fed" (ValidateRepoName), so
// no repository directory lies inside another.

const (
	repoSuffix   = ".fed"
	tmpDirPrefix = ".tmp-repo-"
)

// Files keeps repositories as directories under a root (the layout
// above): the default Hosting. Its repositories have no hooks: Features
// are all off.
type Files struct {
	root string
	zk   repometa.ZKFile
}

var _ Hosting = (*Files)(nil)

// NewFiles returns the repositories under root (created if missing). zk,
// when not nil, keeps their zk settings (in each directory's config).
func NewFiles(root string, zk repometa.ZKFile) (*Files, error) {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	return &Files{root: root, zk: zk}, nil
}

// Root returns the directory holding the repositories.
func (f *Files) Root() string { return f.root }

// Dir returns the directory of repository name.
func (f *Files) Dir(name string) string {
	return filepath.Join(f.root, filepath.FromSlash(name)+repoSuffix)
}

// Features reports no hooks.
func (f *Files) Features() Features { return Features{} }

// FileRepo is a repository of Files: a DiskStore, the ref files and
// repometa.Files in its directory.
type FileRepo struct {
	dir   string
	store *objects.DiskStore
	refs  *refs.Store
	meta  *repometa.Files
}

var _ Repository = (*FileRepo)(nil)

// Dir returns the repository's directory.
func (r *FileRepo) Dir() string { return r.dir }

// Objects returns the repository's DiskStore.
func (r *FileRepo) Objects() ObjectStore { return r.store }

// DiskStore returns the repository's object store as itself.
func (r *FileRepo) DiskStore() *objects.DiskStore { return r.store }

// Refs returns the ref files as a refs.Backend.
func (r *FileRepo) Refs() refs.Backend { return r.refs.Backend() }

// RefStore returns the ref files as themselves.
func (r *FileRepo) RefStore() *refs.Store { return r.refs }

// Meta returns the repository's settings files.
func (r *FileRepo) Meta() repometa.Store { return r.meta }

var errNoHook = fmt.Errorf("server: this repository has no such hook: %w", errors.ErrUnsupported)

// RequireProofs is off.
func (r *FileRepo) RequireProofs(context.Context, objects.ID) error { return errNoHook }

// CheckProof is off.
func (r *FileRepo) CheckProof(context.Context, objects.ID, map[objects.ID]objects.ID) error {
	return errNoHook
}

// Prove is off.
func (r *FileRepo) Prove(context.Context, objects.ID) error { return errNoHook }

// ZKSettings is off.
func (r *FileRepo) ZKSettings(context.Context, map[string]string) (map[string]string, error) {
	return nil, errNoHook
}

// NFTHolder is off.
func (r *FileRepo) NFTHolder(context.Context, objects.PublicKey, objects.ID) (objects.PublicKey, error) {
	return objects.PublicKey{}, errNoHook
}

// Open opens the repository's directory.
func (f *Files) Open(ctx context.Context, name string) (Repository, error) {
	return f.OpenFiles(ctx, name)
}

// OpenFiles is Open returning the FileRepo.
func (f *Files) OpenFiles(ctx context.Context, name string) (*FileRepo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := remote.ValidateRepoName(name); err != nil {
		return nil, err
	}
	dir := f.Dir(name)
	meta, err := repometa.OpenFiles(dir, f.zk)
	if err != nil {
		return nil, fmt.Errorf("open repository %s: %w", name, err) // ErrNotFound stays visible
	}
	st, err := objects.OpenDisk(filepath.Join(dir, "objects"))
	if err != nil {
		return nil, err
	}
	rs, err := refs.Open(dir)
	if err != nil {
		return nil, err
	}
	return &FileRepo{dir: dir, store: st, refs: rs, meta: meta}, nil
}

// Create makes the repository in a temporary directory and renames it
// into place, so that a crash never leaves half a repository; when
// another process won the race, its repository stays.
func (f *Files) Create(ctx context.Context, name string, s repometa.Settings) (Repository, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := remote.ValidateRepoName(name); err != nil {
		return nil, err
	}
	dir := f.Dir(name)
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, fmt.Errorf("create repository: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, tmpDirPrefix)
	if err != nil {
		return nil, fmt.Errorf("create repository: %w", err)
	}
	defer os.RemoveAll(tmp)
	if _, err := objects.OpenDisk(filepath.Join(tmp, "objects")); err != nil {
		return nil, err
	}
	if _, err := refs.Init(tmp, refs.Branch("main")); err != nil {
		return nil, err
	}
	if err := repometa.CreateFiles(tmp, s); err != nil {
		return nil, err
	}
	if err := fsys.Rename(tmp, dir); err != nil {
		if _, serr := os.Stat(filepath.Join(dir, repometa.SettingsFile)); serr != nil {
			return nil, fmt.Errorf("create repository: %w", err)
		}
		// created meanwhile by another server process
	} else if err := fsys.SyncDir(parent); err != nil {
		return nil, err
	}
	return f.Open(ctx, name)
}

// Names lists the repositories under the root.
func (f *Files) Names(ctx context.Context) ([]string, error) {
	var names []string
	err := filepath.WalkDir(f.root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if !d.IsDir() || path == f.root {
			return nil
		}
		base := d.Name()
		if strings.HasPrefix(base, tmpDirPrefix) {
			return fs.SkipDir
		}
		if strings.HasSuffix(base, repoSuffix) {
			rel, err := filepath.Rel(f.root, path)
			if err != nil {
				return err
			}
			name := strings.TrimSuffix(filepath.ToSlash(rel), repoSuffix)
			if _, err := os.Stat(filepath.Join(path, repometa.SettingsFile)); err == nil {
				names = append(names, name)
			}
			return fs.SkipDir
		}
		return nil
	})
	return names, err
}

// RemoveStale removes the temporary directories of repository creations
// that were interrupted before cutoff.
func (f *Files) RemoveStale(ctx context.Context, cutoff time.Time) error {
	return filepath.WalkDir(f.root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if !d.IsDir() || path == f.root {
			return nil
		}
		base := d.Name()
		if strings.HasPrefix(base, tmpDirPrefix) {
			if fi, err := d.Info(); err == nil && fi.ModTime().Before(cutoff) {
				os.RemoveAll(path)
			}
			return fs.SkipDir
		}
		if strings.HasSuffix(base, repoSuffix) {
			return fs.SkipDir
		}
		return nil
	})
}

// Check creates, syncs and removes a file in the root directory.
func (f *Files) Check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	fl, err := os.CreateTemp(f.root, ".readyz-*")
	if err != nil {
		return fmt.Errorf("check storage %s: %w", f.root, err)
	}
	name := fl.Name()
	err = fl.Sync()
	if cerr := fl.Close(); err == nil {
		err = cerr
	}
	if rerr := os.Remove(name); err == nil {
		err = rerr
	}
	if err != nil {
		return fmt.Errorf("check storage %s: %w", f.root, err)
	}
	return nil
}
