package proving

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/objects/graph"
	"github.com/fed-vcs/fed/refs"
	"github.com/fed-vcs/fed/repo"
	"github.com/fed-vcs/fed/zk"
)

// ProveOptions tune Prove.
type ProveOptions struct {
	Cache *zk.Cache // the proving keys (required)
	// Setup makes development keys for shapes the cache lacks; otherwise
	// a missing key fails with zk.ErrNoKeys.
	Setup bool
	// Force re-proves commits that already have a proof.
	Force   bool
	Workers int
}

// Result is one commit's outcome.
type Result struct {
	Commit  objects.ID
	Proof   objects.ID // zero when skipped
	Kind    string     // commitment, update, merge
	Chunks  int
	Keys    string // development or ceremony
	Skipped bool   // already proven
}

func (o *ProveOptions) cache() (*zk.Cache, error) {
	if o.Cache == nil {
		return nil, errors.New("prove: no key cache given (ProveOptions.Cache)")
	}
	return o.Cache, nil
}

// Prove proves the commits of revs in r (a revision, or A..B: the commits
// reachable from B but not from A), oldest first, and attaches each proof
// under repo.ProofRef. Proving needs the weights of each commit and of its
// parents.
func Prove(ctx context.Context, rp *repo.Repo, revs string, opts ProveOptions) ([]Result, error) {
	r := prepo{Repo: rp}
	s, err := ReadSettings(rp)
	if err != nil {
		return nil, err
	}
	cache, err := opts.cache()
	if err != nil {
		return nil, err
	}
	ids, err := r.revList(ctx, revs)
	if err != nil {
		return nil, err
	}
	var out []Result
	for _, id := range ids {
		res, err := r.proveOne(ctx, id, s, cache, opts)
		if err != nil {
			return out, err
		}
		out = append(out, res)
	}
	return out, nil
}

func (r prepo) proveOne(ctx context.Context, id objects.ID, s Settings, cache *zk.Cache, opts ProveOptions) (Result, error) {
	res := Result{Commit: id}
	if old, err := r.Refs.Read(repo.ProofRef(id)); err == nil && !opts.Force {
		res.Proof, res.Skipped = old, true
		return res, nil
	}
	c, err := objects.ReadCommit(ctx, r.Objects, id)
	if err != nil {
		return res, err
	}
	self, err := r.values(ctx, id)
	if err != nil {
		return res, fmt.Errorf("prove %s: %w", id.Short(), err)
	}
	st := &zk.Statement{Commit: id, ChunkSize: s.ChunkSize, Self: self}
	for _, p := range c.Parents {
		v, err := r.values(ctx, p)
		if err != nil {
			return res, fmt.Errorf("prove %s: parent %s: %w", id.Short(), p.Short(), err)
		}
		st.Parents = append(st.Parents, v)
		st.ParentIDs = append(st.ParentIDs, p)
	}
	switch len(c.Parents) {
	case 0:
	case 1:
		if !s.HasLinf {
			return res, fmt.Errorf("prove %s: zk.linf is not set (fed config zk.linf <largest change of one weight>)", id.Short())
		}
		if st.Linf, err = zk.QuantBound(s.Linf); err != nil {
			return res, err
		}
		if s.HasL2 {
			st.HasL2 = true
			if st.L2, err = zk.QuantBudget(s.L2); err != nil {
				return res, err
			}
		}
	default:
		if st.Weights, err = r.mergeWeights(ctx, c); err != nil {
			return res, fmt.Errorf("prove %s: %w", id.Short(), err)
		}
	}
	if opts.Setup {
		if _, err := cache.Setup(ctx, st.ShapeOf()); err != nil {
			return res, err
		}
	}
	var total int64
	var progressMu sync.Mutex // chunks report from several goroutines
	po := zk.ProveOptions{Workers: opts.Workers, Progress: func(done, n int) {
		progressMu.Lock()
		defer progressMu.Unlock()
		if total == 0 {
			total = int64(n)
			r.Progress.Start("proving "+id.Short(), total, "chunks")
		}
		r.Progress.Add(1)
	}}
	body, err := cache.Prove(ctx, st, po)
	if total > 0 {
		r.Progress.Done()
	}
	if err != nil {
		return res, err
	}
	vk, err := cache.VerifyingKey(st.ShapeOf())
	if err != nil {
		return res, err
	}
	vkID, err := r.Objects.Put(ctx, objects.EncodeChunk(vk.Raw), objects.PutOptions{})
	if err != nil {
		return res, err
	}
	pid, err := objects.Write(ctx, r.Objects, &objects.Proof{Commit: id, System: zk.System, Needs: []objects.ID{vkID}, Body: body.Encode()})
	if err != nil {
		return res, err
	}
	old, err := r.Refs.Read(repo.ProofRef(id))
	if err != nil && !errors.Is(err, refs.ErrNotFound) {
		return res, err
	}
	if err := r.Refs.Update(repo.ProofRef(id), old, pid, r.Entry("prove: "+body.Kind.String())); err != nil {
		return res, err
	}
	res.Proof, res.Kind, res.Chunks, res.Keys = pid, body.Kind.String(), len(body.Proofs), vk.Origin.String()
	return res, nil
}

