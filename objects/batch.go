package objects

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/fed-vcs/fed/internal/fsys"
)

// BeginBatch defers the durability of the objects written from now on
// until the matching EndBatch. A fetch writes hundreds of objects; with a
// batch it pays for one flush of their data instead of an fsync of every
// file and of its directory (design §13, batches). Until EndBatch, such an object
// lives in a temporary file of its shard directory, or, when its stored
// form is at most PackMaxStored, in the batch's pending pack (in memory,
// then in a temporary file of objects/pack): this process reads it as
// usual (Get, Has, ...), List does not show it, and after a crash it is
// in an unnamed temporary file that gc removes, never an object file or
// pack with missing data. EndBatch writes the pending pack as one pack
// file when it holds at least PackMinObjects objects, else as loose files. Callers must call EndBatch before they write a ref that
// reaches the batch's objects. Batches may overlap; objects written while
// any is open are deferred.
func (s *DiskStore) BeginBatch() {
	s.batchMu.Lock()
	s.batches++
	s.batchMu.Unlock()
}

// EndBatch ends a batch begun by BeginBatch and publishes every deferred
// object: it fsyncs their temporary files, renames them into place and
// fsyncs the directories that received them. On error, the objects not
// published stay readable by this process and are retried by the next
// EndBatch.
func (s *DiskStore) EndBatch() error {
	s.batchMu.Lock()
	if s.batches > 0 {
		s.batches--
	}
	s.batchMu.Unlock()
	return s.Flush()
}

// InBatch runs fn inside a batch (BeginBatch) and ends it (EndBatch), so
// that the objects fn writes pay for one flush between them instead of an
// fsync of every file and its directory each. It returns fn's error, else
// EndBatch's. When fn fails, what it wrote is still published: every such
// object is complete, and nothing refers to it yet.
func (s *DiskStore) InBatch(fn func() error) error {
	s.BeginBatch()
	err := fn()
	if perr := s.EndBatch(); err == nil {
		err = perr
	}
	return err
}

// Flush publishes every deferred object written so far (see EndBatch)
// without ending a batch. A server calls it before it lets a ref refer to
// objects that another request's batch may still hold.
func (s *DiskStore) Flush() error {
	// One flush at a time: a flush that ran beside another would find
	// temporary files the other has already renamed, and could return
	// before the other made their directories durable. The flush that
	// waits publishes what is still pending when its turn comes, so a
	// burst of flushes is done by one or two of them.
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	// The pending packs first: one with few objects becomes loose files,
	// published below with the others.
	s.batchMu.Lock()
	s.packMu.Lock()
	if s.cur != nil {
		s.sealing = append(s.sealing, s.cur)
		s.cur = nil
	}
	sealing := slices.Clone(s.sealing)
	s.packMu.Unlock()
	s.batchMu.Unlock()
	var errs []error
	for _, pp := range sealing {
		if err := s.publishPending(pp); err != nil {
			errs = append(errs, err)
		}
	}
	s.batchMu.Lock()
	todo := make(map[ID]string, len(s.pending))
	for id, tmp := range s.pending {
		todo[id] = tmp
	}
	s.batchMu.Unlock()
	if len(todo) == 0 {
		return errors.Join(errs...)
	}
	// The data first, in parallel: most of it is on its way already
	// (writeObject started the writeback), and one flush covers many files.
	ids := make([]ID, 0, len(todo))
	for id := range todo {
		ids = append(ids, id)
	}
	if err := forEach(ids, 4, func(id ID) error {
		tmp := todo[id]
		err := fsys.SyncPath(tmp)
		if errors.Is(err, fs.ErrNotExist) && !s.stillPending(id, tmp) {
			return nil // deleted meanwhile (Delete)
		}
		return err
	}); err != nil {
		return errors.Join(append(errs, fmt.Errorf("publish objects: %w", err))...)
	}
	dirs := map[string]bool{}
	for id, tmp := range todo {
		s.batchMu.Lock()
		cur, ok := s.pending[id]
		if ok && cur == tmp {
			if err := fsys.Rename(tmp, s.final(id)); err != nil {
				errs = append(errs, fmt.Errorf("publish object %s: %w", id, err))
			} else {
				delete(s.pending, id)
				s.npending.Add(-1)
				dirs[filepath.Dir(tmp)] = true
			}
		}
		s.batchMu.Unlock()
	}
	ds := make([]string, 0, len(dirs))
	for d := range dirs {
		ds = append(ds, d)
	}
	if err := forEach(ds, 4, fsys.SyncDir); err != nil {
		errs = append(errs, fmt.Errorf("publish objects: %w", err))
	}
	return errors.Join(errs...)
}

// writeObject stores the stored form of id: durably at once, or deferred
// when a batch is open.
func (s *DiskStore) writeObject(id ID, stored []byte) error {
	p := s.final(id)
	s.batchMu.Lock()
	deferred := s.batches > 0
	if deferred && len(stored) <= PackMaxStored {
		// small: into the pending pack (published by Flush)
		s.packMu.Lock()
		write, err := s.addPending(id, stored)
		s.packMu.Unlock()
		s.batchMu.Unlock()
		if write != nil {
			err = write()
		}
		return err
	}
	s.batchMu.Unlock()
	if !deferred {
		return s.writeFile(p, stored)
	}
	tmp, err := writeTemp(filepath.Dir(p), stored)
	if err != nil {
		return err
	}
	s.batchMu.Lock()
	if s.batches == 0 {
		// the batch ended while this file was written: publish it now
		s.batchMu.Unlock()
		return fsys.Publish(tmp, p)
	}
	if s.pending == nil {
		s.pending = map[ID]string{}
	}
	if _, dup := s.pending[id]; dup {
		os.Remove(tmp) // a concurrent writer of the same object was first
	} else {
		s.pending[id] = tmp
		s.npending.Add(1)
	}
	s.batchMu.Unlock()
	return nil
}

// writeTemp writes data to a new temporary file in dir, starts its
// writeback and returns its path; the file is not fsynced.
func writeTemp(dir string, data []byte) (string, error) {
	f, err := fsys.CreateTemp(dir, fsys.OncePerm)
	if err != nil {
		return "", err
	}
	tmp := f.Name()
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(tmp)
		return "", err
	}
	fsys.StartWriteback(f)
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return "", err
	}
	return tmp, nil
}

// stillPending reports whether id is still deferred in the file tmp.
func (s *DiskStore) stillPending(id ID, tmp string) bool {
	s.batchMu.Lock()
	defer s.batchMu.Unlock()
	return s.pending[id] == tmp
}

// isPending reports whether tmp is the temporary file of a deferred object.
func (s *DiskStore) isPending(tmp string) bool {
	if s.npending.Load() == 0 {
		return false
	}
	s.batchMu.Lock()
	defer s.batchMu.Unlock()
	for _, t := range s.pending {
		if t == tmp {
			return true
		}
	}
	return false
}

// forEach calls fn for every item on up to workers goroutines and returns
// the first error.
func forEach[T any](items []T, workers int, fn func(T) error) error {
	var (
		mu    sync.Mutex
		next  int
		first error
		wg    sync.WaitGroup
	)
	for w := 0; w < min(workers, len(items)); w++ {
		wg.Go(func() {
			for {
				mu.Lock()
				if first != nil || next >= len(items) {
					mu.Unlock()
					return
				}
				it := items[next]
				next++
				mu.Unlock()
				if err := fn(it); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return first
}
