package objectstest

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/fed-vcs/fed/objects"
)

// A Faulty without faults is a conforming store.
func TestFaultyPassThroughConforms(t *testing.T) {
	var cur *objects.MemStore
	Run(t, func(t *testing.T) objects.Store {
		cur = objects.NewMem()
		return NewFaulty(cur, Fault{Op: OpGet, N: 3, Mode: Pass, Delay: time.Millisecond})
	}, Options{
		SkipLarge: true,
		Corrupt: func(id objects.ID) error {
			if !cur.Corrupt(id, 7) {
				return errors.New("corrupt: no such object")
			}
			return nil
		},
	})
}

func TestFaultyModes(t *testing.T) {
	ctx := context.Background()
	b := objects.EncodeChunk([]byte("some chunk data"))
	id := objects.Sum(b)
	other := objects.EncodeChunk([]byte("other"))
	errX := errors.New("disk on fire")

	t.Run("FailNthPut", func(t *testing.T) {
		mem := objects.NewMem()
		f := NewFaulty(mem, Fault{Op: OpPut, N: 2, Err: errX})
		if _, err := f.Put(ctx, other, objects.PutOptions{}); err != nil {
			t.Fatalf("first Put: %v", err)
		}
		if _, err := f.Put(ctx, b, objects.PutOptions{}); !errors.Is(err, errX) {
			t.Fatalf("second Put = %v, want %v", err, errX)
		}
		if ok, _ := mem.Has(ctx, id); ok {
			t.Error("Fail stored the object")
		}
		if _, err := f.Put(ctx, b, objects.PutOptions{}); err != nil {
			t.Fatalf("third Put: %v", err)
		}
		if f.Calls(OpPut) != 3 || f.Injected() != 1 {
			t.Errorf("calls %d injected %d, want 3 and 1", f.Calls(OpPut), f.Injected())
		}
	})
	t.Run("FailAfterPut", func(t *testing.T) {
		mem := objects.NewMem()
		f := NewFaulty(mem, Fault{Op: OpPut, Mode: FailAfter})
		if _, err := f.Put(ctx, b, objects.PutOptions{}); !errors.Is(err, ErrInjected) {
			t.Fatalf("Put = %v, want ErrInjected", err)
		}
		if ok, _ := mem.Has(ctx, id); !ok {
			t.Error("FailAfter did not store the object")
		}
	})
	t.Run("ByID", func(t *testing.T) {
		mem := objects.NewMem()
		mem.Put(ctx, b, objects.PutOptions{})
		oid, _ := mem.Put(ctx, other, objects.PutOptions{})
		f := NewFaulty(mem, Fault{Op: OpGet, ID: id})
		if _, err := f.Get(ctx, oid); err != nil {
			t.Errorf("Get of another id: %v", err)
		}
		for i := 0; i < 2; i++ {
			if _, err := f.Get(ctx, id); !errors.Is(err, ErrInjected) {
				t.Errorf("Get %d of the faulty id = %v", i, err)
			}
		}
		f.Clear()
		if _, err := f.Get(ctx, id); err != nil {
			t.Errorf("Get after Clear: %v", err)
		}
	})
	t.Run("ShortAndGarble", func(t *testing.T) {
		mem := objects.NewMem()
		mem.Put(ctx, b, objects.PutOptions{})
		f := NewFaulty(mem, Fault{Op: OpGet, N: 1, Mode: Short}, Fault{Op: OpGet, N: 2, Mode: Garble})
		got, err := f.Get(ctx, id)
		if err != nil || len(got) != len(b)/2 {
			t.Errorf("Short: %d bytes, %v; want %d", len(got), err, len(b)/2)
		}
		got, err = f.Get(ctx, id)
		if err != nil || len(got) != len(b) || bytes.Equal(got, b) {
			t.Errorf("Garble: %d bytes, %v, equal %v", len(got), err, bytes.Equal(got, b))
		}
		if got, err := f.Get(ctx, id); err != nil || !bytes.Equal(got, b) {
			t.Errorf("third Get: %v", err)
		}
	})
	t.Run("DelayHonoursContext", func(t *testing.T) {
		f := NewFaulty(objects.NewMem(), Fault{Op: OpList, Mode: Pass, Delay: time.Hour})
		ctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := f.List(ctx, func(objects.ID) error { return nil })
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 10*time.Second {
			t.Errorf("List = %v after %v", err, time.Since(start))
		}
	})
	t.Run("FailListAndDelete", func(t *testing.T) {
		mem := objects.NewMem()
		mem.Put(ctx, b, objects.PutOptions{})
		f := NewFaulty(mem, Fault{Op: OpList}, Fault{Op: OpDelete, Mode: FailAfter}, Fault{Op: OpHas})
		if err := f.List(ctx, func(objects.ID) error { return nil }); !errors.Is(err, ErrInjected) {
			t.Errorf("List = %v", err)
		}
		if err := f.Delete(ctx, id); !errors.Is(err, ErrInjected) {
			t.Errorf("Delete = %v", err)
		}
		if ok, _ := mem.Has(ctx, id); ok {
			t.Error("FailAfter Delete did not delete")
		}
		if ok, err := f.Has(ctx, id); ok || !errors.Is(err, ErrInjected) {
			t.Errorf("Has = %v, %v", ok, err)
		}
	})
}
