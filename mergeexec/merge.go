package mergeexec

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/fed-vcs/fed/codec"
	"github.com/fed-vcs/fed/codec/safetensors"
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
	defer func() {
		if unlock != nil {
			unlock()
		}
	}()
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
	res := &Result{Parents: []objects.ID{head}}
	var others []objects.ID
	revName := map[objects.ID]string{head: "HEAD"}
	for _, rev := range revs {
		id, err := r.Resolve(ctx, rev)
		if err != nil {
			return nil, err
		}
		if _, ok := revName[id]; !ok {
			revName[id] = rev
		}
		if slices.Contains(res.Parents, id) {
			continue
		}
		merged, err := r.IsAncestor(ctx, id, head)
		if err != nil {
			return nil, err
		}
		if !merged {
			others = append(others, id)
			res.Parents = append(res.Parents, id)
		}
	}
	if len(others) == 0 {
		res.UpToDate, res.Commit = true, head
		return res, nil
	}
	// fast-forward: HEAD and all others are contained in one of them
	if !opts.NoFF {
		for _, x := range others {
			all := true
			for _, y := range append([]objects.ID{head}, others...) {
				if ok, err := r.IsAncestor(ctx, y, x); err != nil {
					return nil, err
				} else if !ok {
					all = false
					break
				}
			}
			if all {
				if err := r.FastForward(ctx, "merge", head, x); err != nil {
					return nil, err
				}
				res.FastForward, res.Commit = true, x
				return res, nil
			}
		}
	}
	base, err := r.MergeBase(ctx, res.Parents)
	if err != nil {
		return nil, err
	}
	res.Base = base
	res.Sides = others
	if head != base {
		res.Sides = append([]objects.ID{head}, others...)
	}
	if opts.Weights != nil {
		if len(opts.Weights) != len(res.Sides) {
			return nil, &merge.WeightError{Index: -1, Msg: fmt.Sprintf("%d weights for %d sides (%s)", len(opts.Weights), len(res.Sides), sideNames(res.Sides, head))}
		}
		res.Weights = opts.Weights
	} else {
		res.Weights = make([]float64, len(res.Sides))
		all := true
		for i, s := range res.Sides {
			c, err := objects.ReadCommit(ctx, r.Objects, s)
			if err != nil {
				return nil, err
			}
			n := repo.Samples(c)
			if n <= 0 {
				all = false
			}
			res.Weights[i] = float64(n)
		}
		if !all {
			for i := range res.Weights {
				res.Weights[i] = 1
			}
		}
	}
	mopts := merge.Options{Strategy: opts.Strategy, Weights: res.Weights, Params: opts.Params, HasBase: !base.IsZero()}
	if err := mopts.Validate(len(res.Sides)); err != nil {
		return nil, err
	}
	// all inputs
	bf, err := r.CommitFiles(ctx, base)
	if err != nil {
		return nil, err
	}
	sf := make([]map[string]repo.TreeFile, len(res.Sides))
	for i, s := range res.Sides {
		if sf[i], err = r.CommitFiles(ctx, s); err != nil {
			return nil, err
		}
	}
	hf, err := r.CommitFiles(ctx, head)
	if err != nil {
		return nil, err
	}
	w := objects.NewWriter(ctx, r.Objects)
	plan := newMergePlan(w, head == base, opts.Metadata)
	for _, s := range res.Sides {
		plan.labels = append(plan.labels, revName[s])
	}
	if err := r.planMerge(ctx, plan, bf, sf); err != nil {
		return nil, err
	}
	pre := newPrebuild(r.Repo)
	defer pre.cleanup()
	report, err := r.runMerge(ctx, w, plan, mopts, len(res.Sides), hf, pre)
	if err != nil {
		return nil, err
	}
	if err := w.Flush(); err != nil {
		return nil, err
	}
	for path, m := range plan.finals {
		if err := pre.finish(ctx, path, m, plan.result[path].ID); err != nil {
			return nil, fmt.Errorf("merge %s: %w", path, err)
		}
	}
	res.Report = report
	result := plan.result
	if len(plan.conflicts) > 0 && opts.OnConflict != "" {
		var pick map[string]repo.TreeFile
		switch opts.OnConflict {
		case "ours":
			pick = hf
		case "theirs":
			if pick, err = r.CommitFiles(ctx, others[0]); err != nil {
				return nil, err
			}
		case "base":
			pick = bf
		}
		for _, p := range plan.conflictPaths {
			if f, ok := pick[p]; ok {
				result[p] = f
			} else {
				delete(result, p)
			}
		}
		plan.conflicts, plan.conflictPaths = nil, nil
	}
	res.Conflicts = plan.conflicts
	res.Metadata = plan.metaConflicts
	meta := r.mergeMeta(res, mopts, report)
	msg := opts.Message
	if msg == "" {
		msg = fmt.Sprintf("Merge %s with %s", strings.Join(revs, ", "), mopts.Strategy)
	}
	// conflicted paths keep HEAD's version in the working tree, text
	// files get conflict markers
	for _, p := range plan.conflictPaths {
		if f, ok := plan.markers[p]; ok {
			result[p] = f
		} else if f, ok := hf[p]; ok {
			result[p] = f
		} else {
			delete(result, p)
		}
	}
	if err := r.CheckoutFiles(ctx, "merge", hf, result, false); err != nil {
		return nil, err
	}
	if len(plan.conflictPaths) > 0 || opts.NoCommit {
		if err := r.stageConflicts(bf, hf, sf, res, plan.conflictPaths); err != nil {
			return nil, err
		}
		if err := r.WriteMergeState(repo.MergeState{Head: head, Parents: res.Parents[1:], Message: msg, Meta: meta}); err != nil {
			return nil, err
		}
		if len(plan.conflictPaths) > 0 {
			return res, &repo.ConflictError{Op: "merge", Items: plan.conflicts}
		}
		return res, nil
	}
	id, err := r.CommitLocked(ctx, repo.CommitOptions{Message: msg, Parents: res.Parents[1:], Meta: meta, AllowEmpty: true})
	if err != nil {
		return nil, err
	}
	res.Commit = id
	return res, nil
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

