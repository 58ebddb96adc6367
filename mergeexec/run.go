package mergeexec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/fed-vcs/fed/codec"
	"github.com/fed-vcs/fed/codec/safetensors"
	"github.com/fed-vcs/fed/merge"
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/repo"
)

// runMerge runs the strategy over the planned jobs, stores the merged
// tensors (and optimiser state) and fills the result models.
func (r *runner) runMerge(ctx context.Context, w *objects.Writer, p *mergePlan, mopts merge.Options, k int, hf map[string]repo.TreeFile, pre *prebuild) (*merge.Report, error) {
	m, err := newMerger(p, mopts, k)
	if err != nil {
		return nil, err
	}
	var total uint64
	for _, j := range p.jobs {
		total += j.size
	}
	r.Progress.Start("merging", int64(total), "B")
	defer r.Progress.Done()
	tr := newTensorRun(r, w, p, m, hf, pre)
	many := k > manySides // see manysides.go
	if m.NeedsModelPass() {
		observe := r.observeModel
		if many {
			observe = func(ctx context.Context, m *merge.Merger, jobs []*mergeJob) error {
				return r.observeModelMany(ctx, tr, m, jobs)
			}
		}
		if err := observe(ctx, m, p.jobs); err != nil {
			return nil, err
		}
	}
	if err := m.Plan(); err != nil {
		return nil, err
	}
	mergeJobs := tr.mergeJobs
	if many {
		mergeJobs = tr.mergeJobsMany
	}
	if err := mergeJobs(ctx); err != nil {
		return nil, err
	}
	if err := w.Flush(); err != nil { // the merged tensors, for the fixups to read
		return nil, err
	}
	if err := r.finishModels(ctx, w, p); err != nil {
		return nil, err
	}
	if err := tr.storeState(); err != nil {
		return nil, err
	}
	return m.Report(), nil
}

// newMerger marks the jobs whose base the strategy reads and makes the
// strategy's Merger, refusing a strategy that needs a base a tensor
// lacks.
func newMerger(p *mergePlan, mopts merge.Options, k int) (*merge.Merger, error) {
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
	return merge.New(mopts, k)
}

// observeModel runs the model pass (krum and its kin): every float
// tensor, in job order.
func (r *runner) observeModel(ctx context.Context, m *merge.Merger, jobs []*mergeJob) error {
	for _, j := range jobs {
		if !j.dtype.IsFloat() {
			continue
		}
		err := r.eachPiece(ctx, j, nil, func(i int, _ []byte, sides [][]byte, _ [][]byte) error {
			return m.ObserveModel(j.key, j.dtype, i, sides)
		})
		if err != nil {
			return fmt.Errorf("merge %s tensor %q: %w", j.path, j.name, err)
		}
	}
	return nil
}

// finishModels completes every result model (fixups of raw bytes that
// depend on tensor bytes), stores it and puts it in the result.
func (r *runner) finishModels(ctx context.Context, w *objects.Writer, p *mergePlan) error {
	for path, m := range p.models {
		m, err := r.fixupModel(ctx, w, m)
		if err != nil {
			return fmt.Errorf("merge %s: %w", path, err)
		}
		id, err := w.Object(m)
		if err != nil {
			return fmt.Errorf("merge %s: %w", path, err)
		}
		p.finals[path] = m
		p.result[path] = repo.TreeFile{Mode: p.modes[path], Kind: objects.KindModel, ID: id}
	}
	return nil
}

// tensorRun is the last pass of a merge over its jobs: the strategy's
// merge of each tensor, stored as it comes, with the optimiser state of
// stateful strategies.
type tensorRun struct {
	r          *runner
	w          *objects.Writer
	p          *mergePlan
	m          *merge.Merger
	hf         map[string]repo.TreeFile // HEAD's files: the state read
	pre        *prebuild
	stateNames []string
	// state read, per model path: state tensor name → tensor
	state map[string]map[string]*objects.Tensor
	// state written, per model path, in job order
	newState    map[string][]safetensors.WriteTensor
	newStateIDs map[string][]objects.ID
	// output buffers, reused by every tensor: a pipe write returns only
	// once the writer has copied the bytes
	out []byte
	ns  [][]byte
}

