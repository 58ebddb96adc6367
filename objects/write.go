package objects

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
)

// DefaultPieceSize is the size of tensor pieces: 4 MiB, a multiple of
// every element size.
const DefaultPieceSize = 4 << 20

// Writer stores the pieces of tensors and the chunks of blobs in parallel
// (hashing in the caller's goroutine, compression and disk writes in
// workers), with memory bounded by a few pieces per worker. Objects that
// refer to pieces are stored only after those pieces are, by Flush, so a
// crash never leaves an object whose references are missing.
type Writer struct {
	ctx       context.Context
	store     Store
	PieceSize uint64

	sem     chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex
	err     error
	pending [][]byte // encoded objects to store once their pieces are

	// Stats, updated atomically under mu.
	NewBytes   int64 // bytes of pieces and chunks handed to the store
	PieceCount int64
}

// NewWriter returns a Writer storing into s with one worker per CPU.
func NewWriter(ctx context.Context, s Store) *Writer {
	n := runtime.GOMAXPROCS(0)
	return &Writer{ctx: ctx, store: s, PieceSize: DefaultPieceSize, sem: make(chan struct{}, n+1)}
}

func (w *Writer) setErr(err error) {
	w.mu.Lock()
	if w.err == nil {
		w.err = err
	}
	w.mu.Unlock()
}

func (w *Writer) firstErr() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// put hands a chunk object (header included, buffer owned by the Writer
// from now on) to a worker.
func (w *Writer) put(id ID, obj []byte, opts PutOptions, release func()) {
	w.sem <- struct{}{}
	w.wg.Add(1)
	go func() {
		defer func() {
			release()
			<-w.sem
			w.wg.Done()
		}()
		if w.firstErr() != nil {
			return
		}
		var err error
		if ds, ok := w.store.(*DiskStore); ok {
			_, err = ds.putKnown(w.ctx, id, obj, opts)
		} else {
			_, err = w.store.Put(w.ctx, obj, opts)
		}
		if err != nil {
			w.setErr(err)
		}
	}()
}

func getChunkBuf(n int) []byte { return getBuf(n) }

func putChunkBuf(b []byte) { putBuf(b) }

// TensorInfo describes a tensor to store.
type TensorInfo struct {
	DType DType
	Shape []uint64
	Size  uint64
}

// Tensor reads info.Size bytes from r and stores them as a tensor. parent,
// when not nil, is the previous version of the same tensor: pieces of a
// float tensor with the same dtype and size are stored as deltas against
// the parent's pieces where that is smaller. The tensor object itself is
// stored by Flush.
func (w *Writer) Tensor(r io.Reader, info TensorInfo, parent *Tensor) (ID, *Tensor, error) {
	tw, err := w.StartTensor(info, parent)
	if err != nil {
		return ZeroID, nil, err
	}
	for {
		p := tw.Piece()
		if p == nil {
			break
		}
		if _, err := io.ReadFull(r, p); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			tw.Abort()
			return ZeroID, nil, fmt.Errorf("read tensor data: %w", err)
		}
		if err := tw.Put(); err != nil {
			return ZeroID, nil, err
		}
	}
	return tw.Finish()
}

// TensorWriter stores one tensor piece by piece without copying: the
// caller fills the buffer Piece returns and hands it over with Put.
type TensorWriter struct {
	w         *Writer
	t         *Tensor
	parent    *Tensor
	useParent bool
	elem      int
	off       uint64
	buf       []byte // the piece being filled, header included
	// hashed counts the pieces still being hashed by workers
	hashed sync.WaitGroup
}