// mergeJob is one tensor the strategy merges.
type mergeJob struct {
	key   string // path + "\x00" + tensor name: the merge order
	path  string
	name  string
	dtype objects.DType
	shape []uint64
	size  uint64
	base  *objects.Tensor // nil when the base lacks it
	sides []*objects.Tensor
	// readBase: the strategy reads the base's bytes (else they are not
	// streamed at all)
	readBase bool
	// where the result goes
	model  *objects.Model
	segIdx int
}

type mergePlan struct {
	result        map[string]repo.TreeFile
	conflicts     []string
	conflictPaths []string
	jobs          []*mergeJob
	models        map[string]*objects.Model // path → model with tensor results to fill
	headIsBase    bool                      // HEAD is the merge base, not a side
	finals        map[string]*objects.Model // path → stored result model
	modes         map[string]uint32
	w             *objects.Writer // stores the raw segments planned
	metaPolicy    string          // Options.Metadata
	metaConflicts []MetaConflict  // sorted by path, then key
	labels        []string        // per side, for conflict markers
	// markers holds, per conflicted text file, the file with conflict
	// markers that the working tree gets
	markers map[string]repo.TreeFile
}

func newMergePlan(w *objects.Writer, headIsBase bool, metaPolicy string) *mergePlan {
	return &mergePlan{result: map[string]repo.TreeFile{}, models: map[string]*objects.Model{}, modes: map[string]uint32{},
		finals: map[string]*objects.Model{}, w: w, headIsBase: headIsBase, metaPolicy: metaPolicy, markers: map[string]repo.TreeFile{}}
}

