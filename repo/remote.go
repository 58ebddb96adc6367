package repo

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/fed-vcs/fed/internal/fsys"
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/objects/graph"
	"github.com/fed-vcs/fed/refs"
	"github.com/fed-vcs/fed/remote"
)

// Remotes, push, fetch, pull and clone.
//
// A remote is the config key remote.<name>.url in .fed/config. Fetch
// mirrors the remote's branches into refs/remotes/<name>/<branch> (and
// creates its tags locally when absent); push moves one branch on the
// server and then the matching remote-tracking ref.
//
// Shallow clones: a clone with Depth N holds the last N commits of the
// branch with their trees; the commits whose parents it lacks are listed
// in .fed/shallow, one lowercase hex id per line, sorted. History walks
// (log, fsck, gc, ancestry checks) must treat those commits as having no
// parents. Later fetches do not deepen a shallow repository.

// Errors of remote operations.
var (
	// ErrNoRemote reports a remote name that is not configured.
	ErrNoRemote = errors.New("repo: no such remote")
	// ErrDiverged reports a pull whose local and remote branches both have
	// commits the other lacks: they need a merge.
	ErrDiverged = errors.New("repo: local and remote branches have diverged")
	// ErrRejected reports a push the server would not apply without force
	// (the remote branch has commits the local one lacks).
	ErrRejected = errors.New("repo: push rejected: not a fast-forward")
)

// DefaultRemote is the remote push, fetch and pull use when none is
// named, and the name clone gives its remote.
const DefaultRemote = "origin"

// shallowFile lists the commits of a shallow repository whose parents are
// absent.
const shallowFile = "shallow"

// Remote is a configured remote.
type Remote struct {
	Name string
	URL  string
}

func validRemoteName(name string) error {
	if name == "" || strings.ContainsAny(name, "/\\ \t\n\".") || refs.ValidateName(string(refs.Remote(name, "x"))) != nil {
		return fmt.Errorf("invalid remote name %q", name)
	}
	return nil
}

// RemoteAdd configures a remote named name at url
// (http(s)://host[:port]/<repository>).
func (r *Repo) RemoteAdd(name, url string) error {
	if err := validRemoteName(name); err != nil {
		return err
	}
	if _, _, err := remote.ParseURL(url); err != nil {
		return err
	}
	if _, ok := r.Config.Get("remote." + name + ".url"); ok && slices.Contains(r.Config.Subsections("remote"), name) {
		return fmt.Errorf("remote %s already exists", name)
	}
	if err := r.Config.Set("remote."+name+".url", url); err != nil {
		return err
	}
	return r.Config.Save()
}

// RemoteRemove deletes a remote, its remote-tracking refs and the signed
// settings fetched from it.
func (r *Repo) RemoteRemove(name string) error {
	if _, err := r.remoteURL(name); err != nil {
		return err
	}
	tracking, err := r.Refs.List(string(refs.RemotesPrefix) + name + "/")
	if err != nil {
		return err
	}
	var ups []refs.Update
	for _, t := range tracking {
		ups = append(ups, refs.Update{Name: t.Name, Force: true})
	}
	// and its signed settings: a remote added again under the name may
	// be another repository
	if _, err := r.Refs.Read(SettingsRef(name)); err == nil {
		ups = append(ups, refs.Update{Name: SettingsRef(name), Force: true})
	}
	if err := r.Refs.Transaction(ups, r.entry("remote: removed "+name)); err != nil {
		return err
	}
	r.Config.RemoveSubsection("remote", name)
	return r.Config.Save()
}

// Remotes lists the configured remotes by name.
func (r *Repo) Remotes() ([]Remote, error) {
	var out []Remote
	for _, n := range r.Config.Subsections("remote") {
		if u, ok := r.Config.Get("remote." + n + ".url"); ok {
			out = append(out, Remote{Name: n, URL: u})
		}
	}
	return out, nil
}

func (r *Repo) remoteURL(name string) (string, error) {
	if name == "" {
		name = DefaultRemote
	}
	if slices.Contains(r.Config.Subsections("remote"), name) {
		if u, ok := r.Config.Get("remote." + name + ".url"); ok {
			return u, nil
		}
	}
	if strings.Contains(name, "://") {
		return "", fmt.Errorf("%w: %s is a URL, not a remote's name (name it with: fed remote add NAME %s)", ErrNoRemote, name, name)
	}
	return "", fmt.Errorf("%w: %s (add it with: fed remote add %s URL)", ErrNoRemote, name, name)
}

// client returns a protocol client for remote name, with the
// repository's key and progress unless opts set others.
func (r *Repo) client(name string, opts remote.Options) (*remote.Client, error) {
	url, err := r.remoteURL(name)
	if err != nil {
		return nil, err
	}
	if opts.Key == nil {
		opts.Key = r.Key
	}
	if opts.Progress == nil {
		opts.Progress = r.Progress
	}
	return remote.New(url, opts)
}

