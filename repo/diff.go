package repo

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/fed-vcs/fed/codec"
	"github.com/fed-vcs/fed/internal/textdiff"
	"github.com/fed-vcs/fed/merge"
	"github.com/fed-vcs/fed/objects"
)

// DiffSide is one side of a diff: a commit, the index or the working tree.
type DiffSide struct {
	Commit   objects.ID
	Index    bool
	Worktree bool
	// File, with Commit, is one file of the commit (git's REV:PATH): Diff
	// of two such sides compares the two files, under the second's path.
	File string
}

// DiffOptions tune Diff.
type DiffOptions struct {
	Paths []string // limit to these repository paths (files or directories)
	Stats bool     // compute change statistics of changed float tensors
}

// FileDiff is one changed file.
type FileDiff struct {
	Path             string
	Status           byte // 'A' added, 'D' deleted, 'M' modified
	OldKind, NewKind objects.Kind
	OldID, NewID     objects.ID
	OldSize, NewSize int64
	Format           string // model format when either side is a model
	// Opaque: not a model on either side; no tensor-level diff.
	Opaque  bool
	Tensors []TensorDiff
	// Meta lists the file's metadata keys that changed (codec.Details:
	// safetensors __metadata__, ONNX producer fields and metadata_props),
	// sorted by key; only when both sides are models of one format.
	Meta []MetaChange
	// Text: both sides are text files (or absent), and Hunks is the
	// unified line diff from the old to the new (without ---/+++ lines).
	Text  bool
	Hunks string
}

// MetaChange is a metadata key whose value changed; nil is absent.
type MetaChange struct {
	Key      string
	Old, New *string
}

// TensorDiff is one changed tensor of a model file.
type TensorDiff struct {
	Name   string
	Status byte // 'A', 'D', 'M'; 'R' moved from another shard unchanged
	// MovedFrom names the shard of the same sharded model (see
	// shardGroups) the tensor was in on the old side, when it moved.
	MovedFrom          string
	OldID, NewID       objects.ID
	OldDType, NewDType objects.DType
	OldShape, NewShape []uint64
	// HasStats: the tensor is a float tensor of the same dtype and shape on
	// both sides and the statistics below were computed.
	HasStats bool
	Elements uint64
	Changed  uint64  // elements whose value differs
	L2       float64 // ‖new − old‖₂
	MaxAbs   float64 // max |new − old|
	// RelChange is ‖new − old‖₂ / ‖old‖₂ (+Inf when old is zero and new
	// is not).
	RelChange float64
	// Cosine is the cosine similarity of old and new (NaN when either is
	// zero).
	Cosine float64
}

// sideFile is a file on one side of a diff.
type sideFile struct {
	TreeFile
	path  string // on disk, for worktree files not in the store
	size  int64
	model *objects.Model // for models
}

// sideFiles lists the files of a side, limited to paths.
func (r *Repo) sideFiles(ctx context.Context, s DiffSide, paths []string) (map[string]*sideFile, error) {
	out := map[string]*sideFile{}
	keep := func(p string) bool {
		if len(paths) == 0 {
			return true
		}
		for _, q := range paths {
			if p == q || under(p, q) {
				return true
			}
		}
		return false
	}
	switch {
	case s.Worktree:
		idx, err := r.ReadIndex()
		if err != nil {
			return nil, err
		}
		ig, err := r.loadIgnore()
		if err != nil {
			return nil, err
		}
		files, err := r.scan("", ig)
		if err != nil {
			return nil, err
		}
		for p, fi := range files {
			e, tracked := idx.Find(p)
			if !tracked || !keep(p) {
				continue // like git diff: untracked files are not shown
			}
			sf := &sideFile{size: fi.Size()}
			if idx.clean(e, fi) {
				sf.TreeFile = TreeFile{Mode: e.Mode, Kind: e.Kind, ID: e.ID}
			} else {
				k, id, m, err := r.hashFile(ctx, r.abs(p), p)
				if err != nil {
					return nil, err
				}
				var probe IndexEntry
				statInfo(&probe, fi)
				sf.TreeFile = TreeFile{Mode: probe.Mode, Kind: k, ID: id}
				sf.path, sf.model = r.abs(p), m
			}
			out[p] = sf
		}
		// a file whose weights were withheld is missing on purpose: it
		// stands as the index has it, not as a deletion
		wf, err := r.withheldFiles()
		if err != nil {
			return nil, err
		}
		for _, e := range idx.Entries {
			if _, ok := files[e.Path]; !ok && e.Stage == 0 && keep(e.Path) && wf.file(ctx, e.Kind, e.ID) {
				out[e.Path] = &sideFile{TreeFile: TreeFile{Mode: e.Mode, Kind: e.Kind, ID: e.ID}}
			}
		}
		return out, nil
	case s.Index:
		idx, err := r.ReadIndex()
		if err != nil {
			return nil, err
		}
		for p, f := range indexFiles(idx) {
			if keep(p) {
				out[p] = &sideFile{TreeFile: f}
			}
		}
		return out, nil
	default:
		files, err := r.CommitFiles(ctx, s.Commit)
		if err != nil {
			return nil, err
		}
		if s.File != "" {
			if f, ok := files[s.File]; ok {
				out[s.File] = &sideFile{TreeFile: f}
			}
			return out, nil
		}
		for p, f := range files {
			if keep(p) {
				out[p] = &sideFile{TreeFile: f}
			}
		}
		return out, nil
	}
}

