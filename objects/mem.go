package objects

import (
	"context"
	"sync"
)

// MemStore keeps objects in memory. It is meant for tests and for
// short-lived work such as building objects before sending them.
type MemStore struct {
	mu   sync.RWMutex
	objs map[ID][]byte
}

var _ Store = (*MemStore)(nil)

// NewMem returns an empty in-memory store.
func NewMem() *MemStore { return &MemStore{objs: make(map[ID][]byte)} }

// Get returns a copy of the object, verified against its id.
func (s *MemStore) Get(ctx context.Context, id ID) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	b, ok := s.objs[id]
	s.mu.RUnlock()
	if !ok {
		return nil, &NotFoundError{ID: id}
	}
	if Sum(b) != id {
		return nil, &CorruptError{ID: id, Err: errContentMismatch}
	}
	return append([]byte(nil), b...), nil
}

// Has reports whether id is present.
func (s *MemStore) Has(ctx context.Context, id ID) (bool, error) {
	s.mu.RLock()
	_, ok := s.objs[id]
	s.mu.RUnlock()
	return ok, nil
}

// Put stores a copy of obj.
func (s *MemStore) Put(ctx context.Context, obj []byte, opts PutOptions) (ID, error) {
	if err := checkPut(obj); err != nil {
		return ZeroID, err
	}
	if err := ctx.Err(); err != nil {
		return ZeroID, err
	}
	id := Sum(obj)
	s.mu.Lock()
	if _, ok := s.objs[id]; !ok {
		s.objs[id] = append([]byte(nil), obj...)
	}
	s.mu.Unlock()
	return id, nil
}

// Delete removes id.
func (s *MemStore) Delete(ctx context.Context, id ID) error {
	s.mu.Lock()
	delete(s.objs, id)
	s.mu.Unlock()
	return nil
}

// List calls fn for every id, on a snapshot of the store.
func (s *MemStore) List(ctx context.Context, fn func(ID) error) error {
	s.mu.RLock()
	ids := make([]ID, 0, len(s.objs))
	for id := range s.objs {
		ids = append(ids, id)
	}
	s.mu.RUnlock()
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(id); err != nil {
			return err
		}
	}
	return nil
}

// Corrupt flips one byte of a stored object; tests use it to check that
// readers notice.
func (s *MemStore) Corrupt(id ID, off int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.objs[id]
	if !ok || len(b) == 0 {
		return false
	}
	b[off%len(b)] ^= 0x01
	return true
}
