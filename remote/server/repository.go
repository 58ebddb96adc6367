package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fed-vcs/fed/internal/fsys"
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/objects/graph"
	"github.com/fed-vcs/fed/refs"
	"github.com/fed-vcs/fed/remote"
)

// On disk, repository <name> lives in <root>/<name>.fed/:
//
//	HEAD, refs/, logs/   package refs (HEAD names refs/heads/main)
//	objects/             package objects (DiskStore)
//	fed-repo.json        owner, NFT and access settings (meta)
//	push.log             one JSON PushLogEntry per line, appended and
//	                     fsynced after each accepted push
//	withheld             ids of weight objects withheld by private
//	                     pushes, one hex id per line (withheld.go)
//	config               the repository's zk settings for fed serve's
//	                     hooks (zk.chunk, zk.linf, zk.l2, zk.vk; read by
//	                     package repo, written by the administrator)
//
// Repository names never end a component in ".fed" (ValidateRepoName), so
// no repository directory lies inside another.

const (
	repoSuffix   = ".fed"
	metaFile     = "fed-repo.json"
	pushLogFile  = "push.log"
	metaVersion  = 1
	tmpDirPrefix = ".tmp-repo-"
	// maxComplete bounds the set of ids known complete per repository.
	maxComplete = 1 << 20
)

// meta is the content of fed-repo.json.
type meta struct {
	Version       int       `json:"version"`
	Owner         string    `json:"owner"`
	Public        bool      `json:"public"`
	Protected     []string  `json:"protected"`
	Collaborators []string  `json:"collaborators"`
	Created       time.Time `json:"created"`
	// NFT is the base58 mint of the repository NFT: when set, its holder
	// is the owner and Owner has no rights of its own (owner.go).
	NFT string `json:"nft,omitempty"`
}

// repository is one open repository.
type repository struct {
	name  string
	dir   string
	store *objects.DiskStore
	refs  *refs.Store

	// gc excludes ref updates (read-locked by them) while it runs.
	gc sync.RWMutex
	// mu serialises ref updates and settings changes in this process
	// (refs' file locks cover other processes).
	mu       sync.Mutex
	meta     meta
	complete map[objects.ID]bool       // objects whose whole closure is present (withheld objects aside)
	withheld map[objects.ID]bool       // objects pushers withheld (withheld.go)
	private  map[objects.ID]bool       // objects pushers marked private, nil until read (private.go)
	roots    map[objects.ID]objects.ID // first-parent root commit by tip (repoID)
	reachGen uint64                    // bumped when objects may have become unreachable (reach.go)

	// reachMu guards the published set (reach.go), valid for reachSetGen.
	reachMu     sync.Mutex
	reach       map[objects.ID]bool
	reachSetGen uint64
}

func (s *Server) repoDir(name string) string {
	return filepath.Join(s.opts.Root, filepath.FromSlash(name)+repoSuffix)
}

// errNoRepo reports a repository that does not exist.
var errNoRepo = errors.New("server: no such repository")

// open returns the repository, creating it with owner when create is set
// and it does not exist.
func (s *Server) open(name string, create *objects.PublicKey) (*repository, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rp, ok := s.repos[name]; ok {
		return rp, nil
	}
	dir := s.repoDir(name)
	if _, err := os.Stat(filepath.Join(dir, metaFile)); errors.Is(err, fs.ErrNotExist) {
		if create == nil {
			return nil, errNoRepo
		}
		if err := s.create(dir, *create); err != nil {
			return nil, err
		}
	}
	rp, err := loadRepository(name, dir)
	if err != nil {
		return nil, err
	}
	s.repos[name] = rp
	return rp, nil
}

// create makes a repository in a temporary directory and renames it into
// place, so that a crash never leaves half a repository; when another
// process won the race, its repository stays.
func (s *Server) create(dir string, owner objects.PublicKey) error {
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("create repository: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, tmpDirPrefix)
	if err != nil {
		return fmt.Errorf("create repository: %w", err)
	}
	defer os.RemoveAll(tmp)
	if _, err := objects.OpenDisk(filepath.Join(tmp, "objects")); err != nil {
		return err
	}
	if _, err := refs.Init(tmp, refs.Branch("main")); err != nil {
		return err
	}
	m := meta{Version: metaVersion, Owner: owner.String(), Public: !s.opts.PrivateByDefault, Protected: []string{}, Collaborators: []string{}, Created: s.opts.Now().UTC()}
	if err := writeMeta(tmp, m); err != nil {
		return err
	}
	if err := fsys.Rename(tmp, dir); err != nil {
		if _, serr := os.Stat(filepath.Join(dir, metaFile)); serr == nil {
			return nil // created meanwhile by another server process
		}
		return fmt.Errorf("create repository: %w", err)
	}
	return fsys.SyncDir(parent)
}

func loadRepository(name, dir string) (*repository, error) {
	b, err := os.ReadFile(filepath.Join(dir, metaFile))
	if err != nil {
		return nil, fmt.Errorf("open repository %s: %w", name, err)
	}
	var m meta
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("open repository %s: %s: %w", name, metaFile, err)
	}
	if m.Version != metaVersion {
		return nil, fmt.Errorf("open repository %s: settings version %d, this fed reads %d (a newer fed release is needed)", name, m.Version, metaVersion)
	}
	st, err := objects.OpenDisk(filepath.Join(dir, "objects"))
	if err != nil {
		return nil, err
	}
	rs, err := refs.Open(dir)
	if err != nil {
		return nil, err
	}
	withheld, err := loadWithheld(dir)
	if err != nil {
		return nil, fmt.Errorf("open repository %s: %w", name, err)
	}
	rp := &repository{name: name, dir: dir, store: st, refs: rs, meta: m, complete: map[objects.ID]bool{}, withheld: withheld}
	if err := rp.resetComplete(); err != nil {
		return nil, err
	}
	return rp, nil
}

