package mergeexec

import (
	"context"
	"fmt"
	"sync"

	"github.com/fed-vcs/fed/objects"
)

// The merge's last pass reads the pieces of every side (and of the base
// when the strategy uses it) straight from the store, a few pieces ahead
// across tensor boundaries, and hands the decoded bytes to the strategy
// without copying them through pipes. It applies to jobs whose inputs are
// cut into the same pieces (always, for tensors this fed wrote).

// pieceSet holds piece i of one job: the base's (nil when not read) and
// every side's data, once done is closed.
type pieceSet struct {
	done  chan struct{}
	base  []byte
	sides [][]byte
	err   error
	bufs  [][]byte // whole objects behind base and sides, for reuse
}

// aligned reports whether the job's inputs share one piece layout.
func (j *mergeJob) aligned() bool {
	if len(j.sides) == 0 {
		return false
	}
	ps := j.sides[0].PieceSize
	for _, t := range j.sides {
		if t.PieceSize != ps || t.Size != j.size || len(t.Pieces) != len(j.sides[0].Pieces) {
			return false
		}
	}
	if j.readBase && j.base != nil && (j.base.PieceSize != ps || j.base.Size != j.size) {
		return false
	}
	return true
}

// pieceFeed fetches the pieces of jobs in order, ahead sets in advance.
type pieceFeed struct {
	ch     chan *pieceSet
	cancel context.CancelFunc
	wg     sync.WaitGroup
	free   chan []byte // buffers of consumed sets, decoded into again
}

func (r *runner) startFeed(ctx context.Context, jobs []*mergeJob, ahead int) *pieceFeed {
	ctx, cancel := context.WithCancel(ctx)
	f := &pieceFeed{ch: make(chan *pieceSet, ahead), cancel: cancel, free: make(chan []byte, 64)}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		defer close(f.ch)
		for _, j := range jobs {
			for i := range j.sides[0].Pieces {
				ps := r.fetchSet(ctx, f, j, i)
				select {
				case f.ch <- ps:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return f
}

// fetchSet starts reading piece i of every input of j.
func (r *runner) fetchSet(ctx context.Context, f *pieceFeed, j *mergeJob, i int) *pieceSet {
	ps := &pieceSet{done: make(chan struct{}), sides: make([][]byte, len(j.sides))}
	var wg sync.WaitGroup
	var mu sync.Mutex
	get := func(t *objects.Tensor, dst *[]byte) {
		defer wg.Done()
		var buf []byte
		select {
		case buf = <-f.free:
		default:
		}
		b, err := readPieceInto(ctx, r.Objects, t, i, buf)
		mu.Lock()
		defer mu.Unlock()
		if err != nil && ps.err == nil {
			ps.err = err
		}
		if err == nil {
			*dst = b[objects.HeaderSize:]
			ps.bufs = append(ps.bufs, b)
		}
	}
	// A small piece (a bias, a norm) is read here, side after side: a
	// goroutine per side and piece cost more than the reads, and models
	// hold thousands of such tensors. Larger ones are read side by side.
	small := j.sides[0].PieceLen(i) < inlineRead
	start := func(t *objects.Tensor, dst *[]byte) {
		wg.Add(1)
		if small {
			get(t, dst)
		} else {
			go get(t, dst)
		}
	}
	for s, t := range j.sides {
		start(t, &ps.sides[s])
	}
	if j.readBase && j.base != nil {
		start(j.base, &ps.base)
	}
	if small {
		close(ps.done)
		return ps
	}
	go func() {
		wg.Wait()
		close(ps.done)
	}()
	return ps
}

// inlineRead is the piece size under which fetchSet reads a set's pieces
// one after the other in the feed's goroutine.
const inlineRead = 64 << 10

// readPieceInto returns the chunk object of piece i of t, checked against
// t, decoded into buf when the store can.
func readPieceInto(ctx context.Context, s objects.Store, t *objects.Tensor, i int, buf []byte) ([]byte, error) {
	id := t.Pieces[i]
	var b []byte
	var err error
	if ds, ok := s.(*objects.DiskStore); ok {
		b, err = ds.GetInto(ctx, id, buf)
	} else {
		b, err = s.Get(ctx, id)
	}
	if err != nil {
		return nil, err
	}
	if k, err := objects.PeekKind(b); err != nil || k != objects.KindChunk {
		return nil, &objects.CorruptError{ID: id, Err: fmt.Errorf("expected a chunk")}
	}
	if want := t.PieceLen(i); uint64(len(b)-objects.HeaderSize) != want {
		return nil, &objects.CorruptError{ID: id, Err: fmt.Errorf("chunk has %d bytes, its tensor says %d", len(b)-objects.HeaderSize, want)}
	}
	return b, nil
}

// release hands the buffers of a consumed set back for reuse.
func (f *pieceFeed) release(ps *pieceSet) {
	for _, b := range ps.bufs {
		select {
		case f.free <- b:
		default:
		}
	}
	ps.bufs, ps.sides, ps.base = nil, nil, nil
}

// next returns the next piece set, complete; nil, nil at the end.
func (f *pieceFeed) next(ctx context.Context) (*pieceSet, error) {
	select {
	case ps, ok := <-f.ch:
		if !ok {
			return nil, ctx.Err()
		}
		<-ps.done
		return ps, ps.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// stop cancels reads ahead and waits for the feeder.
func (f *pieceFeed) stop() {
	f.cancel()
	for ps := range f.ch {
		<-ps.done
	}
	f.wg.Wait()
}
