package objects

import (
	"bytes"
	"context"
	"sync"
	"testing"
)

// PutThen hands each piece's data to fn on the worker that stores it, once,
// before the buffer is reused; the tensor stored is the same as with Put.
func TestTensorWriterPutThen(t *testing.T) {
	ctx := context.Background()
	s := NewMem()
	w := NewWriter(ctx, s)
	w.PieceSize = 1 << 16
	data := make([]byte, 5*w.PieceSize+100)
	for i := range data {
		data[i] = byte(i * 7)
	}
	tw, err := w.StartTensor(TensorInfo{DType: F32, Shape: []uint64{uint64(len(data) / 4)}, Size: uint64(len(data))}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(data))
	var mu sync.Mutex
	calls := 0
	for off := 0; ; {
		p := tw.Piece()
		if p == nil {
			break
		}
		copy(p, data[off:])
		at := off
		off += len(p)
		if err := tw.PutThen(func(b []byte) {
			mu.Lock()
			defer mu.Unlock()
			calls++
			copy(got[at:], b)
		}); err != nil {
			t.Fatal(err)
		}
	}
	id, tt, err := tw.Finish()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if calls != len(tt.Pieces) || !bytes.Equal(got, data) {
		t.Fatalf("fn called %d times for %d pieces; data equal %v", calls, len(tt.Pieces), bytes.Equal(got, data))
	}
	var back bytes.Buffer
	rt, err := ReadTensor(ctx, s, id)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteTensorTo(ctx, s, rt, &back); err != nil || !bytes.Equal(back.Bytes(), data) {
		t.Fatalf("stored tensor differs: %v", err)
	}
}
