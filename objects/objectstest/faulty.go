package objectstest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/fed-vcs/fed/objects"
)

// ErrInjected is the error a Fault returns when it names none.
var ErrInjected = errors.New("objectstest: injected fault")

// Op names a Store method.
type Op int

// The Store methods a Fault can hit.
const (
	OpGet Op = iota + 1
	OpHas
	OpPut
	OpDelete
	OpList
)

func (o Op) String() string {
	switch o {
	case OpGet:
		return "Get"
	case OpHas:
		return "Has"
	case OpPut:
		return "Put"
	case OpDelete:
		return "Delete"
	case OpList:
		return "List"
	}
	return fmt.Sprintf("Op(%d)", int(o))
}

// Mode is what a Fault does to the call it hits.
type Mode int

const (
	// Fail returns the error without calling the wrapped store.
	Fail Mode = iota
	// FailAfter calls the wrapped store, then returns the error anyway:
	// a crash or a lost reply between the write and its acknowledgement.
	FailAfter
	// Short makes Get return the first half of the object's bytes and no
	// error, as a store that does not verify what it reads might.
	Short
	// Garble makes Get return the object's bytes with one byte flipped
	// and no error.
	Garble
	// Pass only waits Delay, then proceeds normally.
	Pass
)

// Fault describes one injected failure.
type Fault struct {
	Op Op
	// N makes the fault hit only the Nth matching call (counting from 1);
	// 0 hits every matching call.
	N int
	// ID restricts the fault to calls on this id (for Put, the id of the
	// object put); ZeroID matches every call.
	ID   objects.ID
	Mode Mode
	// Err is returned by Fail and FailAfter; nil means ErrInjected.
	Err error
	// Delay is waited before the call (or until the context is done).
	Delay time.Duration
}

type faultState struct {
	Fault
	seen int // matching calls so far
}

// Faulty wraps a Store and injects the failures it is given. It forwards
// DeltaBase (objects.DeltaStore) and ModTime (objects.ModTimer) when the
// wrapped store has them. It is safe for concurrent use.
type Faulty struct {
	store objects.Store

	mu       sync.Mutex
	faults   []*faultState
	calls    map[Op]int
	injected int
}

var (
	_ objects.Store      = (*Faulty)(nil)
	_ objects.DeltaStore = (*Faulty)(nil)
	_ objects.ModTimer   = (*Faulty)(nil)
)

// NewFaulty wraps s with the given faults.
func NewFaulty(s objects.Store, faults ...Fault) *Faulty {
	f := &Faulty{store: s, calls: map[Op]int{}}
	f.Add(faults...)
	return f
}

// Unwrap returns the wrapped store.
func (f *Faulty) Unwrap() objects.Store { return f.store }

// Add adds faults; earlier faults take precedence when several hit a call.
func (f *Faulty) Add(faults ...Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, ft := range faults {
		f.faults = append(f.faults, &faultState{Fault: ft})
	}
}

// Clear removes every fault; the call counts stay.
func (f *Faulty) Clear() {
	f.mu.Lock()
	f.faults = nil
	f.mu.Unlock()
}

// Calls returns how many times op was called.
func (f *Faulty) Calls(op Op) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

// Injected returns how many calls a fault changed (delays excluded).
func (f *Faulty) Injected() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.injected
}

// hit counts a call and returns the fault to apply (Mode Pass when none)
// and the total delay of the faults that hit it.
func (f *Faulty) hit(op Op, id objects.ID) (Fault, time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[op]++
	out := Fault{Mode: Pass}
	var delay time.Duration
	for _, fs := range f.faults {
		if fs.Op != op || (!fs.ID.IsZero() && fs.ID != id) {
			continue
		}
		fs.seen++
		if fs.N != 0 && fs.seen != fs.N {
			continue
		}
		delay += fs.Delay
		if out.Mode == Pass && fs.Mode != Pass {
			out = fs.Fault
			if out.Err == nil {
				out.Err = ErrInjected
			}
			f.injected++
		}
	}
	return out, delay
}