// Shallow returns the commits listed in .fed/shallow: present, with
// their trees, but without their parents.
func (r *Repo) Shallow() (map[objects.ID]bool, error) {
	return r.readIDSet(shallowFile, "shallow list")
}

// readIDSet reads a file of .fed holding one hex id per line (absent:
// empty).
func (r *Repo) readIDSet(name, what string) (map[objects.ID]bool, error) {
	path := filepath.Join(r.Dir, name)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[objects.ID]bool{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	out := map[objects.ID]bool{}
	for i, line := range strings.Split(string(b), "\n") {
		if line == "" {
			continue
		}
		id, err := objects.ParseID(line)
		if err != nil {
			return nil, fmt.Errorf("%s %s line %d: %w (one hex object id per line)", what, path, i+1, err)
		}
		out[id] = true
	}
	return out, nil
}

// addIDs adds ids to such a file (sorted, replaced atomically).
func (r *Repo) addIDs(name string, ids []objects.ID) error {
	if len(ids) == 0 {
		return nil
	}
	cur, err := r.readIDSet(name, "list")
	if err != nil {
		return err
	}
	n := len(cur)
	for _, id := range ids {
		cur[id] = true
	}
	if len(cur) == n {
		return nil
	}
	return r.writeIDs(name, slices.Collect(maps.Keys(cur)))
}

// writeIDs replaces such a file with ids (sorted, without repeats,
// atomically); none removes it.
func (r *Repo) writeIDs(name string, ids []objects.ID) error {
	path := filepath.Join(r.Dir, name)
	if len(ids) == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	lines := make([]string, 0, len(ids))
	for _, id := range ids {
		lines = append(lines, id.String())
	}
	slices.Sort(lines)
	lines = slices.Compact(lines)
	return fsys.WriteFile(path, 0o644, []byte(strings.Join(lines, "\n")+"\n"))
}

func (r *Repo) addShallow(ids []objects.ID) error {
	return r.addIDs(shallowFile, ids)
}

// setShallow replaces the shallow list with ids; none removes it (the
// repository then holds its whole history).
func (r *Repo) setShallow(ids []objects.ID) error { return r.writeIDs(shallowFile, ids) }

// parentsPresent reports whether every parent of commit id is here.
func (r *Repo) parentsPresent(ctx context.Context, id objects.ID) bool {
	c, err := objects.ReadCommit(ctx, r.Objects, id)
	if err != nil {
		return false
	}
	for _, p := range c.Parents {
		if ok, err := r.Objects.Has(ctx, p); err != nil || !ok {
			return false
		}
	}
	return true
}

// heldCommits lists the commits this repository holds that its branches,
// remote-tracking branches and tags reach (tags peeled), as far as it
// holds them.
func (r *Repo) heldCommits(ctx context.Context, local []refs.Ref) ([]objects.ID, error) {
	var out []objects.ID
	seen := map[objects.ID]bool{}
	for _, l := range local {
		name := string(l.Name)
		if !strings.HasPrefix(name, refs.HeadsPrefix) && !strings.HasPrefix(name, refs.RemotesPrefix) && !strings.HasPrefix(name, refs.TagsPrefix) {
			continue
		}
		tip, err := r.peel(ctx, l.ID, name)
		if errors.Is(err, objects.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		err = r.walk(ctx, tip, func(id objects.ID, _ *objects.Commit) bool {
			if seen[id] {
				return false
			}
			seen[id] = true
			out = append(out, id)
			return true
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// parentsOf returns c's parents, none for a shallow commit.
func parentsOf(id objects.ID, c *objects.Commit, shallow map[objects.ID]bool) []objects.ID {
	if shallow[id] {
		return nil
	}
	return c.Parents
}

// isAncestorShallow is IsAncestor that stops at shallow commits; a
// commit it cannot read counts as not leading to a.
func (r *Repo) isAncestorShallow(ctx context.Context, a, b objects.ID, shallow map[objects.ID]bool) (bool, error) {
	h := graph.History{Parents: graph.Boundary(shallow, false), SkipAbsent: true}
	return h.IsAncestor(ctx, r.Objects, a, b)
}

// treeClosure adds to set every object reachable from tree (metadata
// objects read, chunks listed from their tensors and blobs). Objects it
// cannot read are skipped: the set is only used to leave things out.
func (r *Repo) treeClosure(ctx context.Context, tree objects.ID, set map[objects.ID]bool) {
	skip := func(objects.ID, error) error { return nil }
	_ = graph.Walk{Seen: set, Unreadable: skip}.Run(ctx, r.Objects, tree)
}

// pushSet lists the objects reachable from tip that the server may lack:
// commits down to those in known (which the server holds with their
// closures) or the shallow boundary, and the objects of their trees that
// the trees of the known commits do not hold. Tensor segments of models
// for which withhold (when not nil) reports true are listed in withheld
// instead, and not walked. commits lists the commits of ids.
func (r *Repo) pushSet(ctx context.Context, tip objects.ID, known map[objects.ID]bool, shallow map[objects.ID]bool, withhold func(objects.ID) bool) (ids, withheld, commits []objects.ID, err error) {
	excluded := map[objects.ID]bool{}
	for id := range known {
		if c, err := objects.ReadCommit(ctx, r.Objects, id); err == nil {
			r.treeClosure(ctx, c.Tree, excluded)
		}
	}
	var out []objects.ID
	seen := map[objects.ID]bool{}
	w := graph.Walk{
		Seen:       seen,
		Skip:       func(id objects.ID) bool { return excluded[id] },
		Unreadable: func(_ objects.ID, err error) error { return fmt.Errorf("push: %w", err) },
		Visit: func(id objects.ID, _ bool) (bool, error) {
			out = append(out, id)
			return true, nil
		},
		Next: func(_ objects.ID, o objects.Object) []objects.ID {
			switch o := o.(type) {
			case *objects.Commit:
				return []objects.ID{o.Tree}
			case *objects.Model:
				var next []objects.ID
				for _, s := range o.Segments {
					if s.IsTensor() && withhold != nil && withhold(s.ID) {
						if !seen[s.ID] && !excluded[s.ID] {
							seen[s.ID] = true
							withheld = append(withheld, s.ID)
						}
						continue
					}
					next = append(next, s.ID)
				}
				return next
			}
			return o.Refs()
		},
	}
	next := []objects.ID{tip}
	for len(next) > 0 {
		id := next[len(next)-1]
		next = next[:len(next)-1]
		if seen[id] || known[id] || id.IsZero() {
			continue
		}
		o, err := objects.Read(ctx, r.Objects, id, 0)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("push: %w", err)
		}
		if err := w.Run(ctx, r.Objects, id); err != nil {
			return nil, nil, nil, err
		}
		switch o := o.(type) {
		case *objects.Commit:
			commits = append(commits, id)
			next = append(next, parentsOf(id, o, shallow)...)
		case *objects.Tag:
			next = append(next, o.Target)
		}
	}
	return out, withheld, commits, nil
}

// PushOptions tune Push.
type PushOptions struct {
	Remote       string // default DefaultRemote
	Branch       string // local branch (default: the current one)
	RemoteBranch string // branch on the server (default: Branch)
	// Tag pushes refs/tags/Tag instead of a branch (with Branch and
	// RemoteBranch empty). A tag the server holds with another value is
	// replaced only with Force.
	Tag string
	// Force allows a push that is not a fast-forward (the server grants it
	// to the owner only). The server still checks that the branch has the
	// value this repository last saw, so nothing pushed meanwhile is lost.
	Force bool
	// PrivateWeights withholds the weights: the tensor objects of the
	// pushed commits' models stay off the server, which gets commits,
	// trees, models, proofs and other files (private.go). Every commit
	// concerned must record its zk root and have a proof. The config key
	// remote.<name>.private-weights true makes it the default for a
	// remote. Tensors this repository lacks because they were withheld
	// from it are withheld in any case.
	PrivateWeights bool
	// MarkPrivate marks the weights the push sends as private to this
	// remote (an aggregator: fed push --aggregator): whoever fetches them
	// from there withholds them from every other remote (marks.go). The
	// server must speak remote.FeaturePrivate. The config key
	// remote.<name>.aggregator true makes it the default for a remote.
	MarkPrivate bool
	// ReleaseWeights pushes weights this repository fetched as private to
	// another remote (their aggregator) as well; without it they are
	// withheld, and every commit reaching them needs its zk root and proof.
	ReleaseWeights bool
	// Client tunes the protocol client (Key and Progress default to the
	// repository's).
	Client remote.Options
}

// PushResult reports a push.
type PushResult struct {
	Remote   string
	Ref      string // the branch on the server
	Old, New objects.ID
	UpToDate bool
	Stats    remote.SendStats
	// Withheld counts the tensor objects the push kept off the server
	// (that the server did not already hold).
	Withheld int
	// Private reports a push that withheld weights.
	Private bool
	// KeptPrivate counts the withheld weight objects that were fetched as
	// private to another remote (their aggregator); Released counts those
	// ReleaseWeights sent instead; Marked those MarkPrivate marked.
	KeptPrivate, Released, Marked int
	// AggregatorDefault reports that this push, asked to mark weights
	// private (PushOptions.MarkPrivate) by a repository without a
	// remote.<name>.aggregator setting, set it to true.
	AggregatorDefault bool
	// PrivateDefault reports that this push, asked to withhold weights
	// (PushOptions.PrivateWeights) by a repository that had no
	// remote.<name>.private-weights setting, set it to true: later pushes
	// to the remote withhold weights too unless the setting is changed, so
	// a contributor who forgets the flag does not publish them.
	PrivateDefault bool
	// BytesSent counts every request byte (objects and control).
	BytesSent int64
}

// Push uploads what the server lacks of a branch and moves the branch on
// the server from the value it had to the local one, then the matching
// remote-tracking ref. A lost race gives an error matching
// remote.ErrStale; a non-fast-forward without Force, ErrRejected.
func (r *Repo) Push(ctx context.Context, opts PushOptions) (*PushResult, error) {
	if opts.Remote == "" {
		opts.Remote = DefaultRemote
	}
	if r.Key == nil && opts.Client.Key == nil {
		return nil, fmt.Errorf("push: %w (pushes are signed)", ErrNoKey)
	}
	var localRef refs.Name
	var remoteRef string
	if opts.Tag != "" {
		if opts.Branch != "" || opts.RemoteBranch != "" {
			return nil, fmt.Errorf("push: a tag or a branch, not both")
		}
		localRef, remoteRef = refs.Tag(opts.Tag), refs.TagsPrefix+opts.Tag
	} else {
		if opts.Branch == "" {
			_, cur, err := r.Head()
			if err != nil {
				return nil, err
			}
			if cur == "" {
				return nil, fmt.Errorf("push: HEAD is detached; name the branch to push")
			}
			opts.Branch = cur.Short()
		}
		if opts.RemoteBranch == "" {
			opts.RemoteBranch = opts.Branch
		}
		localRef, remoteRef = refs.Branch(opts.Branch), refs.HeadsPrefix+opts.RemoteBranch
	}
	local, err := r.Refs.Read(localRef)
	if err != nil {
		return nil, fmt.Errorf("push: %s: %w", localRef, err)
	}
	// setTracking records a pushed branch's remote-tracking ref; tags
	// have none (fetch writes them under refs/tags/ directly).
	setTracking := func() error {
		if opts.Tag != "" {
			return nil
		}
		return r.setTracking(opts.Remote, opts.RemoteBranch, local)
	}
	c, err := r.client(opts.Remote, opts.Client)
	if err != nil {
		return nil, err
	}
	res := &PushResult{Remote: opts.Remote, Ref: remoteRef, New: local}
	defer func() { res.BytesSent = c.BytesSent() }()
	list, err := c.Refs(ctx)
	if err != nil && !errors.Is(err, remote.ErrNotFound) {
		return nil, fmt.Errorf("push: %w", err)
	}
	known := map[objects.ID]bool{}
	if list != nil {
		for _, ref := range list.Refs {
			if ref.Name == res.Ref {
				res.Old = ref.ID
			}
			if ok, _ := r.Objects.Has(ctx, ref.ID); ok {
				known[ref.ID] = true
			}
		}
	}
	tracking, err := r.Refs.List(refs.RemotesPrefix + opts.Remote + "/")
	if err != nil {
		return nil, err
	}
	for _, t := range tracking {
		known[t.ID] = true
	}
	if res.Old == local {
		res.UpToDate = true
		if err := r.pushProofs(ctx, c, local, list, opts.Force); err != nil {
			return nil, err
		}
		if err := r.pushGovernance(ctx, c, list); err != nil {
			return nil, err
		}
		return res, setTracking()
	}
	shallow, err := r.Shallow()
	if err != nil {
		return nil, err
	}
	if opts.Tag != "" && !res.Old.IsZero() && !opts.Force {
		return nil, fmt.Errorf("%w: tag %s on %s names %s, not %s; replacing a tag needs --force (the owner's right)", ErrRejected, opts.Tag, opts.Remote, res.Old.Short(), local.Short())
	}
	if !res.Old.IsZero() && !opts.Force {
		ok, err := r.isAncestorShallow(ctx, res.Old, local, shallow)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("%w: %s on %s has commits this repository lacks (fetch and merge first, or force)", ErrRejected, res.Ref, opts.Remote)
		}
	}
	private, err := r.privatePush(opts.Remote, opts.PrivateWeights)
	if err != nil {
		return nil, err
	}
	url, err := r.remoteURL(opts.Remote)
	if err != nil {
		return nil, err
	}
	marked, err := r.privateTo(url)
	if err != nil {
		return nil, err
	}
	keep := marked
	if opts.ReleaseWeights || private {
		keep = nil
	}
	markFlag := opts.MarkPrivate
	if opts.MarkPrivate, err = r.flagOrConfig(AggregatorKey(opts.Remote), opts.MarkPrivate); err != nil {
		return nil, err
	}
	if opts.MarkPrivate {
		// before anything is sent: a server that cannot keep them
		// private gets none of them
		if err := c.RequireFeature(ctx, remote.FeaturePrivate); err != nil {
			return nil, fmt.Errorf("push: weights private to %s: %w", opts.Remote, err)
		}
	}
	withhold, err := r.withholdFunc(ctx, private, keep)
	if err != nil {
		return nil, err
	}
	ids, withheld, commits, err := r.pushSet(ctx, local, known, shallow, withhold)
	if err != nil {
		return nil, err
	}
	if len(withheld) > 0 && !private {
		// weights the server holds already are no secret there
		if withheld, err = c.Missing(ctx, withheld); err != nil {
			return nil, fmt.Errorf("push: %w", err)
		}
		for _, id := range withheld {
			if marked[id] {
				res.KeptPrivate++
			}
		}
	}
	if opts.ReleaseWeights {
		for _, id := range ids {
			if marked[id] {
				res.Released++
			}
		}
	}
	if len(withheld) > 0 {
		res.Private = true
		if err := r.pushWithheld(ctx, c, res, opts, ids, withheld, commits, list); err != nil {
			if res.KeptPrivate > 0 && errors.Is(err, ErrProofNeeded) {
				err = fmt.Errorf("%w; %d weight object(s) it reaches were sent to this repository as private to their aggregator, and stay off %s (their authors publish them, or push --release-weights does)", err, res.KeptPrivate, opts.Remote)
			}
			return nil, err
		}
		if opts.PrivateWeights {
			key := PrivateWeightsKey(opts.Remote)
			if _, set := r.Config.Get(key); !set {
				r.Config.Set(key, "true")
				if err := r.Config.Save(); err != nil {
					return nil, err
				}
				res.PrivateDefault = true
			}
		}
		return res, setTracking()
	}
	if res.Stats, err = c.SendMissing(ctx, r.Objects, ids); err != nil {
		return nil, fmt.Errorf("push: %w", err)
	}
	if err := r.pushProofs(ctx, c, local, list, opts.Force); err != nil {
		return nil, err
	}
	// reviews and attestations first: the branch's policy may need them
	if err := r.pushGovernance(ctx, c, list); err != nil {
		return nil, err
	}
	var marks []objects.ID
	if opts.MarkPrivate {
		if marks, err = r.tensorsToMark(ctx, commits, ids); err != nil {
			return nil, err
		}
		res.Marked = len(marks)
	}
	_, err = c.UpdateRefsPrivate(ctx, []remote.RefUpdate{{Name: res.Ref, Old: res.Old, New: local, Force: opts.Force}}, nil, marks)
	if errors.Is(err, remote.ErrNonFastForward) {
		return nil, fmt.Errorf("%w: %v", ErrRejected, err)
	}
	if err != nil {
		return nil, fmt.Errorf("push: %w", err)
	}
	if markFlag {
		// so that a later push to the aggregator without the flag
		// marks the weights too
		key := AggregatorKey(opts.Remote)
		if _, set := r.Config.Get(key); !set {
			r.Config.Set(key, "true")
			if err := r.Config.Save(); err != nil {
				return nil, err
			}
			res.AggregatorDefault = true
		}
	}
	return res, setTracking()
}

func (r *Repo) setTracking(remoteName, branch string, id objects.ID) error {
	return r.Refs.Transaction([]refs.Update{{Name: refs.Remote(remoteName, branch), New: id, Force: true}}, r.entry("update by push"))
}

// FetchOptions tune Fetch.
type FetchOptions struct {
	Remote string // default DefaultRemote
	// Depth > 0 fetches only that many commits of each branch (with their
	// trees) and records the boundary in .fed/shallow.
	Depth  int
	Client remote.Options
	// Prepare names the remote branch ("" for the remote's HEAD branch)
	// whose files the caller checks out right after (a clone): with
	// Prepared set, they are written next to their destinations while
	// the objects arrive, and the checkout renames them into place.
	Prepare  string
	Prepared bool
	// Deepen fetches, into a shallow repository, the history beyond its
	// boundary: to Depth commits from the remote's tips, or all of it
	// when Depth is 0; .fed/shallow then lists the new boundary (and goes
	// when there is none). A server that does not speak
	// remote.FeatureDeepen lists the held objects in its plan again; they
	// are not downloaded (the client fetches only what it lacks).
	Deepen bool
}

// ErrNotShallow reports a deepening fetch into a repository that holds
// its whole history already.
var ErrNotShallow = errors.New("repo: not a shallow repository")

// RefChange is one ref a fetch moved.
type RefChange struct {
	Name     refs.Name
	Old, New objects.ID
}

// FetchResult reports a fetch.
type FetchResult struct {
	Remote  string
	Head    string // the remote's HEAD branch (short name), if any
	Changes []RefChange
	Stats   remote.FetchStats
	// BytesReceived counts every response byte.
	BytesReceived int64
}

// Fetch downloads the objects of the remote's branches and tags that
// this repository lacks, checks that everything they reach is present,
// and then moves the remote-tracking refs (deleting those of branches the
// remote no longer has) and creates tags that are absent locally.
func (r *Repo) Fetch(ctx context.Context, opts FetchOptions) (*FetchResult, error) {
	if opts.Remote == "" {
		opts.Remote = DefaultRemote
	}
	if opts.Depth < 0 {
		return nil, fmt.Errorf("fetch: negative depth %d", opts.Depth)
	}
	c, err := r.client(opts.Remote, opts.Client)
	if err != nil {
		return nil, err
	}
	res := &FetchResult{Remote: opts.Remote}
	defer func() { res.BytesReceived = c.BytesReceived() }()
	for attempt := 0; ; attempt++ {
		err := r.fetchOnce(ctx, c, opts, res)
		var p *remote.Problem
		if errors.As(err, &p) && p.Code == remote.CodeNotTip && attempt < 3 {
			continue // a ref moved between listing and planning
		}
		if err != nil {
			return nil, fmt.Errorf("fetch %s: %w", opts.Remote, err)
		}
		return res, nil
	}
}

func (r *Repo) fetchOnce(ctx context.Context, c *remote.Client, opts FetchOptions, res *FetchResult) error {
	list, err := c.Refs(ctx)
	if err != nil {
		return err
	}
	res.Head = strings.TrimPrefix(list.Head, refs.HeadsPrefix)
	local, err := r.Refs.List("refs/")
	if err != nil {
		return err
	}
	shallow, err := r.Shallow()
	if err != nil {
		return err
	}
	complete := map[objects.ID]bool{}
	var have, held, oldShallow []objects.ID
	if opts.Deepen {
		// Nothing here has its whole history: no haves; the commits held
		// go as shallow, so that the server leaves them and their trees
		// out but walks on to their parents.
		if len(shallow) == 0 {
			return fmt.Errorf("%w: it holds its whole history already", ErrNotShallow)
		}
		if held, err = r.heldCommits(ctx, local); err != nil {
			return err
		}
		if len(held) > remote.MaxBatch {
			held = held[:remote.MaxBatch]
		}
		for id := range shallow {
			oldShallow = append(oldShallow, id)
		}
		shallow = map[objects.ID]bool{}
	} else {
		for _, l := range local {
			if !complete[l.ID] {
				complete[l.ID] = true
				have = append(have, l.ID)
			}
		}
		for id := range shallow {
			if !complete[id] {
				complete[id] = true
				have = append(have, id)
			}
		}
	}
	if len(have) > remote.MaxBatch {
		have = have[:remote.MaxBatch]
	}
	var want []objects.ID
	wanted := map[objects.ID]bool{}
	for _, ref := range list.Refs {
		if strings.HasPrefix(ref.Name, ProofsPrefix) {
			continue // fetchProofs, for the commits fetched
		}
		if !complete[ref.ID] && !wanted[ref.ID] {
			wanted[ref.ID] = true
			want = append(want, ref.ID)
		}
	}
	if len(want) > 0 {
		plan, err := c.Plan(ctx, remote.PlanRequest{Want: want, Have: have, Shallow: held, Depth: opts.Depth})
		if err != nil {
			return err
		}
		// One flush for all the objects instead of an fsync per file
		// (design §13, batches); published before anything refers to them.
		r.Objects.BeginBatch()
		res.Stats, err = r.fetchPlan(ctx, c, plan, r.prepareTip(list, opts))
		if perr := r.Objects.EndBatch(); err == nil {
			err = perr
		}
		if err != nil {
			return err
		}
		for _, id := range plan.Shallow {
			shallow[id] = true
		}
		// Listed before the refs that reach them, like the shallow list.
		if err := r.addWithheld(plan.Withheld); err != nil {
			return err
		}
		if len(plan.Private) > 0 {
			url, err := r.remoteURL(opts.Remote)
			if err != nil {
				return err
			}
			if err := r.addPrivateMarks(plan.Private, url); err != nil {
				return err
			}
		}
		withheld, err := r.Withheld()
		if err != nil {
			return err
		}
		if err := r.checkClosure(ctx, want, complete, shallow, withheld); err != nil {
			return err
		}
		if opts.Deepen {
			// The boundary is now what lacks parents among the old and the
			// plan's boundary commits (a depth below the clone's keeps the
			// old one; a deeper one moves it).
			var boundary []objects.ID
			for _, id := range append(oldShallow, plan.Shallow...) {
				if !r.parentsPresent(ctx, id) {
					boundary = append(boundary, id)
				}
			}
			err = r.setShallow(boundary)
		} else {
			err = r.addShallow(plan.Shallow)
		}
		if err != nil {
			return err
		}
	}
	// Move the refs.
	prefix := refs.RemotesPrefix + opts.Remote + "/"
	current := map[refs.Name]objects.ID{}
	for _, l := range local {
		current[l.Name] = l.ID
	}
	var ups []refs.Update
	onRemote := map[refs.Name]bool{}
	var govOwn govOwner
	for _, ref := range list.Refs {
		var name refs.Name
		switch {
		case strings.HasPrefix(ref.Name, refs.HeadsPrefix):
			name = refs.Name(prefix + strings.TrimPrefix(ref.Name, refs.HeadsPrefix))
		case strings.HasPrefix(ref.Name, refs.TagsPrefix):
			name = refs.Name(ref.Name)
			if _, exists := current[name]; exists {
				continue // never overwrite a local tag
			}
		case ref.Name == remote.SettingsRef:
			// kept when the server drops it: only the owner's next
			// signed settings replace it
			name = SettingsRef(opts.Remote)
			if current[name] != ref.ID {
				if err := r.checkFetchedSettings(ctx, c, opts.Remote, ref.ID, current[name], shallow); err != nil {
					return err
				}
			}
		case remote.IsGovernanceRef(ref.Name):
			n, keep, err := r.fetchedGovernanceRef(ctx, c, opts.Remote, ref, &govOwn)
			if err != nil {
				return err
			}
			if !keep {
				continue
			}
			name = n
		default:
			continue
		}
		onRemote[name] = true
		if current[name] != ref.ID {
			ups = append(ups, refs.Update{Name: name, New: ref.ID, Force: true})
			res.Changes = append(res.Changes, RefChange{Name: name, Old: current[name], New: ref.ID})
		}
	}
	for _, l := range local {
		if strings.HasPrefix(string(l.Name), prefix) && !onRemote[l.Name] {
			ups = append(ups, refs.Update{Name: l.Name, Force: true})
			res.Changes = append(res.Changes, RefChange{Name: l.Name, Old: l.ID})
		}
	}
	if err := r.Refs.Transaction(ups, r.entry("fetch "+opts.Remote)); err != nil {
		return err
	}
	return r.fetchProofs(ctx, c, list)
}

// checkClosure verifies that everything reachable from roots is present,
// stopping at complete commits and at the shallow boundary, and passing
// over absent objects listed in withheld.
func (r *Repo) checkClosure(ctx context.Context, roots []objects.ID, complete, shallow, withheld map[objects.ID]bool) error {
	w := graph.Walk{
		Skip: func(id objects.ID) bool { return complete[id] },
		Visit: func(id objects.ID, chunk bool) (bool, error) {
			if withheld[id] {
				if ok, err := r.Objects.Has(ctx, id); err == nil && !ok {
					return false, nil
				}
			}
			if !chunk {
				return true, nil
			}
			ok, err := r.Objects.Has(ctx, id)
			if err != nil {
				return false, err
			}
			if !ok {
				return false, fmt.Errorf("%w: object %s missing after download", remote.ErrIncomplete, id.Short())
			}
			return false, nil
		},
		Unreadable: func(_ objects.ID, err error) error { return fmt.Errorf("after download: %w", err) },
		Next: func(id objects.ID, o objects.Object) []objects.ID {
			if c, ok := o.(*objects.Commit); ok {
				return append([]objects.ID{c.Tree}, parentsOf(id, c, shallow)...)
			}
			return o.Refs()
		},
	}
	return w.Run(ctx, r.Objects, roots...)
}

// PullOptions tune Pull.
type PullOptions struct {
	Remote string // default: branch.<current>.remote, else DefaultRemote
	Branch string // remote branch (default: branch.<current>.merge, else the current branch's name)
	Client remote.Options
	// Merge, when set, merges diverged branches: Pull calls it, without
	// the repository lock, with the remote branch's commit and the message
	// of the merge commit, and reports the commit it returns (package
	// mergeexec merges). Without it, diverged branches give ErrDiverged.
	Merge func(ctx context.Context, upstream objects.ID, message string) (objects.ID, error)
}

// PullResult reports a pull.
type PullResult struct {
	Fetch       *FetchResult
	Old, New    objects.ID
	UpToDate    bool
	FastForward bool
	Merged      bool // the branches had diverged and opts.Merge merged them
}

// Pull fetches and then brings the current branch up to the remote one:
// a fast-forward (checking out the new files, refusing to overwrite local
// changes) when the local branch has nothing the remote lacks.
// Diverged branches are merged with opts.Merge, or give ErrDiverged.
func (r *Repo) Pull(ctx context.Context, opts PullOptions) (*PullResult, error) {
	head, cur, err := r.Head()
	if err != nil {
		return nil, err
	}
	if cur == "" {
		return nil, fmt.Errorf("pull: HEAD is detached; switch to a branch first")
	}
	if opts.Remote == "" {
		opts.Remote, _ = r.Config.Get("branch." + cur.Short() + ".remote")
	}
	if opts.Remote == "" {
		opts.Remote = DefaultRemote
	}
	if opts.Branch == "" {
		if m, ok := r.Config.Get("branch." + cur.Short() + ".merge"); ok {
			opts.Branch = strings.TrimPrefix(m, refs.HeadsPrefix)
		} else {
			opts.Branch = cur.Short()
		}
	}
	fr, err := r.Fetch(ctx, FetchOptions{Remote: opts.Remote, Client: opts.Client})
	if err != nil {
		return nil, err
	}
	res := &PullResult{Fetch: fr, Old: head, New: head}
	upstream, err := r.Refs.Read(refs.Remote(opts.Remote, opts.Branch))
	if errors.Is(err, refs.ErrNotFound) {
		return nil, fmt.Errorf("pull: %s has no branch %s", opts.Remote, opts.Branch)
	}
	if err != nil {
		return nil, err
	}
	unlock, err := r.lockWorktree()
	if err != nil {
		return nil, err
	}
	defer func() { unlock() }()
	shallow, err := r.Shallow()
	if err != nil {
		return nil, err
	}
	if ok, err := r.isAncestorShallow(ctx, upstream, head, shallow); err != nil {
		return nil, err
	} else if ok && !head.IsZero() {
		res.UpToDate = true
		return res, nil
	}
	if !head.IsZero() {
		ok, err := r.isAncestorShallow(ctx, head, upstream, shallow)
		if err != nil {
			return nil, err
		}
		if !ok && opts.Merge != nil {
			unlock()
			unlock = func() error { return nil }
			id, err := opts.Merge(ctx, upstream, fmt.Sprintf("Merge %s/%s into %s", opts.Remote, opts.Branch, cur.Short()))
			res.Merged = true
			if !id.IsZero() {
				res.New = id
			}
			return res, err
		}
		if !ok {
			return nil, fmt.Errorf("%w: %s and %s/%s each have commits the other lacks; merge %s/%s", ErrDiverged, cur.Short(), opts.Remote, opts.Branch, opts.Remote, opts.Branch)
		}
	}
	if err := r.moveHeadFiles(ctx, "pull", head, upstream, false); err != nil {
		return nil, err
	}
	if err := r.Refs.UpdateHead(head, upstream, r.entry("pull: fast-forward")); err != nil {
		return nil, err
	}
	res.New, res.FastForward = upstream, true
	return res, nil
}

// CloneOptions tune Clone.
type CloneOptions struct {
	URL string
	// Dir is the new repository's directory (default: the last component
	// of the repository name, in the current directory). It must not exist
	// or be empty.
	Dir string
	// Depth > 0 makes a shallow clone (1: only the latest commit).
	Depth int
	// Branch to check out (default: the remote's HEAD branch).
	Branch   string
	Key      *objects.Keypair
	Progress Progress
	Client   remote.Options
	// UserConfig is the user's config file (see Options).
	UserConfig string
}

// Clone makes a new repository from a remote one: it adds the remote as
// DefaultRemote, fetches, creates the local branch and checks it out. A
// failed clone removes the directory it made.
func Clone(ctx context.Context, opts CloneOptions) (_ *Repo, err error) {
	_, name, err := remote.ParseURL(opts.URL)
	if err != nil {
		return nil, err
	}
	if opts.Dir == "" {
		opts.Dir = path.Base(name)
	}
	if entries, err := os.ReadDir(opts.Dir); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("clone: destination %s exists and is not empty", opts.Dir)
	}
	_, statErr := os.Stat(opts.Dir)
	made := errors.Is(statErr, fs.ErrNotExist)
	r, err := initRepo(opts.Dir, Options{UserConfig: opts.UserConfig})
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			if made {
				os.RemoveAll(r.Root)
			} else {
				os.RemoveAll(r.Dir)
			}
		}
	}()
	r.Key = opts.Key
	if opts.Progress != nil {
		r.Progress = opts.Progress
	}
	if err := r.RemoteAdd(DefaultRemote, opts.URL); err != nil {
		return nil, err
	}
	// The lock is held from the fetch on: the fetch writes the files it
	// prepares into the working tree (.fed-tmp-*), and only files written
	// under the lock are known to be in use (sweepTemps).
	unlock, err := r.Lock(lockWait)
	if err != nil {
		return nil, err
	}
	defer unlock()
	defer r.DropPrebuilt()
	fr, err := r.Fetch(ctx, FetchOptions{Remote: DefaultRemote, Depth: opts.Depth, Client: opts.Client, Prepare: opts.Branch, Prepared: true})
	if err != nil {
		return nil, err
	}
	branch := opts.Branch
	if branch == "" {
		branch = fr.Head
	}
	tip, err := r.Refs.Read(refs.Remote(DefaultRemote, branch))
	if errors.Is(err, refs.ErrNotFound) && opts.Branch == "" {
		// The remote's HEAD branch is unborn: take its first branch, if any.
		all, lerr := r.Refs.List(refs.RemotesPrefix + DefaultRemote + "/")
		if lerr != nil || len(all) == 0 {
			return r, nil // an empty repository
		}
		branch = strings.TrimPrefix(string(all[0].Name), refs.RemotesPrefix+DefaultRemote+"/")
		tip, err = all[0].ID, nil
	}
	if err != nil {
		return nil, fmt.Errorf("clone: remote branch %s: %w", branch, err)
	}
	// Check out while HEAD is still unborn, then point the branch at tip.
	// Model files whose weights were withheld (private contributions) are
	// tracked but left out of the working tree (WeightsWithheld tells the
	// caller; status shows them as 'W').
	if err := r.moveHeadFiles(ctx, "clone", objects.ZeroID, tip, false); err != nil {
		return nil, err
	}
	if err := r.Refs.Update(refs.Branch(branch), objects.ZeroID, tip, r.entry("clone: from "+opts.URL)); err != nil {
		return nil, err
	}
	if err := r.Refs.SetHead(refs.Head{Symbolic: refs.Branch(branch), ID: tip}, r.entry("clone: checkout "+branch)); err != nil {
		return nil, err
	}
	r.Config.Set("branch."+branch+".remote", DefaultRemote)
	r.Config.Set("branch."+branch+".merge", refs.HeadsPrefix+branch)
	if err := r.Config.Save(); err != nil {
		return nil, err
	}
	return r, nil
}