// resetComplete restarts the complete set from the ref tips: a ref only
// ever names an id whose closure was checked (updateRefs). The caller
// holds rp.mu, or has rp to itself.
func (rp *repository) resetComplete() error {
	all, err := rp.refs.List("refs/")
	if err != nil {
		return err
	}
	rp.complete = make(map[objects.ID]bool, len(all))
	for _, r := range all {
		rp.complete[r.ID] = true
	}
	return nil
}

func writeMeta(dir string, m meta) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return fsys.WriteFile(filepath.Join(dir, metaFile), 0o600, b, []byte{'\n'})
}

// Access rules: who owns a repository is in owner.go.

func (m *meta) protected(ref string) bool { return slices.Contains(m.Protected, ref) }

func (rp *repository) snapshotMeta() meta {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	m := rp.meta
	m.Protected = slices.Clone(m.Protected)
	m.Collaborators = slices.Clone(m.Collaborators)
	return m
}

// setMeta changes the settings under the lock and saves them.
func (rp *repository) setMeta(change func(m *meta)) (meta, error) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	m := rp.meta
	m.Protected = slices.Clone(m.Protected)
	m.Collaborators = slices.Clone(m.Collaborators)
	change(&m)
	slices.Sort(m.Protected)
	m.Protected = slices.Compact(m.Protected)
	slices.Sort(m.Collaborators)
	m.Collaborators = slices.Compact(m.Collaborators)
	if err := writeMeta(rp.dir, m); err != nil {
		return rp.meta, err
	}
	rp.meta = m
	return m, nil
}

// appendPushLog records a signed push.
func (rp *repository) appendPushLog(e remote.PushLogEntry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(rp.dir, pushLogFile), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func (rp *repository) readPushLog() ([]remote.PushLogEntry, error) {
	b, err := os.ReadFile(filepath.Join(rp.dir, pushLogFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []remote.PushLogEntry
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" {
			continue
		}
		var e remote.PushLogEntry
		if json.Unmarshal([]byte(line), &e) != nil {
			continue // a line cut by a crash
		}
		out = append(out, e)
	}
	return out, nil
}

// closure is the outcome of checkComplete.
type closure struct {
	missing []objects.ID // up to the limit
	visited []objects.ID // objects read (known complete once the update applies)
	commits []objects.ID // the commits among visited
	// absent lists tensors that are not stored but withheld: named by a
	// model, and declared by the request or listed in the withheld file.
	absent []objects.ID
	// badSig names the first commit or tag object among visited whose
	// signature does not verify against its author or tagger (nil: none).
	badSig error
	// badName names the first tree among visited with an entry a checkout
	// would write into the repository directory (objects.ReservedName).
	badName error
}

// checkComplete walks from roots and returns up to limit ids that are
// missing, stopping at objects known complete, and verifies the
// signatures of the commits and tag objects it reads. Chunks are only
// checked for presence. A tensor segment of a model that is absent but withheld
// (declared, or listed in the withheld file) is not missing. A corrupt or
// malformed object is an error.
func (rp *repository) checkComplete(ctx context.Context, roots []objects.ID, limit int, declared map[objects.ID]bool) (*closure, error) {
	res := &closure{}
	tensor := map[objects.ID]bool{} // tensor segments of models
	errFull := errors.New("missing list full")
	missing := func(id objects.ID) error {
		if res.missing = append(res.missing, id); len(res.missing) >= limit {
			return errFull
		}
		return nil
	}
	w := graph.Walk{
		Visit: func(id objects.ID, chunk bool) (bool, error) {
			rp.mu.Lock()
			done := rp.complete[id]
			rp.mu.Unlock()
			if done || !chunk {
				return !done, nil
			}
			ok, err := rp.store.Has(ctx, id)
			if err != nil || ok {
				return false, err
			}
			return false, missing(id)
		},
		Unreadable: func(id objects.ID, err error) error {
			if !errors.Is(err, objects.ErrNotFound) {
				return err
			}
			if tensor[id] && (declared[id] || rp.isWithheld(id)) {
				res.absent = append(res.absent, id)
				return nil
			}
			return missing(id)
		},
		Next: func(id objects.ID, o objects.Object) []objects.ID {
			res.visited = append(res.visited, id)
			rp.checkObject(id, o, res, tensor)
			return o.Refs()
		},
	}
	if err := w.Run(ctx, rp.store, roots...); err != nil && err != errFull {
		return nil, err
	}
	return res, nil
}

// checkObject notes in res what checkComplete finds wrong with object id
// (a bad signature, a reserved name) and the commits it visits, and in
// tensor the tensor segments of a model.
func (rp *repository) checkObject(id objects.ID, o objects.Object, res *closure, tensor map[objects.ID]bool) {
	switch o := o.(type) {
	case *objects.Model:
		for _, s := range o.Segments {
			if s.IsTensor() {
				tensor[s.ID] = true
			}
		}
	case *objects.Tree:
		for _, e := range o.Entries {
			if objects.ReservedName(e.Name) && res.badName == nil {
				res.badName = fmt.Errorf("tree %s: entry %q", id, e.Name)
			}
		}
	case *objects.Commit:
		res.commits = append(res.commits, id)
		if err := objects.VerifyCommit(o); err != nil && res.badSig == nil {
			res.badSig = fmt.Errorf("commit %s: %w", id, err)
		}
	case *objects.Tag:
		if err := objects.VerifyTag(o); err != nil && res.badSig == nil {
			res.badSig = fmt.Errorf("tag object %s: %w", id, err)
		}
	}
}

// markComplete adds ids to the complete set.
func (rp *repository) markComplete(ids []objects.ID) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	if len(rp.complete)+len(ids) > maxComplete {
		rp.complete = map[objects.ID]bool{}
		if all, err := rp.refs.List("refs/"); err == nil {
			for _, r := range all {
				rp.complete[r.ID] = true
			}
		}
	}
	for _, id := range ids {
		rp.complete[id] = true
	}
}