// load fills in the model object and size of a stored side file.
func (r *Repo) load(ctx context.Context, f *sideFile) error {
	if f.model != nil || f.path != "" {
		return nil
	}
	o, err := objects.Read(ctx, r.Objects, f.ID, 0)
	if err != nil {
		return err
	}
	switch o := o.(type) {
	case *objects.Model:
		f.model, f.size = o, int64(o.Size)
	case *objects.Blob:
		f.size = int64(o.Size)
	}
	return nil
}

// Diff compares two sides file by file and, for model files, tensor by
// tensor.
func (r *Repo) Diff(ctx context.Context, from, to DiffSide, opts DiffOptions) ([]FileDiff, error) {
	var paths []string
	for _, p := range opts.Paths {
		rel, err := r.rel(p)
		if err != nil {
			return nil, err
		}
		paths = append(paths, rel)
	}
	a, err := r.sideFiles(ctx, from, paths)
	if err != nil {
		return nil, err
	}
	b, err := r.sideFiles(ctx, to, paths)
	if err != nil {
		return nil, err
	}
	if from.File != "" && to.File != "" && from.File != to.File {
		if f, ok := a[from.File]; ok {
			delete(a, from.File)
			a[to.File] = f
		}
	}
	var names []string
	for p := range a {
		names = append(names, p)
	}
	for p := range b {
		if _, ok := a[p]; !ok {
			names = append(names, p)
		}
	}
	sort.Strings(names)
	var out []FileDiff
	for _, p := range names {
		fa, fb := a[p], b[p]
		if fa != nil && fb != nil && fa.ID == fb.ID && fa.Mode == fb.Mode {
			continue
		}
		d := FileDiff{Path: p}
		switch {
		case fa == nil:
			d.Status = 'A'
		case fb == nil:
			d.Status = 'D'
		default:
			d.Status = 'M'
		}
		for _, f := range []*sideFile{fa, fb} {
			if f == nil {
				continue
			}
			if err := r.load(ctx, f); err != nil {
				return nil, r.withheldError("diff", p, "compared tensor by tensor", err)
			}
		}
		if fa != nil {
			d.OldKind, d.OldID, d.OldSize = fa.Kind, fa.ID, fa.size
		}
		if fb != nil {
			d.NewKind, d.NewID, d.NewSize = fb.Kind, fb.ID, fb.size
		}
		var ma, mb *objects.Model
		if fa != nil {
			ma = fa.model
		}
		if fb != nil {
			mb = fb.model
		}
		if ma == nil && mb == nil {
			d.Opaque = true
			old, okA, err := r.sideText(ctx, fa)
			if err != nil {
				return nil, fmt.Errorf("diff %s: %w", p, err)
			}
			new, okB, err := r.sideText(ctx, fb)
			if err != nil {
				return nil, fmt.Errorf("diff %s: %w", p, err)
			}
			if okA && okB {
				d.Text, d.Hunks = true, textdiff.Unified(textdiff.Split(old), textdiff.Split(new), 3)
			}
		} else {
			if ma != nil {
				d.Format = ma.Format
			} else {
				d.Format = mb.Format
			}
			td, err := r.diffModels(ctx, fa, fb, opts.Stats)
			if err != nil {
				return nil, r.withheldError("diff", p, "compared tensor by tensor", err)
			}
			d.Tensors = td
			if ma != nil && mb != nil && ma.Format == mb.Format {
				if d.Meta, err = r.diffMeta(ctx, fa, fb); err != nil {
					return nil, r.withheldError("diff", p, "compared tensor by tensor", err)
				}
			}
		}
		out = append(out, d)
	}
	return joinShards(out), nil
}

