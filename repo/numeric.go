package repo

import (
	"context"
	"encoding/binary"
	"io"
	"math"

	"github.com/fed-vcs/fed/merge"
	"github.com/fed-vcs/fed/objects"
)

// decodeFloats converts little-endian elements of a float dtype to
// float64 (exact for every float dtype).
func decodeFloats(dt objects.DType, raw []byte, dst []float64) []float64 {
	dst = dst[:0]
	switch dt {
	case objects.F32:
		for i := 0; i+4 <= len(raw); i += 4 {
			dst = append(dst, float64(math.Float32frombits(binary.LittleEndian.Uint32(raw[i:]))))
		}
	case objects.F64:
		for i := 0; i+8 <= len(raw); i += 8 {
			dst = append(dst, math.Float64frombits(binary.LittleEndian.Uint64(raw[i:])))
		}
	case objects.F16:
		for i := 0; i+2 <= len(raw); i += 2 {
			dst = append(dst, merge.F16ToFloat64(binary.LittleEndian.Uint16(raw[i:])))
		}
	case objects.BF16:
		for i := 0; i+2 <= len(raw); i += 2 {
			dst = append(dst, merge.BF16ToFloat64(binary.LittleEndian.Uint16(raw[i:])))
		}
	}
	return dst
}

// encodeFloats rounds float64 values once, to nearest even, into dtype
// elements.
func encodeFloats(dt objects.DType, vals []float64, dst []byte) []byte {
	dst = dst[:0]
	for _, v := range vals {
		switch dt {
		case objects.F32:
			dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(float32(v)))
		case objects.F64:
			dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(v))
		case objects.F16:
			dst = binary.LittleEndian.AppendUint16(dst, merge.Float64ToF16(v))
		case objects.BF16:
			dst = binary.LittleEndian.AppendUint16(dst, merge.Float64ToBF16(v))
		}
	}
	return dst
}

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
