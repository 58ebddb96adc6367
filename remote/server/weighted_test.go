package server

import (
	"context"
	"sync"
	"testing"
	"time"
)

// TestWeighted checks the server's semaphore of in-flight bytes: room is
// taken up to the bound (one larger request alone), an acquire that finds
// none waits for a release or its context, and many acquires and
// releases at once never hold more than the bound and leave it empty.
func TestWeighted(t *testing.T) {
	w := newWeighted(100)
	ctx := context.Background()
	if err := w.acquire(ctx, 150); err != nil { // alone, larger than the bound
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := w.acquire(short, 1); err == nil {
		t.Fatal("acquire beside an oversized holder did not wait")
	}
	got := make(chan error, 1)
	go func() { got <- w.acquire(ctx, 60) }()
	select {
	case err := <-got:
		t.Fatalf("acquire went through while the room was held: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	w.release(150)
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if err := w.acquire(ctx, 40); err != nil {
		t.Fatal(err)
	}
	go func() { got <- w.acquire(ctx, 1) }()
	select {
	case err := <-got:
		t.Fatalf("acquire went through with the room full: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	w.release(60)
	w.release(40)
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	w.release(1)

	var wg sync.WaitGroup
	var mu sync.Mutex
	var held, peak int64
	for g := 0; g < 16; g++ {
		wg.Go(func() {
			for i := 0; i < 500; i++ {
				n := int64(1 + (g*7+i)%40)
				if err := w.acquire(ctx, n); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				held += n
				peak = max(peak, held)
				mu.Unlock()
				mu.Lock()
				held -= n
				mu.Unlock()
				w.release(n)
			}
		})
	}
	wg.Wait()
	if peak > 100 {
		t.Errorf("%d bytes held at once, bound 100", peak)
	}
	if u := w.used.Load(); u != 0 {
		t.Errorf("%d bytes held after every release", u)
	}
}