func wait(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Get implements objects.Store.
func (f *Faulty) Get(ctx context.Context, id objects.ID) ([]byte, error) {
	ft, d := f.hit(OpGet, id)
	if err := wait(ctx, d); err != nil {
		return nil, err
	}
	if ft.Mode == Fail {
		return nil, fmt.Errorf("get %s: %w", id.Short(), ft.Err)
	}
	b, err := f.store.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	switch ft.Mode {
	case FailAfter:
		return nil, fmt.Errorf("get %s: %w", id.Short(), ft.Err)
	case Short:
		return b[:len(b)/2], nil
	case Garble:
		if len(b) > 0 {
			b[len(b)-1-len(b)/3] ^= 0x10
		}
	}
	return b, nil
}

// Has implements objects.Store.
func (f *Faulty) Has(ctx context.Context, id objects.ID) (bool, error) {
	ft, d := f.hit(OpHas, id)
	if err := wait(ctx, d); err != nil {
		return false, err
	}
	if ft.Mode == Fail {
		return false, fmt.Errorf("has %s: %w", id.Short(), ft.Err)
	}
	ok, err := f.store.Has(ctx, id)
	if err == nil && ft.Mode == FailAfter {
		return false, fmt.Errorf("has %s: %w", id.Short(), ft.Err)
	}
	return ok, err
}

// Put implements objects.Store.
func (f *Faulty) Put(ctx context.Context, obj []byte, opts objects.PutOptions) (objects.ID, error) {
	id := objects.Sum(obj)
	ft, d := f.hit(OpPut, id)
	if err := wait(ctx, d); err != nil {
		return objects.ZeroID, err
	}
	if ft.Mode == Fail {
		return objects.ZeroID, fmt.Errorf("put %s: %w", id.Short(), ft.Err)
	}
	got, err := f.store.Put(ctx, obj, opts)
	if err == nil && ft.Mode == FailAfter {
		return objects.ZeroID, fmt.Errorf("put %s: %w", id.Short(), ft.Err)
	}
	return got, err
}

// Delete implements objects.Store.
func (f *Faulty) Delete(ctx context.Context, id objects.ID) error {
	ft, d := f.hit(OpDelete, id)
	if err := wait(ctx, d); err != nil {
		return err
	}
	if ft.Mode == Fail {
		return fmt.Errorf("delete %s: %w", id.Short(), ft.Err)
	}
	err := f.store.Delete(ctx, id)
	if err == nil && ft.Mode == FailAfter {
		return fmt.Errorf("delete %s: %w", id.Short(), ft.Err)
	}
	return err
}

// List implements objects.Store.
func (f *Faulty) List(ctx context.Context, fn func(objects.ID) error) error {
	ft, d := f.hit(OpList, objects.ZeroID)
	if err := wait(ctx, d); err != nil {
		return err
	}
	if ft.Mode == Fail {
		return fmt.Errorf("list: %w", ft.Err)
	}
	err := f.store.List(ctx, fn)
	if err == nil && ft.Mode == FailAfter {
		return fmt.Errorf("list: %w", ft.Err)
	}
	return err
}

// DeltaBase forwards to the wrapped store, or returns ZeroID when it
// keeps no deltas.
func (f *Faulty) DeltaBase(ctx context.Context, id objects.ID) (objects.ID, error) {
	if ds, ok := f.store.(objects.DeltaStore); ok {
		return ds.DeltaBase(ctx, id)
	}
	return objects.ZeroID, nil
}

// errNoModTime is returned by ModTime when the wrapped store has none;
// gc then spares every unreachable object, as it would without Faulty.
var errNoModTime = errors.New("objectstest: wrapped store has no modification times")

// ModTime forwards to the wrapped store.
func (f *Faulty) ModTime(id objects.ID) (time.Time, error) {
	if mt, ok := f.store.(objects.ModTimer); ok {
		return mt.ModTime(id)
	}
	return time.Time{}, errNoModTime
}
