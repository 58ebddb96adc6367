package mergeexec

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/fed-vcs/fed/codec"
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/repo"
)

// shardSet is one version of a sharded safetensors model: the index file
// of a directory and the shards its weight_map names.
type shardSet struct {
	index  string            // repository path of the index
	shards []string          // repository paths of the shards, sorted
	where  map[string]string // tensor → shard path
	files  map[string]*repo.StoredModel
}

// readShardSet reads the sharded model whose index is at index in files;
// nil when it is not one (no such file, not JSON, a shard missing or not
// a safetensors model).
func (r *runner) readShardSet(ctx context.Context, files map[string]repo.TreeFile, index string) *shardSet {
	f, ok := files[index]
	if !ok || f.Kind != objects.KindBlob {
		return nil
	}
	var buf bytes.Buffer
	if objects.WriteFileTo(ctx, r.Objects, f.ID, &buf) != nil {
		return nil
	}
	var idx struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if json.Unmarshal(buf.Bytes(), &idx) != nil || len(idx.WeightMap) == 0 {
		return nil
	}
	s := &shardSet{index: index, where: map[string]string{}, files: map[string]*repo.StoredModel{}}
	dir := path.Dir(index)
	for t, shard := range idx.WeightMap {
		p := path.Join(dir, shard)
		if dir == "." {
			p = shard
		}
		s.where[t] = p
		if s.files[p] != nil {
			continue
		}
		sf, ok := files[p]
		if !ok || sf.Kind != objects.KindModel {
			return nil
		}
		m, err := objects.ReadModel(ctx, r.Objects, sf.ID)
		if err != nil || m.Format != codec.FormatSafetensors {
			return nil
		}
		sm, err := r.LoadModel(ctx, m)
		if err != nil {
			return nil
		}
		s.files[p] = sm
		s.shards = append(s.shards, p)
	}
	slices.Sort(s.shards)
	for t, p := range s.where {
		if s.files[p].Tensors[t] == nil {
			return nil // the index names a tensor its shard lacks
		}
	}
	return s
}

// sameTensors reports whether two sets hold the same tensors (names,
// dtypes, shapes).
func sameTensors(a, b *shardSet) bool {
	if len(a.where) != len(b.where) {
		return false
	}
	for n := range a.where {
		if _, ok := b.where[n]; !ok {
			return false
		}
		ta, _ := a.tensor(n)
		tb, _ := b.tensor(n)
		if ta.DType != tb.DType || !slices.Equal(ta.Shape, tb.Shape) {
			return false
		}
	}
	return true
}

// tensor returns a tensor of the set and its object id.
func (s *shardSet) tensor(name string) (*objects.Tensor, objects.ID) {
	sm := s.files[s.where[name]]
	return sm.Tensors[name], sm.IDs[name]
}

// planShardGroups merges each sharded safetensors model whose sides put
// its tensors in different shards (another max_shard_size) as one model:
// every side must hold the same tensors (names, dtypes, shapes); the
// result takes the base's sharding (the first side's when the base lacks
// the model or holds other tensors): its index file as it is, and each of
// its shards with its tensors merged across the sides' shards and its
// metadata merged key by key against the base's shard (each side's shard
// being the one that holds the shard's first tensor). Shards of the other
// shardings are not in the result. It returns the paths it settled
// (index, and every shard of the base and the sides); models whose sides
// shard alike are left to the per-file rules.
func (r *runner) planShardGroups(ctx context.Context, p *mergePlan, bf map[string]repo.TreeFile, sf []map[string]repo.TreeFile, conflict func(string, ...string)) (map[string]bool, error) {
	done := map[string]bool{}
	indexes := map[string]bool{}
	for _, m := range append([]map[string]repo.TreeFile{bf}, sf...) {
		for k := range m {
			if strings.HasSuffix(k, repo.IndexSuffix) {
				indexes[k] = true
			}
		}
	}
	for _, index := range slices.Sorted(maps.Keys(indexes)) {
		sides := make([]*shardSet, len(sf))
		sharded, alike := true, true
		for i, m := range sf {
			if sides[i] = r.readShardSet(ctx, m, index); sides[i] == nil {
				sharded = false
				break
			}
			if !maps.Equal(sides[i].where, sides[0].where) {
				alike = false
			}
		}
		if !sharded || alike {
			continue // per file: a model sharded alike on every side, or not a sharded model
		}
		base := r.readShardSet(ctx, bf, index)
		// the paths this settles
		group := map[string]bool{}
		for _, s := range append(slices.Clone(sides), base) {
			if s == nil {
				continue
			}
			group[s.index] = true
			for _, sh := range s.shards {
				group[sh] = true
			}
		}
		for q := range group {
			done[q] = true
		}
		// one side changed the model (the others hold the base's files):
		// that side's files, as the per-file rule would take them
		var changed []int
		for i, m := range sf {
			for q := range group {
				if f, ok := m[q]; f != bf[q] || ok != (bf[q] != repo.TreeFile{}) {
					changed = append(changed, i)
					break
				}
			}
		}
		if len(changed) == 1 {
			for q := range group {
				if f, ok := sf[changed[0]][q]; ok {
					p.result[q] = f
				}
			}
			continue
		}
		items, err := r.planShardSet(p, base, sides, bf, sf)
		if err != nil {
			return nil, err
		}
		if len(items) > 0 {
			// every path of the model is conflicted; the index names why
			for _, q := range slices.Sorted(maps.Keys(group)) {
				if q == index {
					conflict(q, items...)
				} else {
					conflict(q)
				}
			}
		}
	}
	return done, nil
}

