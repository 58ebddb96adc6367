package mergeexec

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"

	"github.com/fed-vcs/fed/codec"
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/repo"
)

// Policies for metadata keys changed differently on several sides
// (Options.Metadata).
const (
	MetaOurs  = "ours"  // HEAD's value (the base's when HEAD is the base)
	MetaBase  = "base"  // the base's value
	MetaUnion = "union" // a JSON array of the sides' distinct values
	MetaFail  = "fail"  // a conflict
)

// MetaConflict is a metadata key of a model file that several sides
// changed differently, and what the merge kept. A nil value is an absent
// key.
type MetaConflict struct {
	Path  string    `json:"path"`
	Key   string    `json:"key"`
	Base  *string   `json:"base"`
	Sides []*string `json:"sides"`
	Kept  *string   `json:"kept"`
}

// tensorDiff describes how b's tensors differ from a's (names, dtypes,
// shapes), "" when they do not.
func tensorDiff(a, b *repo.StoredModel) string {
	names := slices.Sorted(maps.Keys(a.Tensors))
	for _, n := range names {
		tb, ok := b.Tensors[n]
		if !ok {
			return fmt.Sprintf("%s (missing on one side)", n)
		}
		ta := a.Tensors[n]
		if ta.DType != tb.DType || !slices.Equal(ta.Shape, tb.Shape) {
			return fmt.Sprintf("%s (%s%v on one side, %s%v on another)", n, ta.DType, ta.Shape, tb.DType, tb.Shape)
		}
	}
	for _, n := range slices.Sorted(maps.Keys(b.Tensors)) {
		if _, ok := a.Tensors[n]; !ok {
			return fmt.Sprintf("%s (missing on one side)", n)
		}
	}
	return ""
}

// planContainer plans the merge of a model file whose sides hold the same
// tensors (names, dtypes, shapes) and the same content besides them, but
// in containers that differ: archive names, record order, zip details,
// metadata. The result takes the container of the base (of the first
// side when the base's file does not hold the same model), the metadata
// merged key by key (mergeMetadata), and the tensors merged as usual.
func (r *runner) planContainer(ctx context.Context, p *mergePlan, path string, bm *objects.Model, ms []*objects.Model, mode uint32) ([]string, error) {
	sides := make([]*repo.StoredModel, len(ms))
	for i, m := range ms {
		sm, err := r.LoadModel(ctx, m)
		if err != nil {
			return nil, fmt.Errorf("merge %s: %w", path, err)
		}
		sides[i] = sm
	}
	ref := sides[0]
	for _, s := range sides[1:] {
		if d := tensorDiff(ref, s); d != "" {
			return []string{d}, nil
		}
	}
	for _, s := range sides[1:] {
		if !bytes.Equal(s.Details.Content, ref.Details.Content) {
			return []string{fmt.Sprintf("(the %s file's content besides tensors and metadata differs between sides)", ref.Model.Format)}, nil
		}
	}
	var base *repo.StoredModel
	if bm != nil && bm.Format == ref.Model.Format {
		if sm, err := r.LoadModel(ctx, bm); err == nil {
			base = sm
		}
	}
	tmpl := ref
	if base != nil && tensorDiff(base, ref) == "" && bytes.Equal(base.Details.Content, ref.Details.Content) {
		tmpl = base
	}
	// metadata, key by key
	baseMeta := map[string]string{}
	if base != nil {
		baseMeta = base.Details.Meta
	}
	metas := make([]map[string]string, len(sides))
	for i, s := range sides {
		metas[i] = s.Details.Meta
	}
	ours := baseMeta
	if !p.headIsBase {
		ours = metas[0]
	}
	merged, conflicts := mergeMetadata(baseMeta, metas, ours, p.metaPolicy)
	for i := range conflicts {
		conflicts[i].Path = path
	}
	if p.metaPolicy == MetaFail && len(conflicts) > 0 {
		var items []string
		for _, c := range conflicts {
			items = append(items, fmt.Sprintf("metadata key %q (changed differently on several sides)", c.Key))
		}
		return items, nil
	}
	var edits []codec.Edit
	if !maps.Equal(merged, tmpl.Details.Meta) {
		var err error
		if edits, err = codec.SetMeta(tmpl.Reader, tmpl.Layout, merged); err != nil {
			return nil, fmt.Errorf("merge %s: %w", path, err)
		}
	}
	pieces, err := codec.ApplyEdits(tmpl.Layout, tmpl.Raw, edits)
	if err != nil {
		return nil, fmt.Errorf("merge %s: %w", path, err)
	}
	out := &objects.Model{Format: tmpl.Model.Format, Meta: tmpl.Model.Meta}
	var jobs []*mergeJob
	for _, pc := range pieces {
		if pc.Tensor < 0 {
			id, _, err := p.w.Blob(bytes.NewReader(pc.Raw))
			if err != nil {
				return nil, fmt.Errorf("merge %s: %w", path, err)
			}
			out.Segments = append(out.Segments, objects.Segment{ID: id, Size: uint64(len(pc.Raw))})
			out.Size += uint64(len(pc.Raw))
			continue
		}
		seg := tmpl.Model.Segments[pc.Tensor]
		name := seg.Name
		seg.ID = sides[0].IDs[name]
		same := true
		for _, s := range sides[1:] {
			if s.IDs[name] != seg.ID {
				same = false
			}
		}
		out.Size += seg.Size
		if !same {
			t0 := sides[0].Tensors[name]
			job := &mergeJob{key: path + "\x00" + name, path: path, name: name, size: seg.Size, model: out, segIdx: len(out.Segments), dtype: t0.DType, shape: t0.Shape}
			for _, s := range sides {
				job.sides = append(job.sides, s.Tensors[name])
			}
			if base != nil {
				if t := base.Tensors[name]; t != nil && t.DType == job.dtype && slices.Equal(t.Shape, job.shape) {
					job.base = t
				}
			}
			jobs = append(jobs, job)
		}
		out.Segments = append(out.Segments, seg)
	}
	p.jobs = append(p.jobs, jobs...)
	p.models[path] = out
	p.modes[path] = mode
	p.metaConflicts = append(p.metaConflicts, conflicts...)
	return nil, nil
}

