package repo

import (
	"context"
	"io"

	"github.com/fed-vcs/fed/objects"
)

// tensorStream returns a reader of a stored tensor's bytes (pieces are
// decoded ahead in the background); Close stops it.
func tensorStream(ctx context.Context, s objects.Store, t *objects.Tensor) io.ReadCloser {
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(objects.WriteTensorTo(ctx, s, t, pw))
	}()
	return pr
}

// lockstep reads equal-length tensor streams block by block (a multiple
// of elem bytes) and calls fn with the blocks of all streams.
func lockstep(elem int, streams []io.Reader, fn func(blocks [][]byte) error) error {
	const block = 1 << 20
	return lockstepN(block-block%elem, streams, fn)
}

func lockstepN(n int, streams []io.Reader, fn func(blocks [][]byte) error) error {
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

// lockstepSize is lockstep with blocks of about size bytes.
func lockstepSize(size, elem int, streams []io.Reader, fn func(blocks [][]byte) error) error {
	return lockstepN(size-size%elem, streams, fn)
}