// IndexSuffix ends the name of the index of a sharded safetensors model
// (Hugging Face: model.safetensors.index.json, whose weight_map names the
// shard of each tensor).
const IndexSuffix = ".safetensors.index.json"

// joinShards treats the shards of a sharded model as one model: the
// safetensors files of a directory that holds a file named
// *.safetensors.index.json on either side. A tensor removed from one
// shard and added to another of the same directory moved: it is listed
// once, in its new shard, with MovedFrom set and status 'R' when its
// data is unchanged ('M' otherwise); the removal is dropped.
func joinShards(diffs []FileDiff) []FileDiff {
	indexed := map[string]bool{}
	for _, d := range diffs {
		if strings.HasSuffix(d.Path, IndexSuffix) {
			indexed[path.Dir(d.Path)] = true
		}
	}
	shard := func(d *FileDiff) bool {
		return indexed[path.Dir(d.Path)] && d.Format == codec.FormatSafetensors
	}
	type loc struct{ file, tensor int }
	removed := map[string]loc{} // dir + NUL + tensor name
	for i := range diffs {
		if !shard(&diffs[i]) {
			continue
		}
		for j, t := range diffs[i].Tensors {
			if t.Status == 'D' {
				removed[path.Dir(diffs[i].Path)+"\x00"+t.Name] = loc{i, j}
			}
		}
	}
	drop := map[loc]bool{}
	for i := range diffs {
		if !shard(&diffs[i]) {
			continue
		}
		for j := range diffs[i].Tensors {
			t := &diffs[i].Tensors[j]
			l, ok := removed[path.Dir(diffs[i].Path)+"\x00"+t.Name]
			if t.Status != 'A' || !ok || l.file == i {
				continue
			}
			old := diffs[l.file].Tensors[l.tensor]
			drop[l] = true
			t.MovedFrom, t.OldID, t.OldDType, t.OldShape = diffs[l.file].Path, old.OldID, old.OldDType, old.OldShape
			t.Status = 'M'
			if t.OldID == t.NewID {
				t.Status = 'R'
			}
		}
	}
	if len(drop) == 0 {
		return diffs
	}
	for i := range diffs {
		var kept []TensorDiff
		for j, t := range diffs[i].Tensors {
			if !drop[loc{i, j}] {
				kept = append(kept, t)
			}
		}
		diffs[i].Tensors = kept
	}
	return diffs
}

// sideText returns the bytes of a file on one side of a diff (none when
// it is absent) and whether it is text (textdiff.IsText).
func (r *Repo) sideText(ctx context.Context, f *sideFile) ([]byte, bool, error) {
	if f == nil {
		return nil, true, nil
	}
	if f.size > textdiff.MaxSize {
		return nil, false, nil
	}
	var b []byte
	if f.path != "" {
		var err error
		if b, err = os.ReadFile(f.path); err != nil {
			return nil, false, err
		}
	} else {
		var buf bytes.Buffer
		if err := objects.WriteFileTo(ctx, r.Objects, f.ID, &buf); err != nil {
			return nil, false, err
		}
		b = buf.Bytes()
	}
	return b, textdiff.IsText(b), nil
}

// diffMeta compares the metadata of two model files.
func (r *Repo) diffMeta(ctx context.Context, fa, fb *sideFile) ([]MetaChange, error) {
	if sameRaw(fa, fb) {
		return nil, nil
	}
	ma, err := r.sideMeta(ctx, fa)
	if err != nil {
		return nil, err
	}
	mb, err := r.sideMeta(ctx, fb)
	if err != nil {
		return nil, err
	}
	keys := map[string]bool{}
	for k := range ma {
		keys[k] = true
	}
	for k := range mb {
		keys[k] = true
	}
	var out []MetaChange
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		va, okA := ma[k]
		vb, okB := mb[k]
		if okA == okB && va == vb {
			continue
		}
		c := MetaChange{Key: k}
		if okA {
			c.Old = &va
		}
		if okB {
			c.New = &vb
		}
		out = append(out, c)
	}
	return out, nil
}

