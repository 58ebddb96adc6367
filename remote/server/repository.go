package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/objects/graph"
	"github.com/fed-vcs/fed/refs"
	"github.com/fed-vcs/fed/remote"
	"github.com/fed-vcs/fed/repometa"
)

// maxComplete bounds the set of ids known complete per repository.
const maxComplete = 1 << 20

// meta is a repository's settings.
type meta = repometa.Settings

// repository is one open repository: the Hosting's Repository and what
// the server learnt of it.
type repository struct {
	name   string
	hosted Repository
	store  ObjectStore
	refs   refs.Backend
	meta   repometa.Store

	// gc excludes ref updates (read-locked by them) while it runs.
	gc sync.RWMutex
	// mu serialises ref updates and settings changes in this process
	// (the ref store's compare-and-swap covers other processes).
	mu       sync.Mutex
	complete map[objects.ID]bool       // objects whose whole closure is present (withheld objects aside)
	roots    map[objects.ID]objects.ID // first-parent root commit by tip (repoID)
	reachGen uint64                    // bumped when objects may have become unreachable (reach.go)
	// the other processes' counters last seen (shared.go)
	seenCollected, seenUnpublished uint64

	// reachMu guards the published set (reach.go), valid for reachSetGen.
	reachMu     sync.Mutex
	reach       map[objects.ID]bool
	reachSetGen uint64
}

// errNoRepo reports a repository that does not exist.
var errNoRepo = errors.New("server: no such repository")

// open returns the repository, creating it with owner when create is set
// and it does not exist. The server-wide lock covers only the map of open
// repositories: opening or creating one (file system, database) runs
// outside it, once per name at a time, so that requests to the other
// repositories never wait for it. A request that finds another opening
// the same name waits for it and, if that failed (its own context, no
// create), tries itself.
func (s *Server) open(ctx context.Context, name string, create *objects.PublicKey) (*repository, error) {
	for {
		s.mu.Lock()
		if rp, ok := s.repos[name]; ok {
			s.mu.Unlock()
			return rp, nil
		}
		op, busy := s.opening[name]
		if !busy {
			op = &opening{done: make(chan struct{})}
			s.opening[name] = op
		}
		s.mu.Unlock()
		if busy {
			select {
			case <-op.done:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			if op.rp != nil {
				return op.rp, nil
			}
			continue
		}
		rp, err := s.openRepo(ctx, name, create)
		s.mu.Lock()
		delete(s.opening, name)
		if err == nil {
			s.repos[name] = rp
		}
		s.mu.Unlock()
		op.rp = rp
		close(op.done)
		return rp, err
	}
}

// opening is a repository being opened by one request (Server.open); rp
// is set, or left nil on failure, before done is closed.
type opening struct {
	done chan struct{}
	rp   *repository
}

// openRepo opens (or creates) the repository for open.
func (s *Server) openRepo(ctx context.Context, name string, create *objects.PublicKey) (*repository, error) {
	h, err := s.hosting.Open(ctx, name)
	if errors.Is(err, repometa.ErrNotFound) {
		if create == nil {
			return nil, errNoRepo
		}
		h, err = s.hosting.Create(ctx, name, meta{Owner: create.String(), Public: !s.opts.PrivateByDefault, Created: s.opts.Now().UTC()})
	}
	if err != nil {
		return nil, err
	}
	rp := &repository{name: name, hosted: h, store: h.Objects(), refs: h.Refs(), meta: h.Meta(), complete: map[objects.ID]bool{}}
	// read now, so that an unreadable list fails the open as before
	if _, err := rp.meta.IDs(ctx, repometa.Withheld); err != nil {
		return nil, fmt.Errorf("open repository %s: %w", name, err)
	}
	if err := rp.resetComplete(ctx); err != nil {
		return nil, err
	}
	if sh, ok := rp.refs.(SharedState); ok {
		// what this process knows now is as of these counters
		if rp.seenCollected, rp.seenUnpublished, err = sh.Generations(ctx); err != nil {
			return nil, fmt.Errorf("open repository %s: %w", name, err)
		}
	}
	return rp, nil
}

// resetComplete restarts the complete set from the ref tips: a ref only
// ever names an id whose closure was checked (updateRefs). The caller
// holds rp.mu, or has rp to itself.
func (rp *repository) resetComplete(ctx context.Context) error {
	all, err := rp.refs.List(ctx, "refs/")
	if err != nil {
		return err
	}
	rp.complete = make(map[objects.ID]bool, len(all))
	for _, r := range all {
		rp.complete[r.ID] = true
	}
	return nil
}

// Access rules: who owns a repository is in owner.go.

// isProtected reports whether ref is one of m's protected refs.
func isProtected(m *meta, ref string) bool { return slices.Contains(m.Protected, ref) }

// snapshotMeta returns the repository's settings.
func (rp *repository) snapshotMeta(ctx context.Context) (meta, error) {
	return rp.meta.Settings(ctx)
}

// setMeta changes the settings and saves them.
func (rp *repository) setMeta(ctx context.Context, change func(m *meta)) (meta, error) {
	return rp.meta.UpdateSettings(ctx, func(m *meta) error {
		change(m)
		return nil
	})
}

// appendPushLog records a signed push.
func (rp *repository) appendPushLog(ctx context.Context, e remote.PushLogEntry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return rp.meta.AppendPushLog(ctx, b)
}

func (rp *repository) readPushLog(ctx context.Context) ([]remote.PushLogEntry, error) {
	lines, err := rp.meta.PushLog(ctx)
	if err != nil {
		return nil, err
	}
	var out []remote.PushLogEntry
	for _, line := range lines {
		var e remote.PushLogEntry
		if json.Unmarshal(line, &e) != nil {
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
// checked for presence, once the walk is done, idWorkers at a time. A tensor segment of a model that is absent but withheld
// (declared, or listed in the withheld file) is not missing. A corrupt or
// malformed object is an error.
func (rp *repository) checkComplete(ctx context.Context, roots []objects.ID, limit int, declared map[objects.ID]bool) (*closure, error) {
	res := &closure{}
	withheld, err := rp.withheldSet(ctx)
	if err != nil {
		return nil, err
	}
	tensor := map[objects.ID]bool{} // tensor segments of models
	var chunks []objects.ID         // chunks not known complete
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
			chunks = append(chunks, id) // asked about below, idWorkers at a time
			return false, nil
		},
		Unreadable: func(id objects.ID, err error) error {
			if !errors.Is(err, objects.ErrNotFound) {
				return err
			}
			if tensor[id] && (declared[id] || withheld[id]) {
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
	err = w.Run(ctx, rp.store, roots...)
	if err == errFull {
		return res, nil
	}
	if err != nil {
		return nil, err
	}
	// Chunks are never read, only asked about: a remote store answers
	// each Has after a round trip, which eachID overlaps (a push of a
	// 1 GiB model has some 256 pieces).
	have, err := eachID(ctx, chunks, rp.store.Has, rp.workers(len(chunks)))
	if err != nil {
		return nil, err
	}
	for i, ok := range have {
		if !ok && missing(chunks[i]) == errFull {
			break
		}
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
func (rp *repository) markComplete(ctx context.Context, ids []objects.ID) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	if len(rp.complete)+len(ids) > maxComplete {
		rp.complete = map[objects.ID]bool{}
		if all, err := rp.refs.List(ctx, "refs/"); err == nil {
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
	all, err := rp.refs.List(ctx, "refs/")
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
