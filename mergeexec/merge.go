package mergeexec

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/fed-vcs/fed/merge"
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/repo"
)

// StateDir holds the server-optimiser state of merged models (fedavgm,
// fedadam, fedyogi, fedadagrad): for a model at PATH, StateDir/PATH is a
// safetensors file whose tensors are named "<tensor>/<state>" (e.g.
// "fc.weight/m"). It is versioned with the model like any file.
const StateDir = ".fedstate"

// Commit metadata a merge records, so that anyone can recompute it.
const (
	MetaMergeStrategy = "merge.strategy"
	MetaMergeParams   = "merge.params" // JSON object, sorted keys
	MetaMergeBase     = "merge.base"
	MetaMergeSides    = "merge.sides" // comma-separated commit ids in side order
	MetaMergeReport   = "merge.report"
	// MetaMergeMetadata lists the metadata keys of model files that
	// several sides changed differently: a JSON array of MetaConflict,
	// sorted by path and key; absent when there is none.
	MetaMergeMetadata = "merge.metadata"
)

// Options tune Merge.
type Options struct {
	Strategy string            // default fedavg
	Weights  []float64         // one per side; default samples, else equal
	Params   map[string]string // strategy parameters
	NoCommit bool              // stop before committing
	NoFF     bool              // make a merge commit even when a fast-forward would do
	Message  string
	// OnConflict settles conflicts by taking the file of one side: "ours"
	// (HEAD), "theirs" (the first named revision) or "base". Empty: stop
	// and record the conflicts in the index.
	OnConflict string
	// Metadata settles metadata keys of a model file changed differently
	// on several sides: MetaOurs (default), MetaBase, MetaUnion or
	// MetaFail (a conflict).
	Metadata string
}

// Validate checks the options.
func (o *Options) Validate() error {
	switch o.OnConflict {
	case "", "ours", "theirs", "base":
	default:
		return fmt.Errorf("--on-conflict %q: want ours, theirs or base", o.OnConflict)
	}
	switch o.Metadata {
	case "":
		o.Metadata = MetaOurs
	case MetaOurs, MetaBase, MetaUnion, MetaFail:
	default:
		return fmt.Errorf("--metadata %q: want ours, base, union or fail", o.Metadata)
	}
	if o.Strategy == "" {
		o.Strategy = merge.DefaultMethod
	}
	if !slices.Contains(merge.Strategies(), o.Strategy) {
		return fmt.Errorf("%w %q (one of %s)", merge.ErrUnknownStrategy, o.Strategy, strings.Join(merge.Strategies(), ", "))
	}
	return nil
}

// Result says what Merge did.
type Result struct {
	Commit      objects.ID   // the merge commit (or fast-forward target)
	UpToDate    bool         // nothing to merge
	FastForward bool         // HEAD moved to a descendant
	Base        objects.ID   // merge base
	Parents     []objects.ID // HEAD, then the named revisions
	Sides       []objects.ID // the commits averaged (HEAD only when it changed since the base)
	Weights     []float64    // raw weights, one per side
	Conflicts   []string     // "path" or "path: tensor"
	Report      *merge.Report
	// Metadata lists the metadata keys several sides changed differently
	// and what was kept.
	Metadata []MetaConflict
}

// Merge merges HEAD with revs (N-way). See doc/design.md §14 for the
// rules; in short: the merge base is the best common ancestor; when HEAD
// is the base, HEAD is not a side (a federated round); tensors present on
// every side with one dtype and shape are merged by the strategy; other
// differences are settled by three-way rules or are conflicts.
func Merge(ctx context.Context, r *repo.Repo, revs []string, opts Options) (*Result, error) {
	return (&runner{r}).merge(ctx, revs, opts)
}

// runner executes a merge or revert in one repository.
type runner struct{ *repo.Repo }