// mergeWeights returns the integer weights of merge commit c: its
// repo.MetaMergeWeights, else its parents' samples when all are positive, else
// all ones. ok is false when the parents needed for samples are absent.
func (r prepo) mergeWeights(ctx context.Context, c *objects.Commit) ([]uint64, error) {
	if v, ok := c.Value(repo.MetaMergeWeights); ok {
		parts := strings.Split(v, ",")
		if len(parts) != len(c.Parents) {
			return nil, fmt.Errorf("%s %q: %d weights for %d parents", repo.MetaMergeWeights, v, len(parts), len(c.Parents))
		}
		w := make([]uint64, len(parts))
		for i, p := range parts {
			x, err := strconv.ParseUint(strings.TrimSpace(p), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%s %q: %w", repo.MetaMergeWeights, v, err)
			}
			w[i] = x
		}
		return w, nil
	}
	w := make([]uint64, len(c.Parents))
	all := true
	for i, p := range c.Parents {
		pc, err := objects.ReadCommit(ctx, r.Objects, p)
		if err != nil {
			return nil, fmt.Errorf("merge weights: parent %s: %w", p.Short(), err)
		}
		n := repo.Samples(pc)
		all = all && n > 0
		w[i] = uint64(n)
	}
	if !all {
		for i := range w {
			w[i] = 1
		}
	}
	return w, nil
}

// revList resolves a revision or an A..B range to commit ids, oldest
// first. Commits missing from a shallow clone end the walk quietly.
func (r prepo) revList(ctx context.Context, revs string) ([]objects.ID, error) {
	from, to, isRange := strings.Cut(revs, "..")
	if !isRange {
		id, err := r.Resolve(ctx, revs)
		if err != nil {
			return nil, err
		}
		return []objects.ID{id}, nil
	}
	if to == "" {
		to = "HEAD"
	}
	stop := map[objects.ID]bool{}
	if from != "" {
		a, err := r.Resolve(ctx, from)
		if err != nil {
			return nil, err
		}
		if err := r.walk(ctx, a, func(id objects.ID, _ *objects.Commit) bool { stop[id] = true; return true }); err != nil {
			return nil, err
		}
	}
	b, err := r.Resolve(ctx, to)
	if err != nil {
		return nil, err
	}
	type entry struct {
		id objects.ID
		t  int64
	}
	var list []entry
	err = r.walk(ctx, b, func(id objects.ID, c *objects.Commit) bool {
		if stop[id] {
			return false
		}
		list = append(list, entry{id, c.Time})
		return true
	})
	if err != nil {
		return nil, err
	}
	sort.SliceStable(list, func(i, j int) bool { return list[i].t < list[j].t })
	out := make([]objects.ID, len(list))
	for i, e := range list {
		out[i] = e.id
	}
	return out, nil
}

// walk visits start and its ancestors once each; fn returns false to not
// descend. Absent commits (shallow clones) are skipped.
func (r prepo) walk(ctx context.Context, start objects.ID, fn func(objects.ID, *objects.Commit) bool) error {
	return graph.History{SkipAbsent: true}.Run(ctx, r.Objects, []objects.ID{start}, func(id objects.ID, c *objects.Commit) error {
		if !fn(id, c) {
			return graph.SkipParents
		}
		return nil
	})
}
