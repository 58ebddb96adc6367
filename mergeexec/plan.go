package mergeexec

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/fed-vcs/fed/merge"
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/repo"
)

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
	report        *merge.Report   // the strategy's, once run
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