// planMerge applies the file-level and structure rules and lists the
// tensors the strategy must merge.
func (r *runner) planMerge(ctx context.Context, p *mergePlan, bf map[string]repo.TreeFile, sf []map[string]repo.TreeFile) error {
	paths := map[string]bool{}
	for k := range bf {
		paths[k] = true
	}
	for _, m := range sf {
		for k := range m {
			paths[k] = true
		}
	}
	sorted := make([]string, 0, len(paths))
	for k := range paths {
		if !strings.HasPrefix(k, StateDir+"/") {
			sorted = append(sorted, k)
		}
	}
	sort.Strings(sorted)
	conflict := func(path string, items ...string) {
		p.conflictPaths = append(p.conflictPaths, path)
		if len(items) == 0 {
			p.conflicts = append(p.conflicts, path)
		}
		for _, it := range items {
			p.conflicts = append(p.conflicts, path+": "+it)
		}
	}
	done, err := r.planShardGroups(ctx, p, bf, sf, conflict)
	if err != nil {
		return err
	}
	for _, path := range sorted {
		if done[path] {
			continue
		}
		b, inB := bf[path]
		vals := make([]repo.TreeFile, len(sf))
		present := make([]bool, len(sf))
		allSame := true
		for i, m := range sf {
			vals[i], present[i] = m[path]
			if i > 0 && (present[i] != present[0] || vals[i] != vals[0]) {
				allSame = false
			}
		}
		if allSame {
			if present[0] {
				p.result[path] = vals[0]
			}
			continue
		}
		// three-way: the sides that differ from the base
		var changed []int
		for i := range sf {
			if present[i] != inB || vals[i] != b {
				changed = append(changed, i)
			}
		}
		if len(changed) == 1 || sameChange(changed, vals, present) {
			i := changed[0]
			if present[i] {
				p.result[path] = vals[i]
			}
			continue
		}
		// several sides changed it: a tensor-level merge when every side has
		// a model of one structure
		allModels := true
		for i := range sf {
			if !present[i] || vals[i].Kind != objects.KindModel {
				allModels = false
			}
		}
		if !allModels {
			clean, err := r.planText(ctx, p, path, b, inB, vals, present)
			if err != nil {
				return err
			}
			if !clean {
				conflict(path)
			}
			continue
		}
		items, err := r.planModel(ctx, p, path, b, inB, vals)
		if err != nil {
			return err
		}
		if len(items) > 0 {
			conflict(path, items...)
		}
	}
	sort.Slice(p.jobs, func(i, j int) bool { return p.jobs[i].key < p.jobs[j].key })
	return nil
}

// sameChange reports whether every changed side made the same change.
func sameChange(changed []int, vals []repo.TreeFile, present []bool) bool {
	for _, i := range changed[1:] {
		if present[i] != present[changed[0]] || vals[i] != vals[changed[0]] {
			return false
		}
	}
	return true
}

// planModel plans the merge of one model file changed on several sides.
// It returns conflict items, or queues jobs and a result model.
func (r *runner) planModel(ctx context.Context, p *mergePlan, path string, b repo.TreeFile, inB bool, vals []repo.TreeFile) ([]string, error) {
	ms := make([]*objects.Model, len(vals))
	for i, v := range vals {
		m, err := objects.ReadModel(ctx, r.Objects, v.ID)
		if err != nil {
			return nil, fmt.Errorf("merge %s: %w", path, err)
		}
		ms[i] = m
	}
	var bm *objects.Model
	if inB && b.Kind == objects.KindModel {
		if m, err := objects.ReadModel(ctx, r.Objects, b.ID); err == nil {
			bm = m
		}
	}
	ref := ms[0]
	for _, m := range ms[1:] {
		if m.Format != ref.Format {
			return []string{fmt.Sprintf("(a %s file on one side, a %s file on another)", ref.Format, m.Format)}, nil
		}
	}
	baseSeg := map[string]objects.Segment{}
	if bm != nil {
		for j, s := range bm.Segments {
			key := s.Name
			if key == "" {
				key = fmt.Sprintf("\x00raw%d", j)
			}
			baseSeg[key] = s
		}
	}
	if !sameSegments(ms) || rawClash(ms, baseSeg) {
		// the same model in containers that differ (names, order, zip
		// details, metadata), or models that differ
		return r.planContainer(ctx, p, path, bm, ms, vals[0].Mode)
	}
	out := &objects.Model{Format: ref.Format, Size: ref.Size, Meta: ref.Meta}
	var items []string
	for j, s := range ref.Segments {
		seg := s
		same := true
		for _, m := range ms[1:] {
			if m.Segments[j].ID != s.ID {
				same = false
			}
		}
		if same {
			out.Segments = append(out.Segments, seg)
			continue
		}
		if !s.IsTensor() {
			// raw bytes (a header) changed on one side only (rawClash)
			seg.ID = rawChange(ms, j, baseSeg)
			out.Segments = append(out.Segments, seg)
			continue
		}
		job := &mergeJob{key: path + "\x00" + s.Name, path: path, name: s.Name, size: s.Size, model: out, segIdx: len(out.Segments)}
		for i, m := range ms {
			t, err := objects.ReadTensor(ctx, r.Objects, m.Segments[j].ID)
			if err != nil {
				return nil, fmt.Errorf("merge %s: tensor %q: %w", path, s.Name, err)
			}
			if i == 0 {
				job.dtype, job.shape = t.DType, t.Shape
			} else if t.DType != job.dtype || !slices.Equal(t.Shape, job.shape) {
				items = append(items, fmt.Sprintf("%s (%s%v on one side, %s%v on another)", s.Name, job.dtype, job.shape, t.DType, t.Shape))
				job = nil
				break
			}
			job.sides = append(job.sides, t)
		}
		if job == nil {
			continue
		}
		// the base's tensor: read by strategies that need it, and the
		// delta parent of the result when HEAD is the base
		if bs, ok := baseSeg[s.Name]; ok {
			if t, err := objects.ReadTensor(ctx, r.Objects, bs.ID); err == nil && t.DType == job.dtype && slices.Equal(t.Shape, job.shape) {
				job.base = t
			}
		}
		out.Segments = append(out.Segments, seg) // ID filled by runMerge
		p.jobs = append(p.jobs, job)
	}
	if len(items) > 0 {
		return items, nil
	}
	p.models[path] = out
	p.modes[path] = vals[0].Mode
	return nil, nil
}