// planShardSet plans one sharded model (see planShardGroups).
func (r *runner) planShardSet(p *mergePlan, base *shardSet, sides []*shardSet, bf map[string]repo.TreeFile, sf []map[string]repo.TreeFile) ([]string, error) {
	names := slices.Sorted(maps.Keys(sides[0].where))
	for _, s := range sides[1:] {
		if len(s.where) != len(names) {
			return []string{"(the sharded model's tensors differ between sides)"}, nil
		}
		for _, n := range names {
			t0, _ := sides[0].tensor(n)
			if _, ok := s.where[n]; !ok {
				return []string{fmt.Sprintf("%s (missing on one side)", n)}, nil
			}
			t, _ := s.tensor(n)
			if t.DType != t0.DType || !slices.Equal(t.Shape, t0.Shape) {
				return []string{fmt.Sprintf("%s (%s%v on one side, %s%v on another)", n, t0.DType, t0.Shape, t.DType, t.Shape)}, nil
			}
		}
	}
	tmpl, tmplFiles := sides[0], sf[0]
	if base != nil && sameTensors(base, sides[0]) {
		tmpl, tmplFiles = base, bf
	}
	p.result[tmpl.index] = tmplFiles[tmpl.index]
	for _, shard := range tmpl.shards {
		sm := tmpl.files[shard]
		// metadata: the base's shard against each side's shard holding
		// this shard's first tensor
		var first string
		for _, s := range sm.Model.Segments {
			if s.IsTensor() {
				first = s.Name
				break
			}
		}
		baseMeta := map[string]string{}
		if base != nil {
			if bs := base.files[shard]; bs != nil {
				baseMeta = bs.Details.Meta
			}
		}
		metas := make([]map[string]string, len(sides))
		for i, s := range sides {
			metas[i] = map[string]string{}
			if first != "" {
				metas[i] = s.files[s.where[first]].Details.Meta
			}
		}
		ours := baseMeta
		if !p.headIsBase {
			ours = metas[0]
		}
		merged, conflicts := mergeMetadata(baseMeta, metas, ours, p.metaPolicy)
		for i := range conflicts {
			conflicts[i].Path = shard
		}
		if p.metaPolicy == MetaFail && len(conflicts) > 0 {
			return []string{fmt.Sprintf("metadata key %q of %s (changed differently on several sides)", conflicts[0].Key, shard)}, nil
		}
		p.metaConflicts = append(p.metaConflicts, conflicts...)
		var edits []codec.Edit
		if !maps.Equal(merged, sm.Details.Meta) {
			var err error
			if edits, err = codec.SetMeta(sm.Reader, sm.Layout, merged); err != nil {
				return nil, fmt.Errorf("merge %s: %w", shard, err)
			}
		}
		pieces, err := codec.ApplyEdits(sm.Layout, sm.Raw, edits)
		if err != nil {
			return nil, fmt.Errorf("merge %s: %w", shard, err)
		}
		out := &objects.Model{Format: sm.Model.Format, Meta: sm.Model.Meta}
		for _, pc := range pieces {
			if pc.Tensor < 0 {
				id, _, err := p.w.Blob(bytes.NewReader(pc.Raw))
				if err != nil {
					return nil, fmt.Errorf("merge %s: %w", shard, err)
				}
				out.Segments = append(out.Segments, objects.Segment{ID: id, Size: uint64(len(pc.Raw))})
				out.Size += uint64(len(pc.Raw))
				continue
			}
			seg := sm.Model.Segments[pc.Tensor]
			t0, id0 := sides[0].tensor(seg.Name)
			seg.ID = id0
			same := true
			for _, s := range sides[1:] {
				if _, id := s.tensor(seg.Name); id != id0 {
					same = false
				}
			}
			if !same {
				job := &mergeJob{key: shard + "\x00" + seg.Name, path: shard, name: seg.Name, size: seg.Size, model: out,
					segIdx: len(out.Segments), dtype: t0.DType, shape: t0.Shape}
				for _, s := range sides {
					t, _ := s.tensor(seg.Name)
					job.sides = append(job.sides, t)
				}
				if base != nil {
					if _, ok := base.where[seg.Name]; ok {
						if bt, _ := base.tensor(seg.Name); bt.DType == job.dtype && slices.Equal(bt.Shape, job.shape) {
							job.base = bt
						}
					}
				}
				p.jobs = append(p.jobs, job)
			}
			out.Segments = append(out.Segments, seg)
			out.Size += seg.Size
		}
		p.models[shard] = out
		p.modes[shard] = objects.ModeFile
	}
	return nil, nil
}
