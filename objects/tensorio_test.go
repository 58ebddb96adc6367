package objects

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
)

// storeTensor stores data as an F32 tensor cut into pieces of 64 bytes.
func storeTensor(t *testing.T, s Store, data []byte) *Tensor {
	t.Helper()
	w := NewWriter(context.Background(), s)
	w.PieceSize = 64
	_, tt, err := w.Tensor(bytes.NewReader(data), TensorInfo{DType: F32, Shape: []uint64{uint64(len(data) / 4)}, Size: uint64(len(data))}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return tt
}

func TestTensorReaders(t *testing.T) {
	ctx := context.Background()
	s := NewMem()
	data := make([]byte, 4*100) // 7 pieces, the last one short
	for i := range data {
		data[i] = byte(i * 7)
	}
	tt := storeTensor(t, s, data)
	rc := TensorReader(ctx, s, tt)
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("TensorReader: %d bytes, %v", len(got), err)
	}
	ra := TensorReaderAt(ctx, s, tt)
	for _, c := range []struct{ off, n int }{{0, 400}, {60, 10}, {130, 1}, {390, 10}, {3, 200}} {
		buf := make([]byte, c.n)
		n, err := ra.ReadAt(buf, int64(c.off))
		if err != nil || n != c.n || !bytes.Equal(buf, data[c.off:c.off+c.n]) {
			t.Errorf("ReadAt(%d, %d): %d, %v", c.off, c.n, n, err)
		}
	}
	if n, err := ra.ReadAt(make([]byte, 8), 396); n != 4 || err != io.EOF {
		t.Errorf("ReadAt past the end: %d, %v; want 4, EOF", n, err)
	}
}

func TestLockstep(t *testing.T) {
	a, b := bytes.Repeat([]byte{1}, 100), bytes.Repeat([]byte{2}, 100)
	var sizes []int
	err := Lockstep(30, 4, []io.Reader{bytes.NewReader(a), bytes.NewReader(b)}, func(blocks [][]byte) error {
		if len(blocks) != 2 || len(blocks[0]) != len(blocks[1]) || blocks[0][0] != 1 || blocks[1][0] != 2 {
			t.Errorf("blocks %v", blocks)
		}
		sizes = append(sizes, len(blocks[0]))
		return nil
	})
	// blocks of 28 bytes: whole 4-byte elements
	if err != nil || len(sizes) != 4 || sizes[0] != 28 || sizes[3] != 16 {
		t.Errorf("block sizes %v, %v", sizes, err)
	}
	err = Lockstep(30, 4, []io.Reader{bytes.NewReader(a), bytes.NewReader(b[:90])}, func([][]byte) error { return nil })
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("streams of different lengths: %v", err)
	}
	stop := errors.New("stop")
	if err := Lockstep(30, 4, []io.Reader{bytes.NewReader(a)}, func([][]byte) error { return stop }); err != stop {
		t.Errorf("fn's error: %v", err)
	}
}
