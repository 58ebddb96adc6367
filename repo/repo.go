package repo

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/refs"
)

// Errors callers branch on.
var (
	// ErrNotRepo reports a directory that is not inside a fed repository.
	ErrNotRepo = errors.New("repo: not a fed repository")
	// ErrExists reports an Init on a directory that already has one.
	ErrExists = errors.New("repo: repository already exists")
	// ErrDirty reports uncommitted changes an operation would destroy.
	ErrDirty = errors.New("repo: uncommitted changes would be overwritten")
	// ErrNoKey reports an operation that needs a signing key and has none.
	ErrNoKey = errors.New("repo: no signing key")
	// ErrNothingToCommit reports a commit with no changes.
	ErrNothingToCommit = errors.New("repo: nothing to commit")
	// ErrConflict reports a merge or revert that needs a decision.
	ErrConflict = errors.New("repo: conflict")
	// ErrUnknownRev reports a revision that names nothing.
	ErrUnknownRev = errors.New("repo: unknown revision")
)

// DirName is the name of the repository directory inside the root.
const DirName = objects.RepoDirName

// DefaultBranch is the branch a new repository starts on.
const DefaultBranch = "main"

// Repo is an open repository.
type Repo struct {
	Root string // the working tree ("" in a bare repository)
	Dir  string // Root/.fed, or a bare repository's directory ("" in a hosted one: OpenHosted)
	// Objects is the object store: a *objects.DiskStore in Dir/objects,
	// but for OpenBareStores and OpenHosted (Disk returns it as itself).
	Objects objects.Store
	// Refs is the ref store: a *refs.Store under Dir, or a hosted
	// repository's refs.Backend bound to a context (OpenHosted).
	Refs   RefStore
	Config *Config

	// Key signs commits and tags; nil until the caller loads one.
	Key *objects.Keypair
	// Progress receives progress of long operations; never nil.
	Progress Progress
	// Warn, when set, receives warnings the user should see (e.g. a model
	// file fed keeps opaque, and why).
	Warn func(msg string)
	// Now returns the time recorded in new commits (tests fix it).
	Now func() time.Time
	// BeforeSign, when set, may add metadata to every new commit just
	// before it is signed (the zk layer records the commitment root of
	// c.Tree). Objects c refers to are already stored.
	BeforeSign func(ctx context.Context, c *objects.Commit) error

	locked bool   // this Repo holds the repository lock
	hosted string // OpenHosted's name: the Repo has no directory
	// prebuilt maps object ids to temporary working-tree files already
	// holding their content (see prebuild).
	prebuilt     map[objects.ID]string
	prebuiltUsed int   // files checked out from prebuilt ones (tests)
	warnOpaque   bool  // importing for real (add), not only hashing
	folds        *bool // the working tree's file system folds names (probed once)
}

// RefStore is what a Repo reads and moves of its refs: the methods of
// *refs.Store (the ref files under Dir) that refs.Bound, a hosted
// repository's refs.Backend bound to a context, has too.
type RefStore interface {
	Read(name refs.Name) (objects.ID, error)
	Head() (refs.Head, error)
	List(prefix string) ([]refs.Ref, error)
	Reflog(name refs.Name) ([]refs.LogEntry, error)
	Update(name refs.Name, old, new objects.ID, msg refs.Entry) error
	UpdateHead(old, new objects.ID, msg refs.Entry) error
	Transaction(updates []refs.Update, msg refs.Entry) error
	SetHead(new refs.Head, msg refs.Entry) error
}

var (
	_ RefStore = (*refs.Store)(nil)
	_ RefStore = (*refs.Bound)(nil)
)

// Init creates a repository in dir (created if missing).
func Init(dir string) (*Repo, error) { return initRepo(dir, Options{}) }

// InitWith is Init with the caller's options (a clone passes the user's
// config file).
func InitWith(dir string, o Options) (*Repo, error) { return initRepo(dir, o) }

func initRepo(dir string, o Options) (*Repo, error) {
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	fd := filepath.Join(root, DirName)
	if _, err := os.Stat(fd); err == nil {
		return nil, fmt.Errorf("%w in %s", ErrExists, root)
	}
	if err := os.MkdirAll(fd, 0o755); err != nil {
		return nil, fmt.Errorf("init %s: %w", root, err)
	}
	if _, err := objects.OpenDisk(filepath.Join(fd, "objects")); err != nil {
		return nil, err
	}
	if _, err := refs.Init(fd, refs.Branch(DefaultBranch)); err != nil {
		return nil, err
	}
	cfg := newConfig(filepath.Join(fd, "config"))
	cfg.Set("core.formatversion", fmt.Sprint(objects.FormatVersion))
	if err := cfg.Save(); err != nil {
		return nil, err
	}
	return open(root, o)
}

