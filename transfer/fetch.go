package transfer

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/fed-vcs/fed/governing"
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/objects/graph"
	"github.com/fed-vcs/fed/refs"
	"github.com/fed-vcs/fed/remote"
	"github.com/fed-vcs/fed/repo"
)

// FetchOptions tune Fetch.
type FetchOptions struct {
	Remote string // default repo.DefaultRemote
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
var ErrNotShallow = errors.New("transfer: not a shallow repository")

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
func Fetch(ctx context.Context, r *repo.Repo, opts FetchOptions) (*FetchResult, error) {
	if opts.Remote == "" {
		opts.Remote = repo.DefaultRemote
	}
	if opts.Depth < 0 {
		return nil, fmt.Errorf("fetch: negative depth %d", opts.Depth)
	}
	c, err := r.Client(opts.Remote, opts.Client)
	if err != nil {
		return nil, err
	}
	res := &FetchResult{Remote: opts.Remote}
	defer func() { res.BytesReceived = c.BytesReceived() }()
	for attempt := 0; ; attempt++ {
		err := fetchOnce(ctx, r, c, opts, res)
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

// fetchState is what one attempt of a fetch knows of this repository.
type fetchState struct {
	local    []refs.Ref
	shallow  map[objects.ID]bool // after the download: the new boundary too
	complete map[objects.ID]bool // commits held with their closures
	have     []objects.ID        // told to the server
	held     []objects.ID        // deepening: the commits held, told as shallow
	// oldShallow is the boundary before a deepening fetch.
	oldShallow []objects.ID
}

func fetchOnce(ctx context.Context, r *repo.Repo, c *remote.Client, opts FetchOptions, res *FetchResult) error {
	list, err := c.Refs(ctx)
	if err != nil {
		return err
	}
	res.Head = strings.TrimPrefix(list.Head, refs.HeadsPrefix)
	st, err := fetchHaves(ctx, r, opts)
	if err != nil {
		return err
	}
	var want []objects.ID
	wanted := map[objects.ID]bool{}
	for _, ref := range list.Refs {
		if strings.HasPrefix(ref.Name, repo.ProofsPrefix) {
			continue // fetchProofs, for the commits fetched
		}
		if !st.complete[ref.ID] && !wanted[ref.ID] {
			wanted[ref.ID] = true
			want = append(want, ref.ID)
		}
	}
	if len(want) > 0 {
		if err := download(ctx, r, c, opts, list, want, st, res); err != nil {
			return err
		}
	}
	if err := moveRefs(ctx, r, c, opts, list, st, res); err != nil {
		return err
	}
	return fetchProofs(ctx, r, c, list)
}

// fetchHaves lists what a fetch tells the server this repository holds:
// every ref value and shallow commit (with its closure), or, deepening,
// no haves and the commits held as shallow, so that the server leaves
// them and their trees out but walks on to their parents.
func fetchHaves(ctx context.Context, r *repo.Repo, opts FetchOptions) (*fetchState, error) {
	local, err := r.Refs.List("refs/")
	if err != nil {
		return nil, err
	}
	shallow, err := r.Shallow()
	if err != nil {
		return nil, err
	}
	st := &fetchState{local: local, shallow: shallow, complete: map[objects.ID]bool{}}
	if opts.Deepen {
		if len(shallow) == 0 {
			return nil, fmt.Errorf("%w: it holds its whole history already", ErrNotShallow)
		}
		if st.held, err = heldCommits(ctx, r, local); err != nil {
			return nil, err
		}
		if len(st.held) > remote.MaxBatch {
			st.held = st.held[:remote.MaxBatch]
		}
		for id := range shallow {
			st.oldShallow = append(st.oldShallow, id)
		}
		st.shallow = map[objects.ID]bool{}
	} else {
		for _, l := range local {
			if !st.complete[l.ID] {
				st.complete[l.ID] = true
				st.have = append(st.have, l.ID)
			}
		}
		for id := range shallow {
			if !st.complete[id] {
				st.complete[id] = true
				st.have = append(st.have, id)
			}
		}
	}
	if len(st.have) > remote.MaxBatch {
		st.have = st.have[:remote.MaxBatch]
	}
	return st, nil
}

// download fetches the plan of want, records the lists the refs will
// need (withheld weights, private marks), checks the closure of want and
// records the new shallow boundary.
func download(ctx context.Context, r *repo.Repo, c *remote.Client, opts FetchOptions, list *remote.RefList, want []objects.ID, st *fetchState, res *FetchResult) error {
	plan, err := c.Plan(ctx, remote.PlanRequest{Want: want, Have: st.have, Shallow: st.held, Depth: opts.Depth})
	if err != nil {
		return err
	}
	// One flush for all the objects instead of an fsync per file
	// (design §13, batches); published before anything refers to them.
	disk, err := r.Disk()
	if err != nil {
		return err
	}
	disk.BeginBatch()
	res.Stats, err = r.FetchObjects(ctx, c, plan, prepareTip(list, opts))
	if perr := disk.EndBatch(); err == nil {
		err = perr
	}
	if err != nil {
		return err
	}
	for _, id := range plan.Shallow {
		st.shallow[id] = true
	}
	// Listed before the refs that reach them, like the shallow list.
	if err := r.AddWithheld(plan.Withheld); err != nil {
		return err
	}
	if len(plan.Private) > 0 {
		url, err := r.RemoteURL(opts.Remote)
		if err != nil {
			return err
		}
		if err := r.AddPrivateMarks(plan.Private, url); err != nil {
			return err
		}
	}
	withheld, err := r.Withheld()
	if err != nil {
		return err
	}
	if err := checkClosure(ctx, r, want, st.complete, st.shallow, withheld); err != nil {
		return err
	}
	if !opts.Deepen {
		return r.AddShallow(plan.Shallow)
	}
	// The boundary is now what lacks parents among the old and the plan's
	// boundary commits (a depth below the clone's keeps the old one; a
	// deeper one moves it).
	var boundary []objects.ID
	for _, id := range append(st.oldShallow, plan.Shallow...) {
		if !parentsPresent(ctx, r, id) {
			boundary = append(boundary, id)
		}
	}
	return r.SetShallow(boundary)
}

// moveRefs moves the remote-tracking refs to the remote's branches
// (deleting those of branches it no longer has), creates the remote's
// tags that are absent here and keeps its signed settings and governance
// records once checked, in one transaction.
func moveRefs(ctx context.Context, r *repo.Repo, c *remote.Client, opts FetchOptions, list *remote.RefList, st *fetchState, res *FetchResult) error {
	prefix := refs.RemotesPrefix + opts.Remote + "/"
	current := map[refs.Name]objects.ID{}
	for _, l := range st.local {
		current[l.Name] = l.ID
	}
	var ups []refs.Update
	onRemote := map[refs.Name]bool{}
	var govOwn governing.GovOwner
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
			name = repo.SettingsRef(opts.Remote)
			if current[name] != ref.ID {
				if err := checkFetchedSettings(ctx, r, c, opts.Remote, ref.ID, current[name], st.shallow); err != nil {
					return err
				}
			}
		case remote.IsGovernanceRef(ref.Name):
			n, keep, err := governing.FetchedGovernanceRef(ctx, r, c, opts.Remote, ref, &govOwn)
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
	for _, l := range st.local {
		if strings.HasPrefix(string(l.Name), prefix) && !onRemote[l.Name] {
			ups = append(ups, refs.Update{Name: l.Name, Force: true})
			res.Changes = append(res.Changes, RefChange{Name: l.Name, Old: l.ID})
		}
	}
	return r.Refs.Transaction(ups, r.Entry("fetch "+opts.Remote))
}

// prepareTip returns the commit whose files a fetch prepares, or zero.
func prepareTip(list *remote.RefList, opts FetchOptions) objects.ID {
	if !opts.Prepared {
		return objects.ZeroID
	}
	name := refs.HeadsPrefix + opts.Prepare
	if opts.Prepare == "" {
		name = list.Head
	}
	for _, ref := range list.Refs {
		if ref.Name == name {
			return ref.ID
		}
	}
	return objects.ZeroID
}

// checkClosure verifies that everything reachable from roots is present,
// stopping at complete commits and at the shallow boundary, and passing
// over absent objects listed in withheld.
func checkClosure(ctx context.Context, r *repo.Repo, roots []objects.ID, complete, shallow, withheld map[objects.ID]bool) error {
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

// parentsPresent reports whether every parent of commit id is here.
func parentsPresent(ctx context.Context, r *repo.Repo, id objects.ID) bool {
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
func heldCommits(ctx context.Context, r *repo.Repo, local []refs.Ref) ([]objects.ID, error) {
	var out []objects.ID
	seen := map[objects.ID]bool{}
	for _, l := range local {
		name := string(l.Name)
		if !strings.HasPrefix(name, refs.HeadsPrefix) && !strings.HasPrefix(name, refs.RemotesPrefix) && !strings.HasPrefix(name, refs.TagsPrefix) {
			continue
		}
		tip, err := r.Peel(ctx, l.ID, name)
		if errors.Is(err, objects.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		err = graph.History{SkipAbsent: true}.Run(ctx, r.Objects, []objects.ID{tip}, func(id objects.ID, _ *objects.Commit) error {
			if seen[id] {
				return graph.SkipParents
			}
			seen[id] = true
			out = append(out, id)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// checkFetchedSettings checks the settings commit id that remoteName's
// server holds under remote.SettingsRef before fetch keeps it: well
// formed, signed by the owner the server names, and a descendant of held
// (the settings kept before; zero: none).
func checkFetchedSettings(ctx context.Context, r *repo.Repo, c *remote.Client, remoteName string, id, held objects.ID, shallow map[objects.ID]bool) error {
	cm, err := objects.ReadCommit(ctx, r.Objects, id)
	if err != nil {
		return fmt.Errorf("settings %s: %w", id.Short(), err)
	}
	if _, err := remote.ParseSettingsCommit(cm); err != nil {
		return fmt.Errorf("settings %s of %s: %w", id.Short(), remoteName, err)
	}
	st, err := c.Settings(ctx)
	if err != nil {
		return fmt.Errorf("settings %s: who owns the repository: %w", id.Short(), err)
	}
	if st.Owner == "" {
		return fmt.Errorf("%w: settings %s of %s: the server names no owner to check the signature against", remote.ErrBadSettings, id.Short(), remoteName)
	}
	if cm.Author.String() != st.Owner {
		return fmt.Errorf("%w: settings %s of %s are signed by %s, not by the repository's owner %s", remote.ErrBadSettings, id.Short(), remoteName, cm.Author, st.Owner)
	}
	if !held.IsZero() {
		ok, err := isAncestorShallow(ctx, r, held, id, shallow)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w: %s's settings %s do not descend from %s, the ones this repository holds (%s)", repo.ErrSettingsRollback, remoteName, id.Short(), held.Short(), repo.SettingsRef(remoteName))
		}
	}
	return nil
}
