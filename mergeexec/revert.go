package mergeexec

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/fed-vcs/fed/merge"
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/repo"
)

// RevertOptions tune Revert.
type RevertOptions struct {
	// Mainline is the parent (1-based) a merge commit is reverted
	// against; required for merges, refused for other commits.
	Mainline int
	NoCommit bool   // update index and working tree only
	Message  string // default: Revert "<subject>"
}

// Revert undoes commit rev on top of HEAD: for every tensor, the result
// is HEAD − (rev − parent), computed in float64 and rounded once to the
// tensor's dtype. A tensor rev did not change stays bit-identical; one
// that HEAD still has exactly as rev left it goes back to the parent's
// bits exactly. Files that are not models revert like git: unchanged by
// rev → kept; unchanged since rev → the parent's version; otherwise a
// conflict.
func Revert(ctx context.Context, r *repo.Repo, rev string, opts RevertOptions) (objects.ID, error) {
	return (&runner{r}).revert(ctx, rev, opts)
}

func (r *runner) revert(ctx context.Context, rev string, opts RevertOptions) (objects.ID, error) {
	if !opts.NoCommit && r.Key == nil {
		return objects.ZeroID, repo.ErrNoKey
	}
	target, err := r.Resolve(ctx, rev)
	if err != nil {
		return objects.ZeroID, err
	}
	c, err := objects.ReadCommit(ctx, r.Objects, target)
	if err != nil {
		return objects.ZeroID, err
	}
	var parent objects.ID
	switch {
	case len(c.Parents) > 1 && opts.Mainline == 0:
		return objects.ZeroID, fmt.Errorf("commit %s is a merge; say which parent to revert to with -m N (1..%d)", target.Short(), len(c.Parents))
	case len(c.Parents) > 1:
		if opts.Mainline < 1 || opts.Mainline > len(c.Parents) {
			return objects.ZeroID, fmt.Errorf("commit %s has %d parents, not %d", target.Short(), len(c.Parents), opts.Mainline)
		}
		parent = c.Parents[opts.Mainline-1]
	case opts.Mainline != 0:
		return objects.ZeroID, fmt.Errorf("-m given, but commit %s is not a merge", target.Short())
	case len(c.Parents) == 1:
		parent = c.Parents[0]
	}
	unlock, err := r.LockWorktree()
	if err != nil {
		return objects.ZeroID, err
	}
	head, _, err := r.Head()
	if err != nil {
		return objects.ZeroID, err
	}
	hf, err := r.CommitFiles(ctx, head)
	if err != nil {
		unlock()
		return objects.ZeroID, err
	}
	cf, err := r.CommitFiles(ctx, target)
	if err != nil {
		unlock()
		return objects.ZeroID, err
	}
	pf, err := r.CommitFiles(ctx, parent)
	if err != nil {
		unlock()
		return objects.ZeroID, err
	}
	defer unlock()
	result, err := r.revertFiles(ctx, hf, cf, pf)
	if err == nil {
		err = r.CheckoutFiles(ctx, "revert", hf, result, false)
	}
	if err != nil {
		return objects.ZeroID, err
	}
	if opts.NoCommit {
		return objects.ZeroID, nil
	}
	msg := opts.Message
	if msg == "" {
		subject := strings.SplitN(c.Message, "\n", 2)[0]
		msg = fmt.Sprintf("Revert %q\n\nThis reverts commit %s.\n", subject, target)
		if opts.Mainline != 0 {
			msg = fmt.Sprintf("Revert %q\n\nThis reverts commit %s, reversing changes made to %s.\n", subject, target, parent)
		}
	}
	co := repo.CommitOptions{Message: msg, Meta: map[string]string{"revert": target.String()}}
	if err := co.Validate(); err != nil {
		return objects.ZeroID, err
	}
	return r.CommitLocked(ctx, co)
}