// sideMeta returns the metadata of a model file on one side of a diff.
func (r *Repo) sideMeta(ctx context.Context, f *sideFile) (map[string]string, error) {
	if f.path == "" {
		sm, err := r.LoadModel(ctx, f.model)
		if err != nil {
			return nil, err
		}
		return sm.Details.Meta, nil
	}
	fh, err := os.Open(f.path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return nil, err
	}
	l, err := codec.Parse(fh, fi.Size(), f.path)
	if err != nil {
		return nil, err
	}
	det, err := codec.Describe(fh, l)
	if err != nil {
		return nil, err
	}
	return det.Meta, nil
}

// tensorRef is a tensor on one side: stored, or a range of a file.
type tensorRef struct {
	name   string
	id     objects.ID
	t      *objects.Tensor // stored tensors
	path   string          // worktree file
	offset int64
	info   codec.TensorInfo
}

func (r *Repo) tensorsOf(ctx context.Context, f *sideFile) (map[string]*tensorRef, []string, error) {
	out := map[string]*tensorRef{}
	var order []string
	if f == nil || f.model == nil {
		return out, nil, nil
	}
	var layout *codec.Layout
	if f.path != "" {
		fh, err := os.Open(f.path)
		if err != nil {
			return nil, nil, err
		}
		fi, err := fh.Stat()
		if err == nil {
			layout, err = codec.Parse(fh, fi.Size(), f.path)
		}
		fh.Close()
		if err != nil {
			return nil, nil, err
		}
	}
	for i, s := range f.model.Segments {
		if !s.IsTensor() {
			continue
		}
		tr := &tensorRef{name: s.Name, id: s.ID}
		if layout != nil {
			seg := layout.Segments[i]
			tr.path, tr.offset, tr.info = f.path, seg.Offset, *seg.Tensor
		}
		// A stored tensor is read when it differs (describe): a
		// comparison of models that share most tensors reads only the
		// others.
		out[s.Name] = tr
		order = append(order, s.Name)
	}
	return out, order, nil
}

// sameRaw reports whether fa and fb are stored models of one format whose
// raw segments (all but the tensors' bytes: headers, metadata) are the
// same objects: their metadata, which lives in raw segments (a codec's
// SetMeta edits only those), is then the same, and diffMeta need not
// load either model.
func sameRaw(fa, fb *sideFile) bool {
	if fa.path != "" || fb.path != "" || fa.model == nil || fb.model == nil || fa.model.Format != fb.model.Format {
		return false
	}
	raw := func(m *objects.Model) []objects.ID {
		var ids []objects.ID
		for _, s := range m.Segments {
			if !s.IsTensor() {
				ids = append(ids, s.ID)
			}
		}
		return ids
	}
	return slices.Equal(raw(fa.model), raw(fb.model))
}

// describe reads a stored tensor's object for its dtype and shape, once.
func (r *Repo) describe(ctx context.Context, tr *tensorRef) error {
	if tr.t != nil || tr.path != "" {
		return nil
	}
	t, err := objects.ReadTensor(ctx, r.Objects, tr.id)
	if err != nil {
		return fmt.Errorf("tensor %q: %w", tr.name, err)
	}
	tr.t = t
	tr.info = codec.TensorInfo{Name: tr.name, DType: t.DType, Shape: t.Shape}
	return nil
}

func (r *Repo) open(ctx context.Context, t *tensorRef) (io.ReadCloser, error) {
	if t.t != nil {
		return objects.TensorReader(ctx, r.Objects, t.t), nil
	}
	f, err := os.Open(t.path)
	if err != nil {
		return nil, err
	}
	n, _, _ := t.info.ByteLen()
	return struct {
		io.Reader
		io.Closer
	}{io.NewSectionReader(f, t.offset, n), f}, nil
}

func (r *Repo) diffModels(ctx context.Context, fa, fb *sideFile, stats bool) ([]TensorDiff, error) {
	ta, oa, err := r.tensorsOf(ctx, fa)
	if err != nil {
		return nil, err
	}
	tb, ob, err := r.tensorsOf(ctx, fb)
	if err != nil {
		return nil, err
	}
	var out []TensorDiff
	for _, name := range oa {
		x, y := ta[name], tb[name]
		if y != nil && x.id == y.id {
			continue
		}
		for _, tr := range []*tensorRef{x, y} {
			if tr != nil {
				if err := r.describe(ctx, tr); err != nil {
					return nil, err
				}
			}
		}
		d := TensorDiff{Name: name, Status: 'D', OldDType: x.info.DType, OldShape: x.info.Shape, OldID: x.id}
		if y != nil {
			d.Status, d.NewDType, d.NewShape, d.NewID = 'M', y.info.DType, y.info.Shape, y.id
			if stats && x.info.DType.IsFloat() && x.info.DType == y.info.DType && slices.Equal(x.info.Shape, y.info.Shape) {
				if err := r.tensorStats(ctx, x, y, &d); err != nil {
					return nil, fmt.Errorf("tensor %q: %w", name, err)
				}
			}
		}
		out = append(out, d)
	}
	for _, name := range ob {
		if _, ok := ta[name]; !ok {
			y := tb[name]
			if err := r.describe(ctx, y); err != nil {
				return nil, err
			}
			out = append(out, TensorDiff{Name: name, Status: 'A', NewDType: y.info.DType, NewShape: y.info.Shape, NewID: y.id})
		}
	}
	return out, nil
}