// mergeMetadata merges the sides' metadata maps key by key against the
// base's, as a three-way merge of a map: a key no side changed keeps the
// base's value, a key every changing side changed alike takes that change
// (absence included), and a key changed differently on several sides is
// settled by policy: MetaOurs takes ours' value (HEAD's), MetaBase the
// base's, MetaUnion a JSON array of the changing sides' distinct present
// values in side order; each such key is returned, sorted by key.
func mergeMetadata(base map[string]string, sides []map[string]string, ours map[string]string, policy string) (map[string]string, []MetaConflict) {
	keys := map[string]bool{}
	for k := range base {
		keys[k] = true
	}
	for _, m := range sides {
		for k := range m {
			keys[k] = true
		}
	}
	ptr := func(m map[string]string, k string) *string {
		if v, ok := m[k]; ok {
			return &v
		}
		return nil
	}
	eq := func(a, b *string) bool { return a == nil && b == nil || a != nil && b != nil && *a == *b }
	out := map[string]string{}
	var conflicts []MetaConflict
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		b := ptr(base, k)
		var vals []*string
		var changed []*string
		for _, m := range sides {
			v := ptr(m, k)
			vals = append(vals, v)
			if !eq(v, b) {
				changed = append(changed, v)
			}
		}
		kept := b
		if len(changed) > 0 {
			kept = changed[0]
			for _, v := range changed[1:] {
				if !eq(v, changed[0]) {
					c := MetaConflict{Key: k, Base: b, Sides: vals}
					switch policy {
					case MetaBase, MetaFail:
						kept = b
					case MetaUnion:
						var distinct []string
						for _, v := range changed {
							if v != nil && !slices.Contains(distinct, *v) {
								distinct = append(distinct, *v)
							}
						}
						j, _ := json.Marshal(distinct)
						s := string(j)
						kept = &s
					default:
						kept = ptr(ours, k)
					}
					c.Kept = kept
					conflicts = append(conflicts, c)
					break
				}
			}
		}
		if kept != nil {
			out[k] = *kept
		}
	}
	sort.SliceStable(conflicts, func(i, j int) bool { return conflicts[i].Key < conflicts[j].Key })
	return out, conflicts
}