// sameSegments reports whether the models have the same segments (names
// and sizes) in the same order.
func sameSegments(ms []*objects.Model) bool {
	ref := ms[0]
	for _, m := range ms[1:] {
		if len(m.Segments) != len(ref.Segments) {
			return false
		}
		for j := range m.Segments {
			if m.Segments[j].Name != ref.Segments[j].Name || m.Segments[j].Size != ref.Segments[j].Size {
				return false
			}
		}
	}
	return true
}

// rawChange returns the id of raw segment j after the three-way rule: the
// base's when no side changed it, else the one change.
func rawChange(ms []*objects.Model, j int, baseSeg map[string]objects.Segment) objects.ID {
	bs, ok := baseSeg[fmt.Sprintf("\x00raw%d", j)]
	for _, m := range ms {
		if id := m.Segments[j].ID; !ok || id != bs.ID {
			return id
		}
	}
	return bs.ID
}

// rawClash reports whether several sides changed one raw segment of
// models with the same segments differently (or, where the base lacks
// it, hold different bytes).
func rawClash(ms []*objects.Model, baseSeg map[string]objects.Segment) bool {
	for j, s := range ms[0].Segments {
		if s.IsTensor() {
			continue
		}
		bs, ok := baseSeg[fmt.Sprintf("\x00raw%d", j)]
		var changed *objects.ID
		for _, m := range ms {
			id := m.Segments[j].ID
			if ok && id == bs.ID {
				continue
			}
			if changed != nil && *changed != id {
				return true
			}
			changed = &id
		}
	}
	return false
}

// jobStreams opens the base (nil when absent) and side streams of a job.
func (r *runner) jobStreams(ctx context.Context, j *mergeJob) (base io.ReadCloser, sides []io.ReadCloser) {
	if j.base != nil && j.readBase {
		base = objects.TensorReader(ctx, r.Objects, j.base)
	}
	for _, t := range j.sides {
		sides = append(sides, objects.TensorReader(ctx, r.Objects, t))
	}
	return base, sides
}

// eachPiece streams a job's inputs in lockstep blocks of one piece size
// and calls fn with piece index, base block (nil without base) and side
// blocks. Results of the merge package do not depend on the block size.
func (r *runner) eachPiece(ctx context.Context, j *mergeJob, extra []io.Reader, fn func(i int, base []byte, sides [][]byte, extra [][]byte) error) error {
	base, sides := r.jobStreams(ctx, j)
	defer func() {
		if base != nil {
			base.Close()
		}
		for _, s := range sides {
			s.Close()
		}
	}()
	var streams []io.Reader
	for _, s := range sides {
		streams = append(streams, s)
	}
	nb := 0
	if base != nil {
		streams = append(streams, base)
		nb = 1
	}
	streams = append(streams, extra...)
	elem, ok := j.dtype.Size()
	if !ok {
		elem = 1
	}
	k := len(sides)
	i := 0
	if j.size == 0 {
		return nil
	}
	return objects.Lockstep(objects.DefaultPieceSize, elem, streams, func(blocks [][]byte) error {
		var b []byte
		if nb == 1 {
			b = blocks[k]
		}
		err := fn(i, b, blocks[:k], blocks[k+nb:])
		i++
		return err
	})
}

