package objects

import (
	"context"
	"fmt"
	"io"
	"runtime"
)

// chunkSource yields the ids and lengths of a sequence of chunk objects.
type chunkSource struct {
	ids   []ID
	sizes func(i int) uint64
	// wrap, when set, adds context (which tensor) to an error at index i
	wrap func(i int, err error) error
}

// prefetch reads chunk objects in order with up to ahead of them decoding
// in parallel, and passes each one's data to fn, which must not keep it:
// the buffers are decoded into again.
func prefetch(ctx context.Context, s Store, src chunkSource, ahead int, fn func(i int, data []byte) error) (err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	failed := -1
	if src.wrap != nil {
		defer func() {
			if err != nil && failed >= 0 {
				err = src.wrap(failed, err)
			}
		}()
	}
	chans := make([]chan result, len(src.ids))
	ds, _ := s.(*DiskStore)
	free := make(chan []byte, ahead+1)
	start := func(i int) {
		c := make(chan result, 1)
		chans[i] = c
		var buf []byte
		select {
		case buf = <-free:
		default:
		}
		go func() {
			var b []byte
			var err error
			if ds != nil {
				b, err = ds.GetInto(ctx, src.ids[i], buf)
			} else {
				b, err = s.Get(ctx, src.ids[i])
			}
			c <- result{b, err}
		}()
	}
	for i := 0; i < len(src.ids) && i < ahead; i++ {
		start(i)
	}
	for i := range src.ids {
		r := <-chans[i]
		chans[i] = nil
		failed = i
		if r.err != nil {
			cancel()
			drain(chans)
			return r.err
		}
		if k, err := PeekKind(r.b); err != nil || k != KindChunk {
			cancel()
			drain(chans)
			return &CorruptError{ID: src.ids[i], Err: fmt.Errorf("expected a chunk")}
		}
		data := r.b[HeaderSize:]
		if want := src.sizes(i); uint64(len(data)) != want {
			cancel()
			drain(chans)
			return &CorruptError{ID: src.ids[i], Err: fmt.Errorf("chunk has %d bytes, its parent says %d", len(data), want)}
		}
		if err := fn(i, data); err != nil {
			failed = -1 // the writer's error, not the object's
			cancel()
			drain(chans)
			return err
		}
		select {
		case free <- r.b:
		default:
		}
		if i+ahead < len(src.ids) {
			start(i + ahead)
		}
	}
	return nil
}

type result struct {
	b   []byte
	err error
}

// drain waits for the reads still in flight, so no goroutine outlives
// the call.
func drain(chans []chan result) {
	for _, c := range chans {
		if c != nil {
			<-c
		}
	}
}

// WriteTensorTo writes the bytes of tensor t to w.
func WriteTensorTo(ctx context.Context, s Store, t *Tensor, w io.Writer) error {
	return prefetch(ctx, s, chunkSource{ids: t.Pieces, sizes: func(i int) uint64 { return t.PieceLen(i) }}, 3,
		func(i int, data []byte) error {
			_, err := w.Write(data)
			return err
		})
}

// WriteBlobTo writes the bytes of blob b to w.
func WriteBlobTo(ctx context.Context, s Store, b *Blob, w io.Writer) error {
	return prefetch(ctx, s, chunkSource{ids: b.Refs(), sizes: func(i int) uint64 { return b.Chunks[i].Size }}, 3,
		func(i int, data []byte) error {
			_, err := w.Write(data)
			return err
		})
}

// WriteModelTo rebuilds the file of model m into w, reading the pieces of
// all its segments a few ahead (in parallel) across segment boundaries.
func WriteModelTo(ctx context.Context, s Store, m *Model, w io.Writer) error {
	var ids []ID
	var sizes []uint64
	var segOf []int // index into m.Segments of each chunk
	for k, seg := range m.Segments {
		if seg.IsTensor() {
			t, err := ReadTensor(ctx, s, seg.ID)
			if err != nil {
				return fmt.Errorf("tensor %q: %w", seg.Name, err)
			}
			if t.Size != seg.Size {
				return &CorruptError{ID: seg.ID, Err: fmt.Errorf("tensor %q has %d bytes, model says %d", seg.Name, t.Size, seg.Size)}
			}
			for i, id := range t.Pieces {
				ids, sizes, segOf = append(ids, id), append(sizes, t.PieceLen(i)), append(segOf, k)
			}
			continue
		}
		b, err := ReadBlob(ctx, s, seg.ID)
		if err != nil {
			return err
		}
		if b.Size != seg.Size {
			return &CorruptError{ID: seg.ID, Err: fmt.Errorf("blob has %d bytes, model says %d", b.Size, seg.Size)}
		}
		for i, id := range b.Refs() {
			ids, sizes, segOf = append(ids, id), append(sizes, b.Chunks[i].Size), append(segOf, k)
		}
	}
	src := chunkSource{ids: ids, sizes: func(i int) uint64 { return sizes[i] },
		wrap: func(i int, err error) error {
			if seg := m.Segments[segOf[i]]; seg.IsTensor() {
				return fmt.Errorf("tensor %q: %w", seg.Name, err)
			}
			return err
		}}
	return prefetch(ctx, s, src, readAhead(), func(_ int, data []byte) error {
		_, err := w.Write(data)
		return err
	})
}

// readAhead is how many pieces a sequential read decodes in parallel.
func readAhead() int { return 2*runtime.GOMAXPROCS(0) + 1 }

// WriteFileTo writes the file content of a tree entry's object (a blob or
// a model) to w.
func WriteFileTo(ctx context.Context, s Store, id ID, w io.Writer) error {
	o, err := Read(ctx, s, id, 0)
	if err != nil {
		return err
	}
	switch o := o.(type) {
	case *Blob:
		return WriteBlobTo(ctx, s, o, w)
	case *Model:
		return WriteModelTo(ctx, s, o, w)
	}
	return fmt.Errorf("objects: object %s is a %s, not a file", id.Short(), o.Kind())
}

// TensorPieces calls fn with the data of each piece of t in order, with
// read-ahead; data is valid only during the call.
func TensorPieces(ctx context.Context, s Store, t *Tensor, fn func(i int, data []byte) error) error {
	return prefetch(ctx, s, chunkSource{ids: t.Pieces, sizes: func(i int) uint64 { return t.PieceLen(i) }}, 3, fn)
}