// StartTensor begins storing a tensor (see Tensor for parent).
func (w *Writer) StartTensor(info TensorInfo, parent *Tensor) (*TensorWriter, error) {
	if w.PieceSize == 0 {
		return nil, fmt.Errorf("objects: writer piece size 0")
	}
	t := &Tensor{DType: info.DType, Shape: info.Shape, Size: info.Size, PieceSize: w.PieceSize}
	elem, ok := info.DType.Size()
	if !ok {
		elem = 0
	}
	if n := (info.Size + w.PieceSize - 1) / w.PieceSize; n > 0 {
		t.Pieces = make([]ID, n)
	}
	return &TensorWriter{w: w, t: t, parent: parent, elem: elem,
		useParent: parent != nil && info.DType.IsFloat() && parent.DType == info.DType &&
			parent.Size == info.Size && parent.PieceSize == w.PieceSize}, nil
}

// Piece returns the buffer of the next piece, exactly as long as that
// piece, or nil when every piece has been put. It stays the caller's
// until Put.
func (tw *TensorWriter) Piece() []byte {
	if tw.off >= tw.t.Size {
		return nil
	}
	if tw.buf == nil {
		n := min(tw.w.PieceSize, tw.t.Size-tw.off)
		tw.buf = getChunkBuf(HeaderSize + int(n))
		PutChunkHeader(tw.buf)
	}
	return tw.buf[HeaderSize:]
}

// Put hands the filled piece to the writer's workers; it fails with the
// writer's first error, after which the tensor must be abandoned.
func (tw *TensorWriter) Put() error { return tw.PutThen(nil) }

// PutThen is Put that also has the worker storing the piece call fn with
// its data (not to be modified or kept) before hashing it: a merge writes
// each merged piece into the working-tree file there, beside the hashing
// and encoding of other pieces, instead of on the goroutine that merges.
// fn is not called when the writer has already failed.
func (tw *TensorWriter) PutThen(fn func(data []byte)) error {
	w := tw.w
	buf := tw.buf
	if buf == nil {
		return fmt.Errorf("objects: tensor piece put without Piece")
	}
	tw.buf = nil
	if err := w.firstErr(); err != nil {
		putChunkBuf(buf)
		tw.hashed.Wait()
		return err
	}
	n := uint64(len(buf) - HeaderSize)
	i := int(tw.off / w.PieceSize)
	tw.off += n
	tw.hashed.Add(1)
	pieces, parent, useParent, elem := tw.t.Pieces, tw.parent, tw.useParent, tw.elem
	w.putHashing(buf, fn, func(id ID) PutOptions {
		pieces[i] = id
		tw.hashed.Done()
		opts := PutOptions{ElemSize: elem}
		if useParent {
			if parent.Pieces[i] == id {
				// Unchanged piece: already stored, but put it again so
				// that the store refreshes it (a concurrent gc spares
				// recently written or reused objects, and the parent
				// may be unreachable).
				return PutOptions{}
			}
			opts.DeltaBase = parent.Pieces[i]
		}
		w.mu.Lock()
		w.NewBytes += int64(n)
		w.PieceCount++
		w.mu.Unlock()
		return opts
	}, func() { putChunkBuf(buf) })
	return nil
}

// Abort waits for the pieces already put and abandons the tensor.
func (tw *TensorWriter) Abort() {
	if tw.buf != nil {
		putChunkBuf(tw.buf)
		tw.buf = nil
	}
	tw.hashed.Wait()
}

// Finish waits until every piece is hashed and queues the tensor object,
// stored by Flush; it returns the tensor's id.
func (tw *TensorWriter) Finish() (ID, *Tensor, error) {
	tw.hashed.Wait()
	if err := tw.w.firstErr(); err != nil {
		return ZeroID, nil, err
	}
	if tw.off != tw.t.Size {
		return ZeroID, nil, fmt.Errorf("objects: tensor finished after %d of %d bytes", tw.off, tw.t.Size)
	}
	b, err := Encode(tw.t)
	if err != nil {
		return ZeroID, nil, err
	}
	tw.w.addPending(b)
	return Sum(b), tw.t, nil
}