// isAncestor reports whether a is reachable from b through parents, and
// lists the commits reachable from b but not a (up to limit; the list is
// cut, not the answer, beyond it).
func (rp *repository) isAncestor(ctx context.Context, a, b objects.ID, limit int) (bool, []objects.ID, error) {
	var newCommits []objects.ID
	found := false
	h := graph.History{Stop: func(id objects.ID) bool {
		found = found || id == a
		return id == a
	}}
	err := h.Run(ctx, rp.store, []objects.ID{b}, func(id objects.ID, _ *objects.Commit) error {
		if len(newCommits) < limit {
			newCommits = append(newCommits, id)
		}
		return nil
	})
	if err != nil {
		return false, nil, err
	}
	return found, newCommits, nil
}

// signer returns who signed the commit or tag object id (its author or
// tagger; ok false for other objects).
func (rp *repository) signer(ctx context.Context, id objects.ID) (key objects.PublicKey, ok bool, err error) {
	o, err := objects.Read(ctx, rp.store, id, 0)
	if err != nil {
		return key, false, err
	}
	switch o := o.(type) {
	case *objects.Commit:
		return o.Author, true, nil
	case *objects.Tag:
		return o.Tagger, true, nil
	}
	return key, false, nil
}

// published reports whether id is a branch or tag value of the
// repository, or reachable from one through tag targets and commit
// parents. Proof refs do not count: they may name commits no branch
// holds.
func (rp *repository) published(ctx context.Context, id objects.ID) (bool, error) {
	all, err := rp.refs.List("refs/")
	if err != nil {
		return false, err
	}
	var named []objects.ID
	for _, r := range all {
		if strings.HasPrefix(string(r.Name), refs.HeadsPrefix) || strings.HasPrefix(string(r.Name), refs.TagsPrefix) {
			named = append(named, r.ID)
		}
	}
	set, err := rp.commitsOf(ctx, named)
	return set[id], err
}

// commitsOf returns the commits and tag objects reachable from tips
// through tag targets and commit parents (tips included).
func (rp *repository) commitsOf(ctx context.Context, tips []objects.ID) (map[objects.ID]bool, error) {
	seen := map[objects.ID]bool{}
	w := graph.Walk{
		Seen:       seen,
		Unreadable: graph.PassAbsent, // a hole left by an older server: reaches nothing
		Next: func(_ objects.ID, o objects.Object) []objects.ID {
			switch o := o.(type) {
			case *objects.Commit:
				return o.Parents
			case *objects.Tag:
				return []objects.ID{o.Target}
			}
			return nil
		},
	}
	if err := w.Run(ctx, rp.store, tips...); err != nil {
		return nil, err
	}
	return seen, nil
}
