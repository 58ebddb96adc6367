package mergeexec

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"sync"

	"github.com/fed-vcs/fed/codec"
	"github.com/fed-vcs/fed/codec/safetensors"
	"github.com/fed-vcs/fed/merge"
	"github.com/fed-vcs/fed/objects"
)

// A merge of more than manySides sides does not hold every side's piece
// at once (K × 4 MiB, a few times over, for K sides): it reads the pieces
// one side after another through a short queue (fetcher) and
//   - for the strategies package merge sums side by side (fedavg and its
//     weighted kin, merge.Merger.SideBySide), adds each to one float64
//     accumulator per element of the output piece;
//   - for the others (median, trimmed-mean, bulyan, ties, …, the krum
//     distances, integer and opaque tensors), keeps the K pieces of one
//     output piece in memory when they fit rowsBudget, else in a temporary
//     file in the repository's .fed directory, and feeds the strategy
//     slices of at most sliceBudget bytes over all sides.
//
// The results are the same bytes either way: package merge's output does
// not depend on piece size or on the order its loops take.
var (
	manySides   = 8        // more sides than this: read side by side
	rowsBudget  = 64 << 20 // K pieces held in memory up to this, else spilled
	sliceBudget = 32 << 20 // K slices of a spilled piece at a time
	// heldHook, when set (tests), receives every change of the bytes the
	// many-sided merge holds in piece buffers and rows.
	heldHook func(delta int64)
)

func held(delta int64) {
	if heldHook != nil {
		heldHook(delta)
	}
}

// fetchItem is bytes [lo, hi) of a tensor; a nil tensor reads as absent
// (nil data: zero optimiser state).
type fetchItem struct {
	t      *objects.Tensor
	lo, hi uint64
}

type fetched struct {
	item fetchItem
	done chan struct{}
	data []byte
	buf  []byte // the buffer behind data, for reuse
	err  error
}