// runMerge runs the strategy over the planned jobs, stores the merged
// tensors (and optimiser state) and fills the result models.
func (r *runner) runMerge(ctx context.Context, w *objects.Writer, p *mergePlan, mopts merge.Options, k int, hf map[string]repo.TreeFile, pre *prebuild) (*merge.Report, error) {
	for _, j := range p.jobs {
		if j.base == nil {
			mopts.HasBase = false
		}
		j.readBase = merge.NeedsBase(mopts.Strategy)
	}
	if merge.NeedsBase(mopts.Strategy) && !mopts.HasBase {
		for _, j := range p.jobs {
			if j.base == nil {
				return nil, fmt.Errorf("%w: strategy %s needs the merge base, which lacks %s tensor %q", merge.ErrNeedsBase, mopts.Strategy, j.path, j.name)
			}
		}
	}
	m, err := merge.New(mopts, k)
	if err != nil {
		return nil, err
	}
	var total uint64
	for _, j := range p.jobs {
		total += j.size
	}
	r.Progress.Start("merging", int64(total), "B")
	defer r.Progress.Done()
	if m.NeedsModelPass() {
		for _, j := range p.jobs {
			if !j.dtype.IsFloat() {
				continue
			}
			err := r.eachPiece(ctx, j, nil, func(i int, _ []byte, sides [][]byte, _ [][]byte) error {
				return m.ObserveModel(j.key, j.dtype, i, sides)
			})
			if err != nil {
				return nil, fmt.Errorf("merge %s tensor %q: %w", j.path, j.name, err)
			}
		}
	}
	if err := m.Plan(); err != nil {
		return nil, err
	}
	stateNames := m.StateNames()
	state := map[string]map[string]*objects.Tensor{} // path → state tensor name → tensor
	newState := map[string][]safetensors.WriteTensor{}
	newStateIDs := map[string][]objects.ID{}
	// output buffers, reused by every tensor: a pipe write returns only
	// once the writer has copied the bytes
	out := make([]byte, objects.DefaultPieceSize)
	ns := make([][]byte, len(stateNames))
	for s := range ns {
		ns[s] = make([]byte, objects.DefaultPieceSize)
	}
	// stateless strategies read the last pass's pieces straight from the
	// store, ahead across tensors (see mergefeed.go)
	var direct []*mergeJob
	isDirect := map[*mergeJob]bool{}
	if len(stateNames) == 0 {
		for _, j := range p.jobs {
			if j.size > 0 && j.aligned() {
				direct = append(direct, j)
				isDirect[j] = true
			}
		}
	}
	feed := r.startFeed(ctx, direct, 2)
	defer feed.stop()
	var pending []pendingTensor
	defer func() {
		for _, pt := range pending {
			pt.tw.Abort()
		}
	}()
	for _, j := range p.jobs {
		elems := uint64(0)
		if sz, ok := j.dtype.Size(); ok {
			elems = j.size / uint64(sz)
		}
		t, err := m.Tensor(j.key, j.dtype, elems)
		if err != nil {
			return nil, err
		}
		for round := 0; round < t.Rounds(); round++ {
			err := r.eachPiece(ctx, j, nil, func(i int, base []byte, sides [][]byte, _ [][]byte) error {
				return t.Observe(round, i, base, sides)
			})
			if err != nil {
				return nil, fmt.Errorf("merge %s tensor %q: %w", j.path, j.name, err)
			}
		}
		// pieces are stored as deltas against the first parent's: HEAD's
		// tensor, which is the base when HEAD is not a side
		parent := j.sides[0]
		if p.headIsBase && j.base != nil {
			parent = j.base
		}
		if isDirect[j] && !t.HasState() {
			tw, err := r.mergeDirect(ctx, w, feed, j, t, parent, pre)
			if err != nil {
				return nil, mergeError(j, err)
			}
			// its last pieces are still being hashed: finish it later,
			// without holding up the next tensor
			pending = append(pending, pendingTensor{j, tw})
			continue
		}
		// state inputs from HEAD's state file
		var extra []io.Reader
		var closers []io.Closer
		useState := t.HasState()
		if useState {
			if _, ok := state[j.path]; !ok {
				state[j.path] = r.readState(ctx, hf, j.path)
			}
			for _, sn := range stateNames {
				st := state[j.path][j.name+"/"+sn]
				if st == nil || st.DType != j.dtype || st.Size != j.size {
					extra = append(extra, &zeroReader{n: int64(j.size)})
					continue
				}
				rc := objects.TensorReader(ctx, r.Objects, st)
				closers = append(closers, rc)
				extra = append(extra, rc)
			}
		}
		// outputs: the merged tensor and each new state tensor, streamed
		// into the writer through pipes
		nOut := 1
		if useState {
			nOut += len(stateNames)
		}
		pws := make([]*io.PipeWriter, nOut)
		type outRes struct {
			id  objects.ID
			err error
		}
		results := make([]chan outRes, nOut)
		for o := 0; o < nOut; o++ {
			pr, pw := io.Pipe()
			pws[o] = pw
			results[o] = make(chan outRes, 1)
			go func(o int) {
				id, _, err := w.Tensor(pr, objects.TensorInfo{DType: j.dtype, Shape: j.shape, Size: j.size}, parent)
				pr.CloseWithError(err)
				results[o] <- outRes{id, err}
			}(o)
		}
		pf, off := pre.segment(j.path, j.model, j.segIdx)
		err = r.eachPiece(ctx, j, extra, func(i int, base []byte, sides [][]byte, st [][]byte) error {
			n := len(sides[0])
			var stIn, stOut [][]byte
			if useState {
				stIn = st
				stOut = make([][]byte, len(ns))
				for s := range ns {
					stOut[s] = ns[s][:n]
				}
			}
			if err := t.MergePiece(i, base, sides, stIn, out[:n], stOut); err != nil {
				return err
			}
			r.Progress.Add(int64(n))
			pf.writeAt(out[:n], off)
			off += int64(n)
			if _, err := pws[0].Write(out[:n]); err != nil {
				return err
			}
			for s := range stOut {
				if _, err := pws[1+s].Write(stOut[s]); err != nil {
					return err
				}
			}
			return nil
		})
		for _, c := range closers {
			c.Close()
		}
		for _, pw := range pws {
			pw.CloseWithError(err)
		}
		var ids []objects.ID
		for o := range results {
			res := <-results[o]
			if err == nil && res.err != nil {
				err = res.err
			}
			ids = append(ids, res.id)
		}
		if err != nil {
			return nil, mergeError(j, err)
		}
		j.model.Segments[j.segIdx].ID = ids[0]
		if pf != nil {
			pf.written[j.segIdx] = true
		}
		for s, sn := range stateNames {
			if !useState {
				break
			}
			newState[j.path] = append(newState[j.path], safetensors.WriteTensor{
				Info: codec.TensorInfo{Name: j.name + "/" + sn, DType: j.dtype, Shape: j.shape}, Len: int64(j.size)})
			newStateIDs[j.path] = append(newStateIDs[j.path], ids[1+s])
		}
	}
	for _, pt := range pending {
		id, _, err := pt.tw.Finish()
		if err != nil {
			return nil, mergeError(pt.j, err)
		}
		pt.j.model.Segments[pt.j.segIdx].ID = id
	}
	pending = nil
	if err := w.Flush(); err != nil { // the merged tensors, for the fixups to read
		return nil, err
	}
	for path, m := range p.models {
		m, err := r.fixupModel(ctx, w, m)
		if err != nil {
			return nil, fmt.Errorf("merge %s: %w", path, err)
		}
		id, err := w.Object(m)
		if err != nil {
			return nil, fmt.Errorf("merge %s: %w", path, err)
		}
		p.finals[path] = m
		p.result[path] = repo.TreeFile{Mode: p.modes[path], Kind: objects.KindModel, ID: id}
	}
	for path, ts := range newState {
		id, err := r.writeStateModel(w, ts, newStateIDs[path])
		if err != nil {
			return nil, fmt.Errorf("merge %s optimiser state: %w", path, err)
		}
		p.result[StateDir+"/"+path] = repo.TreeFile{Mode: objects.ModeFile, Kind: objects.KindModel, ID: id}
	}
	// state files of models this merge did not touch stay as HEAD has them
	for path, f := range hf {
		if strings.HasPrefix(path, StateDir+"/") {
			if _, ok := p.result[path]; !ok {
				p.result[path] = f
			}
		}
	}
	return m.Report(), nil
}