// revertFiles computes the file list after reverting c (from p) on h.
func (r *runner) revertFiles(ctx context.Context, h, c, p map[string]repo.TreeFile) (map[string]repo.TreeFile, error) {
	out := map[string]repo.TreeFile{}
	for k, v := range h {
		out[k] = v
	}
	paths := map[string]bool{}
	for k := range c {
		paths[k] = true
	}
	for k := range p {
		paths[k] = true
	}
	var conflicts []string
	w := objects.NewWriter(ctx, r.Objects)
	sorted := make([]string, 0, len(paths))
	for k := range paths {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, path := range sorted {
		cv, inC := c[path]
		pv, inP := p[path]
		hv, inH := h[path]
		switch {
		case inC == inP && cv == pv:
			continue // untouched by the commit
		case inH == inC && hv == cv:
			if inP {
				out[path] = pv
			} else {
				delete(out, path)
			}
			continue
		case inH && inC && inP && hv.Kind == objects.KindModel && cv.Kind == objects.KindModel && pv.Kind == objects.KindModel:
			id, cs, err := r.revertModel(ctx, w, hv.ID, cv.ID, pv.ID)
			if err != nil {
				return nil, fmt.Errorf("revert %s: %w", path, err)
			}
			if len(cs) > 0 {
				for _, t := range cs {
					conflicts = append(conflicts, path+": "+t)
				}
				continue
			}
			out[path] = repo.TreeFile{Mode: hv.Mode, Kind: objects.KindModel, ID: id}
		default:
			conflicts = append(conflicts, path)
		}
	}
	if len(conflicts) > 0 {
		return nil, &repo.ConflictError{Op: "revert", Items: conflicts}
	}
	if err := w.Flush(); err != nil {
		return nil, err
	}
	return out, nil
}

// revertModel reverts model c (from p) on model h segment by segment.
// The three must have the same structure (segment names and sizes).
func (r *runner) revertModel(ctx context.Context, w *objects.Writer, hid, cid, pid objects.ID) (objects.ID, []string, error) {
	var ms [3]*objects.Model
	for i, id := range []objects.ID{hid, cid, pid} {
		m, err := objects.ReadModel(ctx, r.Objects, id)
		if err != nil {
			return objects.ZeroID, nil, err
		}
		ms[i] = m
	}
	h, c, p := ms[0], ms[1], ms[2]
	same := func(a, b *objects.Model) bool {
		if a.Format != b.Format || len(a.Segments) != len(b.Segments) {
			return false
		}
		for i := range a.Segments {
			if a.Segments[i].Name != b.Segments[i].Name || a.Segments[i].Size != b.Segments[i].Size {
				return false
			}
		}
		return true
	}
	if !same(h, c) || !same(c, p) {
		return objects.ZeroID, []string{"(the tensor layout differs between HEAD, the commit and its parent)"}, nil
	}
	out := &objects.Model{Format: h.Format, Size: h.Size, Meta: h.Meta}
	var conflicts []string
	for i := range h.Segments {
		hs, cs, ps := h.Segments[i], c.Segments[i], p.Segments[i]
		seg := hs
		switch {
		case cs.ID == ps.ID:
		case hs.ID == cs.ID:
			seg.ID = ps.ID
		case !hs.IsTensor():
			conflicts = append(conflicts, "(file header)")
		default:
			id, err := r.revertTensor(ctx, w, hs.ID, cs.ID, ps.ID)
			if err != nil {
				conflicts = append(conflicts, fmt.Sprintf("%s (%v)", hs.Name, err))
				continue
			}
			seg.ID = id
		}
		out.Segments = append(out.Segments, seg)
	}
	if len(conflicts) > 0 {
		return objects.ZeroID, conflicts, nil
	}
	id, err := w.Object(out)
	return id, nil, err
}

// revertTensor computes h − (c − p) element-wise for float tensors of one
// dtype and shape.
func (r *runner) revertTensor(ctx context.Context, w *objects.Writer, hid, cid, pid objects.ID) (objects.ID, error) {
	var ts [3]*objects.Tensor
	for i, id := range []objects.ID{hid, cid, pid} {
		t, err := objects.ReadTensor(ctx, r.Objects, id)
		if err != nil {
			return objects.ZeroID, err
		}
		ts[i] = t
	}
	h := ts[0]
	for _, t := range ts[1:] {
		if t.DType != h.DType || !slices.Equal(t.Shape, h.Shape) {
			return objects.ZeroID, fmt.Errorf("dtype or shape changed")
		}
	}
	if !h.DType.IsFloat() {
		return objects.ZeroID, fmt.Errorf("changed on both sides and %s cannot be computed", h.DType)
	}
	elem, _ := h.DType.Size()
	streams := make([]io.Reader, 3)
	for i, t := range ts {
		rc := objects.TensorReader(ctx, r.Objects, t)
		defer rc.Close()
		streams[i] = rc
	}
	pr, pw := io.Pipe()
	go func() {
		var out []byte
		err := objects.Lockstep(1<<20, elem, streams, func(b [][]byte) error {
			out = slices.Grow(out[:0], len(b[0]))[:len(b[0])]
			if err := merge.Revert(h.DType, b[0], b[1], b[2], out); err != nil {
				return err
			}
			_, err := pw.Write(out)
			return err
		})
		pw.CloseWithError(err)
	}()
	id, _, err := w.Tensor(pr, objects.TensorInfo{DType: h.DType, Shape: h.Shape, Size: h.Size}, h)
	pr.Close()
	return id, err
}