// merge runs a merge in named steps: resolve the sides; stop when they
// are merged already, or fast-forward when one contains the others; weigh
// the sides; plan and run the file and tensor merges (execute); settle
// conflicts as opts.OnConflict says; then update the working tree and
// commit, or record the merge state (conclude).
func (r *runner) merge(ctx context.Context, revs []string, opts Options) (*Result, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if len(revs) == 0 {
		return nil, fmt.Errorf("merge: name at least one revision")
	}
	if !opts.NoCommit && r.Key == nil {
		return nil, repo.ErrNoKey
	}
	unlock, err := r.LockWorktree()
	if err != nil {
		return nil, err
	}
	defer unlock()
	if r.MergeInProgress() {
		return nil, fmt.Errorf("%w: finish it with `fed merge --continue` or `fed merge --abort`", repo.ErrMergeInProgress)
	}
	head, _, err := r.Head()
	if err != nil {
		return nil, err
	}
	if head.IsZero() {
		return nil, fmt.Errorf("merge: HEAD has no commits yet")
	}
	res, revName, err := r.resolveSides(ctx, head, revs)
	if err != nil {
		return nil, err
	}
	others := slices.Clone(res.Parents[1:])
	if len(others) == 0 {
		res.UpToDate, res.Commit = true, head
		return res, nil
	}
	if !opts.NoFF {
		if x, ok, err := r.containsAll(ctx, head, others); err != nil {
			return nil, err
		} else if ok {
			if err := r.FastForward(ctx, "merge", head, x); err != nil {
				return nil, err
			}
			res.FastForward, res.Commit = true, x
			return res, nil
		}
	}
	if res.Base, err = r.MergeBase(ctx, res.Parents); err != nil {
		return nil, err
	}
	res.Sides = others
	if head != res.Base {
		res.Sides = append([]objects.ID{head}, others...)
	}
	if res.Weights, err = r.sideWeights(ctx, res.Sides, head, opts.Weights); err != nil {
		return nil, err
	}
	mopts := merge.Options{Strategy: opts.Strategy, Weights: res.Weights, Params: opts.Params, HasBase: !res.Base.IsZero()}
	if err := mopts.Validate(len(res.Sides)); err != nil {
		return nil, err
	}
	in, err := r.readInputs(ctx, res.Base, head, res.Sides)
	if err != nil {
		return nil, err
	}
	labels := make([]string, len(res.Sides))
	for i, s := range res.Sides {
		labels[i] = revName[s]
	}
	// the merged models' working-tree files, written while merging, stay
	// until the checkout in conclude has taken them
	pre := newPrebuild(r.Repo)
	defer pre.cleanup()
	plan, err := r.execute(ctx, in, head == res.Base, labels, opts.Metadata, mopts, pre)
	if err != nil {
		return nil, err
	}
	res.Report = plan.report
	if len(plan.conflicts) > 0 && opts.OnConflict != "" {
		if err := r.settleConflicts(ctx, plan, opts.OnConflict, in, others[0]); err != nil {
			return nil, err
		}
	}
	res.Conflicts = plan.conflicts
	res.Metadata = plan.metaConflicts
	meta := r.mergeMeta(res, mopts, plan.report)
	msg := opts.Message
	if msg == "" {
		msg = fmt.Sprintf("Merge %s with %s", strings.Join(revs, ", "), mopts.Strategy)
	}
	return res, r.conclude(ctx, res, plan, in, msg, meta, opts.NoCommit)
}

// resolveSides resolves revs and returns the result's parents: HEAD,
// then each named commit that HEAD does not contain, once, in the order
// named; and the name of each commit for conflict markers (HEAD's is
// "HEAD", another's the first name that resolved to it).
func (r *runner) resolveSides(ctx context.Context, head objects.ID, revs []string) (*Result, map[objects.ID]string, error) {
	res := &Result{Parents: []objects.ID{head}}
	revName := map[objects.ID]string{head: "HEAD"}
	for _, rev := range revs {
		id, err := r.Resolve(ctx, rev)
		if err != nil {
			return nil, nil, err
		}
		if _, ok := revName[id]; !ok {
			revName[id] = rev
		}
		if slices.Contains(res.Parents, id) {
			continue
		}
		merged, err := r.IsAncestor(ctx, id, head)
		if err != nil {
			return nil, nil, err
		}
		if !merged {
			res.Parents = append(res.Parents, id)
		}
	}
	return res, revName, nil
}

// containsAll returns the first of others that contains HEAD and all the
// others (a fast-forward target), if there is one.
func (r *runner) containsAll(ctx context.Context, head objects.ID, others []objects.ID) (objects.ID, bool, error) {
	for _, x := range others {
		all := true
		for _, y := range append([]objects.ID{head}, others...) {
			if ok, err := r.IsAncestor(ctx, y, x); err != nil {
				return objects.ZeroID, false, err
			} else if !ok {
				all = false
				break
			}
		}
		if all {
			return x, true, nil
		}
	}
	return objects.ZeroID, false, nil
}

