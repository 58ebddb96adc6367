package objects

import (
	"context"
	"fmt"
	"io"
)

// chunkSource yields the ids and lengths of a sequence of chunk objects.
type chunkSource struct {
	ids   []ID
	sizes func(i int) uint64
}

// prefetch reads chunk objects in order with up to ahead of them decoding
// in parallel, and passes each one's data to fn.
func prefetch(ctx context.Context, s Store, src chunkSource, ahead int, fn func(i int, data []byte) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	chans := make([]chan result, len(src.ids))
	start := func(i int) {
		c := make(chan result, 1)
		chans[i] = c
		go func() {
			b, err := s.Get(ctx, src.ids[i])
			c <- result{b, err}
		}()
	}
	for i := 0; i < len(src.ids) && i < ahead; i++ {
		start(i)
	}
	for i := range src.ids {
		r := <-chans[i]
		chans[i] = nil
		if i+ahead < len(src.ids) {
			start(i + ahead)
		}
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
			cancel()
			drain(chans)
			return err
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

// WriteModelTo rebuilds the file of model m into w.
func WriteModelTo(ctx context.Context, s Store, m *Model, w io.Writer) error {
	for _, seg := range m.Segments {
		if seg.IsTensor() {
			t, err := ReadTensor(ctx, s, seg.ID)
			if err != nil {
				return fmt.Errorf("tensor %q: %w", seg.Name, err)
			}
			if t.Size != seg.Size {
				return &CorruptError{ID: seg.ID, Err: fmt.Errorf("tensor %q has %d bytes, model says %d", seg.Name, t.Size, seg.Size)}
			}
			if err := WriteTensorTo(ctx, s, t, w); err != nil {
				return fmt.Errorf("tensor %q: %w", seg.Name, err)
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
		if err := WriteBlobTo(ctx, s, b, w); err != nil {
			return err
		}
	}
	return nil
}

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