// mergeError describes a failure to merge job j's tensor.
func mergeError(j *mergeJob, err error) error {
	var ce *merge.ConflictError
	if errors.As(err, &ce) {
		return &repo.ConflictError{Op: "merge", Items: []string{fmt.Sprintf("%s: %s (%s values differ and cannot be averaged)", j.path, j.name, j.dtype)}}
	}
	return fmt.Errorf("merge %s tensor %q: %w", j.path, j.name, err)
}

// pendingTensor is a merged tensor whose pieces are all handed to the
// writer, finished once the last tensor is.
type pendingTensor struct {
	j  *mergeJob
	tw *objects.TensorWriter
}

// mergeDirect runs the last pass of a stateless strategy over job j with
// pieces from feed, merging each straight into the buffer the writer
// stores (and into the prebuilt working-tree file), and returns the
// tensor's writer, every piece put (Finish gives its id).
func (r *runner) mergeDirect(ctx context.Context, w *objects.Writer, feed *pieceFeed, j *mergeJob, t *merge.Tensor, parent *objects.Tensor, pre *prebuild) (*objects.TensorWriter, error) {
	tw, err := w.StartTensor(objects.TensorInfo{DType: j.dtype, Shape: j.shape, Size: j.size}, parent)
	if err != nil {
		return nil, err
	}
	pf, off := pre.segment(j.path, j.model, j.segIdx)
	for i := range j.sides[0].Pieces {
		ps, err := feed.next(ctx)
		if err == nil && ps == nil {
			err = fmt.Errorf("piece %d: merge inputs ended early", i)
		}
		if err != nil {
			tw.Abort()
			return nil, err
		}
		out := tw.Piece()
		if out == nil || len(out) != len(ps.sides[0]) {
			tw.Abort()
			return nil, fmt.Errorf("piece %d: %d input bytes for an output piece of %d", i, len(ps.sides[0]), len(out))
		}
		err = t.MergePiece(i, ps.base, ps.sides, nil, out, nil)
		feed.release(ps)
		if err != nil {
			tw.Abort()
			return nil, err
		}
		r.Progress.Add(int64(len(out)))
		pf.writeAt(out, off)
		off += int64(len(out))
		if err := tw.Put(); err != nil {
			return nil, err
		}
	}
	if pf != nil {
		pf.written[j.segIdx] = true
	}
	return tw, nil
}