// fetcher reads items in order, a few ahead, and hands them out in order.
type fetcher struct {
	ch     chan *fetched
	slots  chan struct{}
	free   chan []byte
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// fetchDepth is how many items may be read ahead or held: enough for two
// cores to decode while the merge holds a base and two state pieces.
func fetchDepth() int { return runtime.GOMAXPROCS(0) + 5 }

func startFetch(ctx context.Context, s objects.Store, items func(yield func(fetchItem) bool)) *fetcher {
	ctx, cancel := context.WithCancel(ctx)
	d := fetchDepth()
	f := &fetcher{ch: make(chan *fetched, d), slots: make(chan struct{}, d), free: make(chan []byte, d), cancel: cancel}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		defer close(f.ch)
		for it := range items {
			select {
			case f.slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			fe := &fetched{item: it, done: make(chan struct{})}
			var buf []byte
			select {
			case buf = <-f.free:
			default:
			}
			f.wg.Add(1)
			go func() {
				defer f.wg.Done()
				defer close(fe.done)
				if it.t == nil {
					return
				}
				fe.data, fe.buf, fe.err = readRange(ctx, s, it.t, it.lo, it.hi, buf)
				if fe.buf != nil {
					held(int64(cap(fe.buf)))
				}
			}()
			f.ch <- fe // never blocks: at most len(slots) are out
		}
	}()
	return f
}

// next returns the next item, read; want is what the caller expects.
func (f *fetcher) next(ctx context.Context, want fetchItem) (*fetched, error) {
	select {
	case fe, ok := <-f.ch:
		if !ok {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			return nil, fmt.Errorf("merge inputs ended early")
		}
		<-fe.done
		if fe.err == nil && fe.item != want {
			fe.err = fmt.Errorf("merge read %v, wanted %v", fe.item, want)
		}
		return fe, fe.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// release hands an item's buffer back for reuse and frees its slot.
func (f *fetcher) release(fe *fetched) {
	if fe == nil {
		return
	}
	if fe.buf != nil {
		held(-int64(cap(fe.buf)))
		select {
		case f.free <- fe.buf:
		default:
		}
	}
	fe.buf, fe.data = nil, nil
	<-f.slots
}

// stop cancels reads ahead and waits for them.
func (f *fetcher) stop() {
	f.cancel()
	for fe := range f.ch {
		<-fe.done
		if fe.buf != nil {
			held(-int64(cap(fe.buf)))
		}
	}
	f.wg.Wait()
}

// readRange returns bytes [lo, hi) of t: the decoded piece itself when the
// range is one whole piece (buf is decoded into when the store can), else
// a copy of the pieces' bytes it overlaps. whole is the buffer behind data.
func readRange(ctx context.Context, s objects.Store, t *objects.Tensor, lo, hi uint64, buf []byte) (data, whole []byte, err error) {
	ps := t.PieceSize
	if hi > t.Size || lo > hi || ps == 0 && lo != hi {
		return nil, nil, fmt.Errorf("tensor range [%d, %d) outside its %d bytes", lo, hi, t.Size)
	}
	if lo == hi {
		return []byte{}, nil, nil
	}
	if lo%ps == 0 && int(lo/ps) < len(t.Pieces) && t.PieceLen(int(lo/ps)) == hi-lo {
		b, err := readPieceInto(ctx, s, t, int(lo/ps), buf)
		if err != nil {
			return nil, nil, err
		}
		return b[objects.HeaderSize:], b, nil
	}
	n := int(hi - lo)
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	out := buf[:n]
	for i := int(lo / ps); uint64(i)*ps < hi; i++ {
		b, err := readPieceInto(ctx, s, t, i, nil)
		if err != nil {
			return nil, nil, err
		}
		p := b[objects.HeaderSize:]
		start := uint64(i) * ps
		a, e := max(lo, start), min(hi, start+uint64(len(p)))
		copy(out[a-lo:e-lo], p[a-start:e-start])
	}
	return out, out, nil
}

// rows holds the K sides' bytes of one output piece, in memory or in a
// temporary file, and hands them out in slices over all sides.
type rows struct {
	dir  string
	k, n int
	mem  []byte
	f    *os.File
	// unlinked: the file's name is gone already
	unlinked bool
	slab     []byte
	sides    [][]byte
	held     int64
}

// reset prepares for k rows of n bytes.
func (r *rows) reset(k, n int) error {
	r.k, r.n = k, n
	if k*n <= rowsBudget {
		if cap(r.mem) < k*n {
			r.hold(int64(k*n - cap(r.mem)))
			r.mem = make([]byte, k*n)
		}
		r.mem = r.mem[:k*n]
		return nil
	}
	if r.f == nil {
		f, err := os.CreateTemp(r.dir, "merge-rows-*")
		if err != nil {
			return fmt.Errorf("merge: temporary file for the sides' pieces: %w", err)
		}
		r.f = f
		// unlinked at once where the system lets an open file go (Unix):
		// then even a killed merge leaves nothing behind
		r.unlinked = os.Remove(f.Name()) == nil
	}
	return nil
}

func (r *rows) hold(d int64) {
	r.held += d
	held(d)
}

func (r *rows) spilled() bool { return r.k*r.n > rowsBudget }

// put stores row j.
func (r *rows) put(j int, data []byte) error {
	if len(data) != r.n {
		return fmt.Errorf("merge: side %d has %d bytes of a piece of %d", j, len(data), r.n)
	}
	if !r.spilled() {
		copy(r.mem[j*r.n:], data)
		return nil
	}
	if _, err := r.f.WriteAt(data, int64(j)*int64(r.n)); err != nil {
		return fmt.Errorf("merge: temporary file for the sides' pieces: %w", err)
	}
	return nil
}

// each calls fn with consecutive slices [lo, hi) of the rows (whole
// elements of size elem) and every row's bytes there.
func (r *rows) each(elem int, fn func(lo, hi int, sides [][]byte) error) error {
	if cap(r.sides) < r.k {
		r.sides = make([][]byte, r.k)
	}
	sides := r.sides[:r.k]
	if !r.spilled() {
		for j := range sides {
			sides[j] = r.mem[j*r.n : (j+1)*r.n]
		}
		return fn(0, r.n, sides)
	}
	step := max(elem, sliceBudget/r.k/elem*elem)
	if len(r.slab) < r.k*step {
		r.hold(int64(r.k*step - len(r.slab)))
		r.slab = make([]byte, r.k*step)
	}
	for lo := 0; lo < r.n; lo += step {
		hi := min(lo+step, r.n)
		for j := range sides {
			s := r.slab[j*step : j*step+hi-lo]
			if _, err := r.f.ReadAt(s, int64(j)*int64(r.n)+int64(lo)); err != nil {
				return fmt.Errorf("merge: temporary file for the sides' pieces: %w", err)
			}
			sides[j] = s
		}
		if err := fn(lo, hi, sides); err != nil {
			return err
		}
	}
	return nil
}

func (r *rows) close() {
	if r.f != nil {
		r.f.Close()
		if !r.unlinked {
			os.Remove(r.f.Name())
		}
		r.f = nil
	}
	held(-r.held)
	r.held, r.mem, r.slab = 0, nil, nil
}

// blocks cuts a job's tensor into the output's pieces.
func (tr *tensorRun) blocks(j *mergeJob) []fetchItem {
	ps := tr.w.PieceSize
	var out []fetchItem
	for lo := uint64(0); lo < j.size; lo += ps {
		out = append(out, fetchItem{lo: lo, hi: min(lo+ps, j.size)})
	}
	return out
}

func elemSize(dt objects.DType) int {
	if n, ok := dt.Size(); ok {
		return n
	}
	return 1
}

// observeModelMany is observeModel for many sides: every float tensor's
// pieces, all sides, in slices.
func (r *runner) observeModelMany(ctx context.Context, tr *tensorRun, m *merge.Merger, jobs []*mergeJob) error {
	var float []*mergeJob
	for _, j := range jobs {
		if j.dtype.IsFloat() && j.size > 0 {
			float = append(float, j)
		}
	}
	f := startFetch(ctx, r.Objects, func(yield func(fetchItem) bool) {
		for _, j := range float {
			for _, b := range tr.blocks(j) {
				for _, t := range j.sides {
					if !yield(fetchItem{t, b.lo, b.hi}) {
						return
					}
				}
			}
		}
	})
	defer f.stop()
	rs := &rows{dir: r.Dir}
	defer rs.close()
	for _, j := range float {
		piece := 0
		for _, b := range tr.blocks(j) {
			if err := tr.readRows(ctx, f, rs, j, b); err != nil {
				return mergeError(j, err)
			}
			err := rs.each(elemSize(j.dtype), func(_, _ int, sides [][]byte) error {
				err := m.ObserveModel(j.key, j.dtype, piece, sides)
				piece++
				return err
			})
			if err != nil {
				return mergeError(j, err)
			}
		}
	}
	return nil
}

// readRows reads every side's bytes of block b of job j into rs.
func (tr *tensorRun) readRows(ctx context.Context, f *fetcher, rs *rows, j *mergeJob, b fetchItem) error {
	if err := rs.reset(len(j.sides), int(b.hi-b.lo)); err != nil {
		return err
	}
	for s, t := range j.sides {
		fe, err := f.next(ctx, fetchItem{t, b.lo, b.hi})
		if err != nil {
			f.release(fe)
			return err
		}
		err = rs.put(s, fe.data)
		f.release(fe)
		if err != nil {
			return err
		}
	}
	return nil
}

// manyJob is what the many-sided last pass reads for one job.
type manyJob struct {
	j      *mergeJob
	rounds int
	sbs    bool              // side by side
	sides  []int             // the sides read by the merge pass, in order
	state  []*objects.Tensor // state tensors read (nil: zeros), HasState only
	blocks []fetchItem
}

// mergeJobsMany is mergeJobs for many sides.
func (tr *tensorRun) mergeJobsMany(ctx context.Context) error {
	m := tr.m
	var plan []*manyJob
	for _, j := range tr.p.jobs {
		elems := uint64(0)
		if sz, ok := j.dtype.Size(); ok {
			elems = j.size / uint64(sz)
		}
		mj := &manyJob{j: j, rounds: m.Rounds(j.dtype, elems), sbs: m.SideBySide(j.dtype), sides: m.Contributing(j.dtype), blocks: tr.blocks(j)}
		if len(tr.stateNames) > 0 && j.dtype.IsFloat() { // Tensor.HasState
			if _, ok := tr.state[j.path]; !ok {
				tr.state[j.path] = tr.r.readState(ctx, tr.hf, j.path)
			}
			for _, sn := range tr.stateNames {
				st := tr.state[j.path][j.name+"/"+sn]
				if st == nil || st.DType != j.dtype || st.Size != j.size {
					st = nil
				}
				mj.state = append(mj.state, st)
			}
		}
		plan = append(plan, mj)
	}
	f := startFetch(ctx, tr.r.Objects, func(yield func(fetchItem) bool) {
		for _, mj := range plan {
			j := mj.j
			base := j.readBase && j.base != nil
			for r := 0; r < mj.rounds; r++ {
				for _, b := range mj.blocks {
					if base && !yield(fetchItem{j.base, b.lo, b.hi}) {
						return
					}
					for _, t := range j.sides {
						if !yield(fetchItem{t, b.lo, b.hi}) {
							return
						}
					}
				}
			}
			for _, b := range mj.blocks {
				if base && !yield(fetchItem{j.base, b.lo, b.hi}) {
					return
				}
				for _, st := range mj.state {
					it := fetchItem{lo: b.lo, hi: b.hi}
					if st != nil {
						it.t = st
					}
					if !yield(it) {
						return
					}
				}
				for _, s := range mj.sides {
					if !yield(fetchItem{j.sides[s], b.lo, b.hi}) {
						return
					}
				}
			}
		}
	})
	defer f.stop()
	rs := &rows{dir: tr.r.Dir}
	defer rs.close()
	var pending []pendingTensor
	defer func() {
		for _, pt := range pending {
			pt.tw.Abort()
		}
	}()
	for _, mj := range plan {
		tw, err := tr.mergeMany(ctx, f, rs, mj)
		if err != nil {
			return mergeError(mj.j, err)
		}
		if tw != nil {
			pending = append(pending, pendingTensor{mj.j, tw})
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

// mergeMany runs the rounds and the merge pass of one job with many
// sides. A stateless job's writer comes back with every piece put, for
// the caller to finish; a stateful one is finished here.
func (tr *tensorRun) mergeMany(ctx context.Context, f *fetcher, rs *rows, mj *manyJob) (*objects.TensorWriter, error) {
	j := mj.j
	elems := uint64(0)
	if sz, ok := j.dtype.Size(); ok {
		elems = j.size / uint64(sz)
	}
	t, err := tr.m.Tensor(j.key, j.dtype, elems)
	if err != nil {
		return nil, err
	}
	elem := elemSize(j.dtype)
	base := j.readBase && j.base != nil
	var fes []*fetched // held for the current block
	releaseAll := func() {
		for _, fe := range fes {
			f.release(fe)
		}
		fes = fes[:0]
	}
	defer releaseAll()
	// holdNext reads the next item and keeps it for the block
	holdNext := func(want fetchItem) ([]byte, error) {
		fe, err := f.next(ctx, want)
		if err != nil {
			f.release(fe)
			return nil, err
		}
		fes = append(fes, fe)
		return fe.data, nil
	}
	sub := func(b []byte, lo, hi int) []byte {
		if b == nil {
			return nil
		}
		return b[lo:hi]
	}
	for round := 0; round < mj.rounds; round++ {
		piece := 0
		for _, b := range mj.blocks {
			var bb []byte
			if base {
				if bb, err = holdNext(fetchItem{j.base, b.lo, b.hi}); err != nil {
					return nil, err
				}
			}
			if err := tr.readRows(ctx, f, rs, j, b); err != nil {
				return nil, err
			}
			err := rs.each(elem, func(lo, hi int, sides [][]byte) error {
				err := t.Observe(round, piece, sub(bb, lo, hi), sides)
				piece++
				return err
			})
			releaseAll()
			if err != nil {
				return nil, err
			}
		}
	}
	// pieces are stored as deltas against the first parent's: HEAD's
	// tensor, which is the base when HEAD is not a side
	parent := j.sides[0]
	if tr.p.headIsBase && j.base != nil {
		parent = j.base
	}
	info := objects.TensorInfo{DType: j.dtype, Shape: j.shape, Size: j.size}
	tw, err := tr.w.StartTensor(info, parent)
	if err != nil {
		return nil, err
	}
	hasState := t.HasState()
	var sws []*objects.TensorWriter
	abort := func() {
		tw.Abort()
		for _, sw := range sws {
			sw.Abort()
		}
	}
	if hasState {
		for range tr.stateNames {
			sw, err := tr.w.StartTensor(info, parent)
			if err != nil {
				abort()
				return nil, err
			}
			sws = append(sws, sw)
		}
	}
	pf, off := tr.pre.segment(j.path, j.model, j.segIdx)
	piece := 0
	for _, b := range mj.blocks {
		n := int(b.hi - b.lo)
		var bb []byte
		if base {
			if bb, err = holdNext(fetchItem{j.base, b.lo, b.hi}); err != nil {
				abort()
				return nil, err
			}
		}
		var state, newState [][]byte
		for _, st := range mj.state {
			it := fetchItem{lo: b.lo, hi: b.hi}
			if st != nil {
				it.t = st
			}
			d, err := holdNext(it)
			if err != nil {
				abort()
				return nil, err
			}
			state = append(state, d)
		}
		out := tw.Piece()
		if len(out) != n {
			abort()
			return nil, fmt.Errorf("piece %d: %d input bytes for an output piece of %d", piece, n, len(out))
		}
		for _, sw := range sws {
			newState = append(newState, sw.Piece())
		}
		if !hasState {
			state, newState = nil, nil
		}
		if mj.sbs {
			err = tr.sumSides(ctx, f, t, mj, b, piece, bb, out, state, newState)
			piece++
		} else {
			if err = tr.readRows(ctx, f, rs, j, b); err == nil {
				err = rs.each(elem, func(lo, hi int, sides [][]byte) error {
					var st, ns [][]byte
					for i := range state {
						st = append(st, sub(state[i], lo, hi))
						ns = append(ns, newState[i][lo:hi])
					}
					err := t.MergePiece(piece, sub(bb, lo, hi), sides, st, out[lo:hi], ns)
					piece++
					return err
				})
			}
		}
		releaseAll()
		if err != nil {
			abort()
			return nil, err
		}
		tr.r.Progress.Add(int64(n))
		pf.writeAt(out, off)
		off += int64(n)
		if err := tw.Put(); err != nil {
			abort()
			return nil, err
		}
		for _, sw := range sws {
			if err := sw.Put(); err != nil {
				abort()
				return nil, err
			}
		}
	}
	if !t.Done() {
		abort()
		return nil, fmt.Errorf("incomplete: %w", merge.ErrOrder)
	}
	if pf != nil {
		pf.written[j.segIdx] = true
	}
	if !hasState {
		return tw, nil
	}
	id, _, err := tw.Finish()
	if err != nil {
		for _, sw := range sws {
			sw.Abort()
		}
		return nil, err
	}
	j.model.Segments[j.segIdx].ID = id
	for s, sn := range tr.stateNames {
		sid, _, err := sws[s].Finish()
		if err != nil {
			for _, sw := range sws[s+1:] {
				sw.Abort()
			}
			return nil, err
		}
		tr.newState[j.path] = append(tr.newState[j.path], safetensors.WriteTensor{
			Info: codec.TensorInfo{Name: j.name + "/" + sn, DType: j.dtype, Shape: j.shape}, Len: int64(j.size)})
		tr.newStateIDs[j.path] = append(tr.newStateIDs[j.path], sid)
	}
	return nil, nil
}

// sumSides merges block b side by side: each contributing side's piece is
// added to the strategy's accumulator and released at once.
func (tr *tensorRun) sumSides(ctx context.Context, f *fetcher, t *merge.Tensor, mj *manyJob, b fetchItem, piece int, base, out []byte, state, newState [][]byte) error {
	s, err := t.StartSum(piece, base, out)
	if err != nil {
		return err
	}
	for _, side := range mj.sides {
		fe, err := f.next(ctx, fetchItem{mj.j.sides[side], b.lo, b.hi})
		if err == nil {
			err = s.Add(side, fe.data)
		}
		f.release(fe)
		if err != nil {
			return err
		}
	}
	return s.Finish(state, newState)
}