// Options are what a Repo learns of the user's environment from its
// caller: repo reads no environment variables (cmd/fed does).
type Options struct {
	// UserConfig is the user's config file, read beneath the repository's
	// own .fed/config ("" reads none). cmd/fed's is $FED_CONFIG, else
	// $XDG_CONFIG_HOME/fed/config, else ~/.config/fed/config.
	UserConfig string
}

// Open opens the repository containing dir (dir or one of its parents),
// without a user config file.
func Open(dir string) (*Repo, error) { return OpenWith(dir, Options{}) }

// OpenWith opens the repository containing dir (dir or one of its
// parents) with the caller's options.
func OpenWith(dir string, o Options) (*Repo, error) {
	d, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	for {
		if fi, err := os.Stat(filepath.Join(d, DirName)); err == nil && fi.IsDir() {
			return open(d, o)
		}
		parent := filepath.Dir(d)
		if parent == d {
			return nil, fmt.Errorf("%w (or any parent up to /): %s", ErrNotRepo, dir)
		}
		d = parent
	}
}

func open(root string, o Options) (*Repo, error) {
	fd := filepath.Join(root, DirName)
	st, err := objects.OpenDisk(filepath.Join(fd, "objects"))
	if err != nil {
		return nil, err
	}
	rs, err := refs.Open(fd)
	if err != nil {
		return nil, err
	}
	cfg, err := loadConfig(filepath.Join(fd, "config"), o.UserConfig)
	if err != nil {
		return nil, err
	}
	if v, ok := cfg.Get("core.formatversion"); ok && v != fmt.Sprint(objects.FormatVersion) {
		return nil, fmt.Errorf("repository %s has format version %s; this fed reads version %d (a newer fed release is needed)", root, v, objects.FormatVersion)
	}
	return &Repo{Root: root, Dir: fd, Objects: st, Refs: rs, Config: cfg, Progress: NoProgress{}, Now: time.Now}, nil
}

// OpenBare opens a repository directory without a working tree (the
// layout of a .fed directory, as a hosting server keeps repositories):
// enough to read objects, refs and history and to verify proofs. It reads
// the repository's config file only: a hosted repository does not depend
// on the settings of whoever runs the server.
func OpenBare(dir string) (*Repo, error) {
	if fi, err := os.Stat(filepath.Join(dir, "objects")); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("%w: %s has no objects directory", ErrNotRepo, dir)
	}
	st, err := objects.OpenDisk(filepath.Join(dir, "objects"))
	if err != nil {
		return nil, err
	}
	rs, err := refs.Open(dir)
	if err != nil {
		return nil, err
	}
	return OpenBareStores(dir, st, rs)
}

// OpenBareStores is OpenBare over the object store and refs of dir, already
// open (a hosting server opens a repository's once; its objects may live
// elsewhere, in S3): it only reads the repository's config file, which
// others may have changed since the last call.
func OpenBareStores(dir string, st objects.Store, rs RefStore) (*Repo, error) {
	cfg, err := loadConfig(filepath.Join(dir, "config"), "")
	if err != nil {
		return nil, err
	}
	return &Repo{Dir: dir, Objects: st, Refs: rs, Config: cfg, Progress: NoProgress{}, Now: time.Now}, nil
}

// Disk returns the object store as the directory it is: every
// repository with a working tree keeps its objects in one, and so does a
// hosted repository kept as a directory. Objects kept elsewhere (a hosted
// repository's objects.Store, OpenHosted) give an error wrapping
// errors.ErrUnsupported.
func (r *Repo) Disk() (*objects.DiskStore, error) {
	if d, ok := r.Objects.(*objects.DiskStore); ok {
		return d, nil
	}
	return nil, fmt.Errorf("repository %s keeps its objects in %T, not in a directory: %w", r.name(), r.Objects, errors.ErrUnsupported)
}

// errNoDir reports what needs a repository directory, asked of a hosted
// repository that has none (OpenHosted).
var errNoDir = fmt.Errorf("a hosted repository has no directory: %w", errors.ErrUnsupported)