// TensorStats computes the change statistics of d, a tensor that Diff
// of two commits listed without DiffOptions.Stats, when they apply (a
// modified float tensor of one dtype and shape on both sides; otherwise
// d is left as it is): the numbers Diff with Stats gives, read from the
// object store. It lets a caller list a large comparison cheaply and
// compute the statistics of the tensors it shows.
func (r *Repo) TensorStats(ctx context.Context, d *TensorDiff) error {
	if d.HasStats || d.Status != 'M' || !d.OldDType.IsFloat() || d.OldDType != d.NewDType || !slices.Equal(d.OldShape, d.NewShape) {
		return nil
	}
	var side [2]*tensorRef
	for i, id := range []objects.ID{d.OldID, d.NewID} {
		t, err := objects.ReadTensor(ctx, r.Objects, id)
		if err != nil {
			return fmt.Errorf("tensor %q: %w", d.Name, err)
		}
		side[i] = &tensorRef{name: d.Name, id: id, t: t, info: codec.TensorInfo{Name: d.Name, DType: t.DType, Shape: t.Shape}}
	}
	if side[0].info.DType != d.OldDType || side[1].info.DType != d.NewDType {
		return fmt.Errorf("tensor %q: stored as %s and %s, listed as %s", d.Name, side[0].info.DType, side[1].info.DType, d.OldDType)
	}
	st := *d
	st.Elements, st.Changed, st.L2, st.MaxAbs, st.RelChange, st.Cosine = 0, 0, 0, 0, 0, 0
	if err := r.tensorStats(ctx, side[0], side[1], &st); err != nil {
		return fmt.Errorf("tensor %q: %w", d.Name, err)
	}
	*d = st
	return nil
}

// tensorStats streams both tensors and computes the change statistics,
// accumulating in float64 in element order.
func (r *Repo) tensorStats(ctx context.Context, x, y *tensorRef, d *TensorDiff) error {
	ra, err := r.open(ctx, x)
	if err != nil {
		return err
	}
	defer ra.Close()
	rb, err := r.open(ctx, y)
	if err != nil {
		return err
	}
	defer rb.Close()
	elem, _ := x.info.DType.Size()
	// Blocks of 1 MiB, or the whole tensor when smaller: models hold
	// thousands of tiny tensors (biases, norms).
	block := 1 << 20
	if n, known, err := x.info.ByteLen(); err == nil && known && n < int64(block) {
		block = int(max(n, int64(elem)))
	}
	var va, vb []float64
	var ss, aa, bb, ab float64
	err = objects.Lockstep(block, elem, []io.Reader{ra, rb}, func(blocks [][]byte) error {
		va = merge.DecodeFloats(x.info.DType, blocks[0], va)
		vb = merge.DecodeFloats(y.info.DType, blocks[1], vb)
		for i := range va {
			a, b := va[i], vb[i]
			diff := b - a
			if diff != 0 || math.IsNaN(diff) {
				d.Changed++
			}
			ss += float64(diff * diff)
			if ad := math.Abs(diff); ad > d.MaxAbs {
				d.MaxAbs = ad
			}
			aa += float64(a * a)
			bb += float64(b * b)
			ab += float64(a * b)
		}
		d.Elements += uint64(len(va))
		return nil
	})
	if err != nil {
		return err
	}
	d.HasStats = true
	d.L2 = math.Sqrt(ss)
	switch {
	case aa > 0:
		d.RelChange = d.L2 / math.Sqrt(aa)
	case ss > 0:
		d.RelChange = math.Inf(1)
	}
	d.Cosine = math.NaN()
	if aa > 0 && bb > 0 {
		d.Cosine = ab / (math.Sqrt(aa) * math.Sqrt(bb))
	}
	return nil
}