// sideWeights returns the raw weight of each side: the given ones (one
// per side), else each side's samples when every side has them, else
// equal weights.
func (r *runner) sideWeights(ctx context.Context, sides []objects.ID, head objects.ID, given []float64) ([]float64, error) {
	if given != nil {
		if len(given) != len(sides) {
			return nil, &merge.WeightError{Index: -1, Msg: fmt.Sprintf("%d weights for %d sides (%s)", len(given), len(sides), sideNames(sides, head))}
		}
		return given, nil
	}
	weights := make([]float64, len(sides))
	all := true
	for i, s := range sides {
		c, err := objects.ReadCommit(ctx, r.Objects, s)
		if err != nil {
			return nil, err
		}
		n := repo.Samples(c)
		if n <= 0 {
			all = false
		}
		weights[i] = float64(n)
	}
	if !all {
		for i := range weights {
			weights[i] = 1
		}
	}
	return weights, nil
}

// inputs are the files of the commits a merge reads.
type inputs struct {
	bf, hf map[string]repo.TreeFile   // the base's, HEAD's
	sf     []map[string]repo.TreeFile // each side's
}

// readInputs reads the files of the base, of HEAD and of each side.
func (r *runner) readInputs(ctx context.Context, base, head objects.ID, sides []objects.ID) (*inputs, error) {
	in := &inputs{sf: make([]map[string]repo.TreeFile, len(sides))}
	var err error
	if in.bf, err = r.CommitFiles(ctx, base); err != nil {
		return nil, err
	}
	for i, s := range sides {
		if in.sf[i], err = r.CommitFiles(ctx, s); err != nil {
			return nil, err
		}
	}
	if in.hf, err = r.CommitFiles(ctx, head); err != nil {
		return nil, err
	}
	return in, nil
}

// execute plans the merge of every path, runs the strategy over the
// tensors it planned and stores everything: the plan's result holds the
// merged files, its conflicts what could not be merged. The working-tree
// files of merged models are completed in pre.
func (r *runner) execute(ctx context.Context, in *inputs, headIsBase bool, labels []string, metaPolicy string, mopts merge.Options, pre *prebuild) (*mergePlan, error) {
	w := objects.NewWriter(ctx, r.Objects)
	plan := newMergePlan(w, headIsBase, metaPolicy)
	plan.labels = labels
	// One flush for the merged objects instead of an fsync of each object
	// and its directory (design §13, batches), published before anything
	// refers to them: the working-tree files read them back, the commit or
	// merge state names them.
	var report *merge.Report
	disk, err := r.Disk()
	if err != nil {
		return nil, err
	}
	err = disk.InBatch(func() error {
		if err := r.planMerge(ctx, plan, in.bf, in.sf); err != nil {
			return err
		}
		var err error
		if report, err = r.runMerge(ctx, w, plan, mopts, len(in.sf), in.hf, pre); err != nil {
			return err
		}
		return w.Flush()
	})
	if err != nil {
		return nil, err
	}
	for path, m := range plan.finals {
		if err := pre.finish(ctx, path, m, plan.result[path].ID); err != nil {
			return nil, fmt.Errorf("merge %s: %w", path, err)
		}
	}
	plan.report = report
	return plan, nil
}

// settleConflicts resolves every conflicted path by taking one side's
// file (or its absence): "ours" HEAD's, "theirs" that of theirs (the
// first named revision), "base" the base's.
func (r *runner) settleConflicts(ctx context.Context, plan *mergePlan, onConflict string, in *inputs, theirs objects.ID) error {
	var pick map[string]repo.TreeFile
	switch onConflict {
	case "ours":
		pick = in.hf
	case "theirs":
		var err error
		if pick, err = r.CommitFiles(ctx, theirs); err != nil {
			return err
		}
	case "base":
		pick = in.bf
	}
	for _, p := range plan.conflictPaths {
		if f, ok := pick[p]; ok {
			plan.result[p] = f
		} else {
			delete(plan.result, p)
		}
	}
	plan.conflicts, plan.conflictPaths = nil, nil
	return nil
}