// putHashing is put for a chunk whose id a worker computes: hashed gets
// the id (always, also when the write is skipped after an error) and
// returns the put options; pre, when not nil, gets the chunk's data
// first.
func (w *Writer) putHashing(obj []byte, pre func([]byte), hashed func(ID) PutOptions, release func()) {
	w.sem <- struct{}{}
	w.wg.Add(1)
	go func() {
		defer func() {
			release()
			<-w.sem
			w.wg.Done()
		}()
		if pre != nil && w.firstErr() == nil {
			pre(obj[HeaderSize:])
		}
		id := Sum(obj)
		opts := hashed(id)
		if w.firstErr() != nil {
			return
		}
		var err error
		if ds, ok := w.store.(*DiskStore); ok {
			_, err = ds.putKnown(w.ctx, id, obj, opts)
		} else {
			_, err = w.store.Put(w.ctx, obj, opts)
		}
		if err != nil {
			w.setErr(err)
		}
	}()
}

// Blob reads r to its end and stores it as a blob cut by content-defined
// chunking. The blob object is stored by Flush.
func (w *Writer) Blob(r io.Reader) (ID, *Blob, error) {
	bl := &Blob{}
	buf := make([]byte, 0, 2*CDCMaxSize)
	eof := false
	for {
		for !eof && len(buf) < CDCMaxSize {
			n, err := r.Read(buf[len(buf):cap(buf)])
			buf = buf[:len(buf)+n]
			if err == io.EOF {
				eof = true
			} else if err != nil {
				return ZeroID, nil, fmt.Errorf("read file data: %w", err)
			}
		}
		if len(buf) == 0 {
			break
		}
		cut := CutPoint(buf, eof)
		if cut == 0 {
			cut = len(buf) // unreachable: with len >= max or eof a cut exists
		}
		obj := getChunkBuf(HeaderSize + cut)
		PutChunkHeader(obj)
		copy(obj[HeaderSize:], buf[:cut])
		id := Sum(obj)
		bl.Chunks = append(bl.Chunks, ChunkRef{ID: id, Size: uint64(cut)})
		bl.Size += uint64(cut)
		w.mu.Lock()
		w.NewBytes += int64(cut)
		w.PieceCount++
		w.mu.Unlock()
		w.put(id, obj, PutOptions{}, func() { putChunkBuf(obj) })
		buf = buf[:copy(buf, buf[cut:])]
		if err := w.firstErr(); err != nil {
			return ZeroID, nil, err
		}
	}
	b, err := Encode(bl)
	if err != nil {
		return ZeroID, nil, err
	}
	w.addPending(b)
	return Sum(b), bl, nil
}

// Object encodes o and stores it by Flush, after everything queued
// before it.
func (w *Writer) Object(o Object) (ID, error) {
	b, err := Encode(o)
	if err != nil {
		return ZeroID, err
	}
	w.addPending(b)
	return Sum(b), nil
}

func (w *Writer) addPending(b []byte) {
	w.mu.Lock()
	w.pending = append(w.pending, b)
	w.mu.Unlock()
}

// Flush waits for every queued piece, then stores the queued objects:
// first the tensors and blobs, which refer only to the pieces and chunks
// stored by then, on the writer's workers (a model of thousands of small
// tensors has thousands of tensor objects, each a file to write), then
// the others (models, trees, commits, which may refer to any object
// queued before them) one by one in the order they were queued. So every
// object is still stored after everything it refers to. It returns the
// first error of any write.
func (w *Writer) Flush() error {
	w.wg.Wait()
	if err := w.firstErr(); err != nil {
		return err
	}
	w.mu.Lock()
	pending := w.pending
	w.pending = nil
	w.mu.Unlock()
	var leaves, rest [][]byte
	for _, b := range pending {
		if k := Kind(b[4]); k == KindTensor || k == KindBlob {
			leaves = append(leaves, b)
		} else {
			rest = append(rest, b)
		}
	}
	put := func(b []byte) error {
		_, err := w.store.Put(w.ctx, b, PutOptions{})
		return err
	}
	if err := forEach(leaves, cap(w.sem), put); err != nil {
		return err
	}
	for _, b := range rest {
		if err := put(b); err != nil {
			return err
		}
	}
	return nil
}