// name names the repository in messages: its working tree, its
// directory, or its hosted name.
func (r *Repo) name() string {
	switch {
	case r.Root != "":
		return r.Root
	case r.Dir != "":
		return r.Dir
	}
	return r.hosted
}

// OpenHosted returns a bare Repo over the stores of a hosted repository,
// wherever they are kept (refs and settings in a database, objects in S3,
// or a repository directory's): st its objects, rb its refs, every ref call made with ctx, so that the
// Repo serves one request or job and is then dropped; zk its zk settings
// (the keys of the config the proof hooks read; nil: none), checked as
// `fed config` checks them. Like OpenBareStores it reads history, diffs
// and governance records and verifies and makes proofs. What needs a
// directory is not there: no working tree, no lock, no config file to
// save, and the shallow, withheld and private-mark lists read empty
// (a hosted repository keeps its own in its repometa.Store) and cannot be
// written; HEAD does not move (refs.Bound). name names it in messages.
func OpenHosted(ctx context.Context, name string, st objects.Store, rb refs.Backend, zk map[string]string) (*Repo, error) {
	if st == nil || rb == nil {
		return nil, fmt.Errorf("open hosted repository %s: no object or ref store", name)
	}
	cfg := newConfig("")
	for _, k := range slices.Sorted(maps.Keys(zk)) {
		if err := cfg.Set(k, zk[k]); err != nil {
			return nil, fmt.Errorf("hosted repository %s: %w", name, err)
		}
	}
	return &Repo{Objects: st, Refs: refs.Bind(ctx, rb), Config: cfg, Progress: NoProgress{}, Now: time.Now, hosted: name}, nil
}

// Lock takes the repository lock that serialises commands which change
// the index, the working tree or HEAD. It waits up to timeout for another
// fed process; a lock left by a killed process is broken.
func (r *Repo) Lock(timeout time.Duration) (unlock func() error, err error) {
	if r.locked {
		return nil, fmt.Errorf("repo: lock of %s taken twice by one command", r.Root)
	}
	if r.Dir == "" {
		return nil, fmt.Errorf("lock repository %s: %w", r.hosted, errNoDir)
	}
	release, err := refs.LockFile(filepath.Join(r.Dir, "lock"), timeout)
	if err != nil {
		return nil, fmt.Errorf("lock repository %s (another fed command is running?): %w", r.Root, err)
	}
	r.locked = true
	return func() error { r.locked = false; return release() }, nil
}

// Head returns HEAD's commit id (ZeroID on an unborn branch) and the
// branch it is on ("" when detached).
func (r *Repo) Head() (objects.ID, refs.Name, error) {
	h, err := r.Refs.Head()
	if err != nil {
		return objects.ZeroID, "", err
	}
	return h.ID, h.Symbolic, nil
}

// Entry builds a reflog entry with message msg for this repository's
// user (its key) at r.Now, for a package beside repo that moves refs.
func (r *Repo) Entry(msg string) refs.Entry { return r.entry(msg) }

// entry builds a reflog entry for this repository's user.
func (r *Repo) entry(msg string) refs.Entry {
	e := refs.Entry{Message: msg, Time: r.Now()}
	if r.Key != nil {
		e.Author = r.Key.Public().String()
	}
	return e
}

// rel turns a path (absolute or relative to the process's directory)
// into a slash-separated path relative to the root; "" is the root.
func (r *Repo) rel(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(r.Root, abs)
	if err != nil || rel == ".." || len(rel) > 2 && rel[:3] == ".."+string(filepath.Separator) {
		return "", fmt.Errorf("path %s is outside the repository %s", p, r.Root)
	}
	if rel == "." {
		return "", nil
	}
	rel = filepath.ToSlash(rel)
	if first, _, _ := strings.Cut(rel, "/"); objects.ReservedName(first) {
		return "", fmt.Errorf("path %s is inside the repository's %s directory (or would be on a case-insensitive file system)", p, DirName)
	}
	return rel, nil
}

// abs returns the filesystem path of a repository-relative path.
func (r *Repo) abs(rel string) string {
	return filepath.Join(r.Root, filepath.FromSlash(rel))
}

// lockWait is how long a command waits for another fed process holding
// the repository lock before it gives up.
const lockWait = 10 * time.Second

// LockWait is how long Lock should wait for another fed process holding
// the repository lock, as repo's own commands wait.
const LockWait = lockWait