// conclude makes the index and working tree hold the merge's result and
// commits it; with conflicts (or noCommit) it stages them and records the
// merge state instead, conflicted paths keeping HEAD's version in the
// working tree (text files get conflict markers), and returns a
// *repo.ConflictError when there are conflicts.
func (r *runner) conclude(ctx context.Context, res *Result, plan *mergePlan, in *inputs, msg string, meta map[string]string, noCommit bool) error {
	result := plan.result
	for _, p := range plan.conflictPaths {
		if f, ok := plan.markers[p]; ok {
			result[p] = f
		} else if f, ok := in.hf[p]; ok {
			result[p] = f
		} else {
			delete(result, p)
		}
	}
	if err := r.CheckoutFiles(ctx, "merge", in.hf, result, false); err != nil {
		return err
	}
	if len(plan.conflictPaths) > 0 || noCommit {
		if err := r.stageConflicts(in.bf, in.hf, in.sf, res, plan.conflictPaths); err != nil {
			return err
		}
		if err := r.WriteMergeState(repo.MergeState{Head: res.Parents[0], Parents: res.Parents[1:], Message: msg, Meta: meta}); err != nil {
			return err
		}
		if len(plan.conflictPaths) > 0 {
			return &repo.ConflictError{Op: "merge", Items: plan.conflicts}
		}
		return nil
	}
	id, err := r.CommitLocked(ctx, repo.CommitOptions{Message: msg, Parents: res.Parents[1:], Meta: meta, AllowEmpty: true})
	if err != nil {
		return err
	}
	res.Commit = id
	return nil
}

func sideNames(sides []objects.ID, head objects.ID) string {
	var out []string
	for _, s := range sides {
		if s == head {
			out = append(out, "HEAD")
		} else {
			out = append(out, s.Short())
		}
	}
	return strings.Join(out, ", ")
}

// mergeMeta is what a merge commit records.
func (r *runner) mergeMeta(res *Result, mopts merge.Options, rep *merge.Report) map[string]string {
	params, _ := json.Marshal(mopts.Params) // encoding/json sorts map keys
	var sides []string
	for _, s := range res.Sides {
		sides = append(sides, s.String())
	}
	// weights per parent, in parent order: a parent that is not a side
	// (HEAD in a federated round) weighs 0
	var pw []string
	for _, p := range res.Parents {
		w := 0.0
		for i, s := range res.Sides {
			if s == p {
				w = res.Weights[i]
			}
		}
		pw = append(pw, strconv.FormatFloat(w, 'f', -1, 64))
	}
	meta := map[string]string{
		MetaMergeStrategy:     mopts.Strategy,
		MetaMergeParams:       string(params),
		MetaMergeBase:         res.Base.String(),
		MetaMergeSides:        strings.Join(sides, ","),
		repo.MetaMergeWeights: strings.Join(pw, ","),
	}
	if rep != nil {
		summary := struct {
			Sides    []merge.SideReport `json:"sides"`
			Selected []int              `json:"selected,omitempty"`
			Elements uint64             `json:"elements"`
		}{rep.Sides, rep.Selected, rep.Elements}
		b, _ := json.Marshal(summary)
		meta[MetaMergeReport] = string(b)
	}
	if len(res.Metadata) > 0 {
		b, _ := json.Marshal(res.Metadata)
		meta[MetaMergeMetadata] = string(b)
	}
	return meta
}

// stageConflicts records the sides of conflicted paths in the index:
// stage 1 base, 2 ours (HEAD), 3… the other sides in order.
func (r *runner) stageConflicts(bf, hf map[string]repo.TreeFile, sf []map[string]repo.TreeFile, res *Result, paths []string) error {
	if len(paths) == 0 {
		return nil
	}
	idx, err := r.ReadIndex()
	if err != nil {
		return err
	}
	for _, p := range paths {
		idx.Remove(p)
		add := func(stage uint8, f repo.TreeFile, ok bool) {
			if ok {
				idx.Entries = append(idx.Entries, repo.IndexEntry{Path: p, Stage: stage, Mode: f.Mode, Kind: f.Kind, ID: f.ID})
			}
		}
		b, ok := bf[p]
		add(1, b, ok)
		h, ok := hf[p]
		add(2, h, ok)
		st := uint8(3)
		for i, s := range res.Sides {
			if s == res.Parents[0] {
				continue
			}
			f, ok := sf[i][p]
			add(st, f, ok)
			st++
		}
	}
	return r.WriteIndex(idx)
}
