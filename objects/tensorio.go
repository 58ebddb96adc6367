package objects

import (
	"context"
	"fmt"
	"io"
)

// TensorReader returns a reader of the bytes of stored tensor t, its
// pieces read and verified a few ahead in the background; Close stops
// it.
func TensorReader(ctx context.Context, s Store, t *Tensor) io.ReadCloser {
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(WriteTensorTo(ctx, s, t, pw))
	}()
	return pr
}

// TensorReaderAt returns a reader of the bytes of stored tensor t at any
// offset, a piece at a time (the last piece read is kept). It is not safe
// for concurrent use.
func TensorReaderAt(ctx context.Context, s Store, t *Tensor) io.ReaderAt {
	return &tensorReaderAt{ctx: ctx, s: s, t: t, piece: -1}
}

type tensorReaderAt struct {
	ctx   context.Context
	s     Store
	t     *Tensor
	piece int
	data  []byte
}

func (r *tensorReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	for n < len(p) {
		pos := uint64(off) + uint64(n)
		if pos >= r.t.Size {
			return n, io.EOF
		}
		i := int(pos / r.t.PieceSize)
		if r.data == nil || r.piece != i {
			b, err := r.s.Get(r.ctx, r.t.Pieces[i])
			if err != nil {
				return n, err
			}
			if uint64(len(b)-HeaderSize) != r.t.PieceLen(i) {
				return n, &CorruptError{ID: r.t.Pieces[i], Err: fmt.Errorf("piece has %d bytes, want %d", len(b)-HeaderSize, r.t.PieceLen(i))}
			}
			r.piece, r.data = i, b[HeaderSize:]
		}
		n += copy(p[n:], r.data[pos-uint64(i)*r.t.PieceSize:])
	}
	return n, nil
}

// Lockstep reads streams of equal length block by block, blocks of size
// bytes rounded down to a whole number of elem-byte elements, and calls
// fn with the blocks of all streams, the same length each; the last may
// be shorter. Streams of different lengths give io.ErrUnexpectedEOF. The
// blocks are reused by the next call.
func Lockstep(size, elem int, streams []io.Reader, fn func(blocks [][]byte) error) error {
	n := max(elem, size-size%elem)
	bufs := make([][]byte, len(streams))
	for i := range bufs {
		bufs[i] = make([]byte, n)
	}
	for {
		got := -1
		for i, s := range streams {
			k, err := io.ReadFull(s, bufs[i])
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				err = nil
			}
			if err != nil {
				return err
			}
			if got >= 0 && k != got {
				return io.ErrUnexpectedEOF
			}
			got = k
		}
		if got <= 0 {
			return nil
		}
		blocks := make([][]byte, len(bufs))
		for i := range bufs {
			blocks[i] = bufs[i][:got]
		}
		if err := fn(blocks); err != nil {
			return err
		}
		if got < n {
			return nil
		}
	}
}