func newTensorRun(r *runner, w *objects.Writer, p *mergePlan, m *merge.Merger, hf map[string]repo.TreeFile, pre *prebuild) *tensorRun {
	tr := &tensorRun{r: r, w: w, p: p, m: m, hf: hf, pre: pre, stateNames: m.StateNames(),
		state: map[string]map[string]*objects.Tensor{}, newState: map[string][]safetensors.WriteTensor{}, newStateIDs: map[string][]objects.ID{},
		out: make([]byte, objects.DefaultPieceSize)}
	tr.ns = make([][]byte, len(tr.stateNames))
	for s := range tr.ns {
		tr.ns[s] = make([]byte, objects.DefaultPieceSize)
	}
	return tr
}

// mergeJobs merges every job's tensor in job order and sets its segment
// in the result model.
func (tr *tensorRun) mergeJobs(ctx context.Context) error {
	// stateless strategies read the last pass's pieces straight from the
	// store, ahead across tensors (see mergefeed.go)
	var direct []*mergeJob
	isDirect := map[*mergeJob]bool{}
	if len(tr.stateNames) == 0 {
		for _, j := range tr.p.jobs {
			if j.size > 0 && j.aligned() {
				direct = append(direct, j)
				isDirect[j] = true
			}
		}
	}
	feed := tr.r.startFeed(ctx, direct, 2)
	defer feed.stop()
	var pending []pendingTensor
	defer func() {
		for _, pt := range pending {
			pt.tw.Abort()
		}
	}()
	for _, j := range tr.p.jobs {
		t, err := tr.startTensor(ctx, j)
		if err != nil {
			return err
		}
		// pieces are stored as deltas against the first parent's: HEAD's
		// tensor, which is the base when HEAD is not a side
		parent := j.sides[0]
		if tr.p.headIsBase && j.base != nil {
			parent = j.base
		}
		if isDirect[j] && !t.HasState() {
			tw, err := tr.r.mergeDirect(ctx, tr.w, feed, j, t, parent, tr.pre)
			if err != nil {
				return mergeError(j, err)
			}
			// its last pieces are still being hashed: finish it later,
			// without holding up the next tensor
			pending = append(pending, pendingTensor{j, tw})
			continue
		}
		if err := tr.mergeStreamed(ctx, j, t, parent); err != nil {
			return err
		}
	}
	for _, pt := range pending {
		id, _, err := pt.tw.Finish()
		if err != nil {
			return mergeError(pt.j, err)
		}
		pt.j.model.Segments[pt.j.segIdx].ID = id
	}
	pending = nil
	return nil
}

// startTensor starts the strategy's merge of job j's tensor and runs the
// rounds it observes before merging (ties, slerp, model-stock).
func (tr *tensorRun) startTensor(ctx context.Context, j *mergeJob) (*merge.Tensor, error) {
	elems := uint64(0)
	if sz, ok := j.dtype.Size(); ok {
		elems = j.size / uint64(sz)
	}
	t, err := tr.m.Tensor(j.key, j.dtype, elems)
	if err != nil {
		return nil, err
	}
	for round := 0; round < t.Rounds(); round++ {
		err := tr.r.eachPiece(ctx, j, nil, func(i int, base []byte, sides [][]byte, _ [][]byte) error {
			return t.Observe(round, i, base, sides)
		})
		if err != nil {
			return nil, fmt.Errorf("merge %s tensor %q: %w", j.path, j.name, err)
		}
	}
	return t, nil
}