// readState maps the tensors of HEAD's state file for a model path.
func (r *runner) readState(ctx context.Context, hf map[string]repo.TreeFile, path string) map[string]*objects.Tensor {
	out := map[string]*objects.Tensor{}
	f, ok := hf[StateDir+"/"+path]
	if !ok || f.Kind != objects.KindModel {
		return out
	}
	m, err := objects.ReadModel(ctx, r.Objects, f.ID)
	if err != nil {
		return out // a state file that is not a model: zero state
	}
	for _, s := range m.Segments {
		if s.IsTensor() {
			if t, err := objects.ReadTensor(ctx, r.Objects, s.ID); err == nil {
				out[s.Name] = t
			}
		}
	}
	return out
}

// writeStateModel assembles a safetensors file of state tensors from
// stored tensors, laid out as safetensors.Write would write it.
func (r *runner) writeStateModel(w *objects.Writer, ts []safetensors.WriteTensor, ids []objects.ID) (objects.ID, error) {
	header, order, err := safetensors.Plan(map[string]string{"fed": "optimizer-state"}, ts)
	if err != nil {
		return objects.ZeroID, err
	}
	hid, _, err := w.Blob(bytes.NewReader(header))
	if err != nil {
		return objects.ZeroID, err
	}
	m := &objects.Model{Format: codec.FormatSafetensors, Size: uint64(len(header))}
	m.Segments = append(m.Segments, objects.Segment{ID: hid, Size: uint64(len(header))})
	for _, i := range order {
		m.Segments = append(m.Segments, objects.Segment{Name: ts[i].Info.Name, ID: ids[i], Size: uint64(ts[i].Len)})
		m.Size += uint64(ts[i].Len)
	}
	return w.Object(m)
}

// zeroReader yields n zero bytes: the initial optimiser state.
type zeroReader struct{ n int64 }

func (z *zeroReader) Read(p []byte) (int, error) {
	if z.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > z.n {
		p = p[:z.n]
	}
	clear(p)
	z.n -= int64(len(p))
	return len(p), nil
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