// mergeStreamed runs the last pass over job j with its inputs streamed
// (and the optimiser state of a stateful strategy read from HEAD's state
// file and written anew), storing the merged tensor as a delta against
// parent.
func (tr *tensorRun) mergeStreamed(ctx context.Context, j *mergeJob, t *merge.Tensor, parent *objects.Tensor) error {
	useState := t.HasState()
	var extra []io.Reader
	var closers []io.Closer
	if useState {
		extra, closers = tr.stateInputs(ctx, j)
	}
	// outputs: the merged tensor and each new state tensor, streamed
	// into the writer through pipes
	nOut := 1
	if useState {
		nOut += len(tr.stateNames)
	}
	pws, results := tr.startOutputs(j, parent, nOut)
	pf, off := tr.pre.segment(j.path, j.model, j.segIdx)
	out, ns := tr.out, tr.ns
	err := tr.r.eachPiece(ctx, j, extra, func(i int, base []byte, sides [][]byte, st [][]byte) error {
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
		tr.r.Progress.Add(int64(n))
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
		return mergeError(j, err)
	}
	j.model.Segments[j.segIdx].ID = ids[0]
	if pf != nil {
		pf.written[j.segIdx] = true
	}
	for s, sn := range tr.stateNames {
		if !useState {
			break
		}
		tr.newState[j.path] = append(tr.newState[j.path], safetensors.WriteTensor{
			Info: codec.TensorInfo{Name: j.name + "/" + sn, DType: j.dtype, Shape: j.shape}, Len: int64(j.size)})
		tr.newStateIDs[j.path] = append(tr.newStateIDs[j.path], ids[1+s])
	}
	return nil
}

// stateInputs opens job j's optimiser state tensors from HEAD's state
// file, in StateNames order; a missing one (or one of another dtype or
// size) reads as zeros.
func (tr *tensorRun) stateInputs(ctx context.Context, j *mergeJob) ([]io.Reader, []io.Closer) {
	var extra []io.Reader
	var closers []io.Closer
	if _, ok := tr.state[j.path]; !ok {
		tr.state[j.path] = tr.r.readState(ctx, tr.hf, j.path)
	}
	for _, sn := range tr.stateNames {
		st := tr.state[j.path][j.name+"/"+sn]
		if st == nil || st.DType != j.dtype || st.Size != j.size {
			extra = append(extra, &zeroReader{n: int64(j.size)})
			continue
		}
		rc := objects.TensorReader(ctx, tr.r.Objects, st)
		closers = append(closers, rc)
		extra = append(extra, rc)
	}
	return extra, closers
}

// outResult is what storing one output tensor gave.
type outResult struct {
	id  objects.ID
	err error
}

// startOutputs starts storing n tensors of job j's dtype and shape (the
// merged tensor, then the state tensors), each read from a pipe, as
// deltas against parent; each result arrives on its channel once its pipe
// is closed.
func (tr *tensorRun) startOutputs(j *mergeJob, parent *objects.Tensor, n int) ([]*io.PipeWriter, []chan outResult) {
	pws := make([]*io.PipeWriter, n)
	results := make([]chan outResult, n)
	for o := 0; o < n; o++ {
		pr, pw := io.Pipe()
		pws[o] = pw
		results[o] = make(chan outResult, 1)
		go func(o int) {
			id, _, err := tr.w.Tensor(pr, objects.TensorInfo{DType: j.dtype, Shape: j.shape, Size: j.size}, parent)
			pr.CloseWithError(err)
			results[o] <- outResult{id, err}
		}(o)
	}
	return pws, results
}

// storeState stores the optimiser state files of the merged models and
// keeps HEAD's state files of models this merge did not touch.
func (tr *tensorRun) storeState() error {
	p := tr.p
	for path, ts := range tr.newState {
		id, err := tr.r.writeStateModel(tr.w, ts, tr.newStateIDs[path])
		if err != nil {
			return fmt.Errorf("merge %s optimiser state: %w", path, err)
		}
		p.result[StateDir+"/"+path] = repo.TreeFile{Mode: objects.ModeFile, Kind: objects.KindModel, ID: id}
	}
	for path, f := range tr.hf {
		if strings.HasPrefix(path, StateDir+"/") {
			if _, ok := p.result[path]; !ok {
				p.result[path] = f
			}
		}
	}
	return nil
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
		// the working-tree file is written by the worker that stores
		// the piece, beside other pieces' hashing and encoding
		at := off
		off += int64(len(out))
		if err := tw.PutThen(func(data []byte) { pf.writeAt(data, at) }); err != nil {
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
