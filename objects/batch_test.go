package objects_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/fed-vcs/fed/objects"
)

// objectFile is where a published object lives.
func objectFile(s *objects.DiskStore, id objects.ID) string {
	h := id.String()
	return filepath.Join(s.Dir(), h[:2], h[2:])
}

func listed(t *testing.T, s *objects.DiskStore) map[objects.ID]bool {
	t.Helper()
	got := map[objects.ID]bool{}
	if err := s.List(context.Background(), func(id objects.ID) error { got[id] = true; return nil }); err != nil {
		t.Fatal(err)
	}
	return got
}

// transfer copies ids from src into dst as a fetch does (stored forms,
// deltas against bases the receiver holds).
func transfer(t *testing.T, src, dst *objects.DiskStore, ids ...objects.ID) {
	t.Helper()
	ctx := context.Background()
	for _, id := range ids {
		st, err := src.GetStored(ctx, id, func(b objects.ID) bool { ok, _ := dst.Has(ctx, b); return ok })
		if err != nil {
			t.Fatal(err)
		}
		if _, err := dst.PutStored(ctx, id, st); err != nil {
			t.Fatal(err)
		}
	}
}

func TestBatchDefersPublication(t *testing.T) {
	ctx := context.Background()
	src, dst := openDisk(t), openDisk(t)
	base := floatChunk(7, 16<<10)
	child := nudged(base)
	baseID, _ := src.Put(ctx, base, objects.PutOptions{ElemSize: 4})
	childID, _ := src.Put(ctx, child, objects.PutOptions{ElemSize: 4, DeltaBase: baseID})

	dst.BeginBatch()
	// the child travels as a delta against a base that is itself pending
	transfer(t, src, dst, baseID, childID)
	if b, err := dst.DeltaBase(ctx, childID); err != nil || b != baseID {
		t.Fatalf("pending child: base %v, %v; want a delta against %s", b, err, baseID.Short())
	}
	for _, id := range []objects.ID{baseID, childID} {
		if _, err := os.Stat(objectFile(dst, id)); !os.IsNotExist(err) {
			t.Fatalf("object %s has its final file before EndBatch (stat: %v)", id.Short(), err)
		}
		if ok, err := dst.Has(ctx, id); err != nil || !ok {
			t.Fatalf("Has(pending %s) = %v, %v", id.Short(), ok, err)
		}
	}
	if got, err := dst.Get(ctx, childID); err != nil || !bytes.Equal(got, child) {
		t.Fatalf("Get(pending child): %v", err)
	}
	if l := listed(t, dst); len(l) != 0 {
		t.Fatalf("List shows %d pending objects, want none", len(l))
	}
	if n, err := dst.RemoveStaleTemp(0); err != nil || n != 0 {
		t.Fatalf("RemoveStaleTemp removed %d pending files (%v)", n, err)
	}
	if err := dst.EndBatch(); err != nil {
		t.Fatal(err)
	}
	for _, id := range []objects.ID{baseID, childID} {
		if _, err := os.Stat(objectFile(dst, id)); err != nil {
			t.Fatalf("object %s not published: %v", id.Short(), err)
		}
	}
	if l := listed(t, dst); !l[baseID] || !l[childID] || len(l) != 2 {
		t.Fatalf("List after EndBatch = %v", l)
	}
	rep, err := objects.Fsck(ctx, dst, []objects.ID{childID}, objects.FsckOptions{})
	if err != nil || len(rep.Problems) != 0 {
		t.Fatalf("fsck after EndBatch: %v %v", err, rep.Problems)
	}
	// After the batch, writes are durable at once again.
	other := floatChunk(8, 1024)
	id, err := dst.Put(ctx, other, objects.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(objectFile(dst, id)); err != nil {
		t.Fatalf("Put after EndBatch did not publish: %v", err)
	}
}

// A process that dies inside a batch leaves only temporary files: a store
// opened afterwards has none of the batch's objects, and gc removes them.
func TestBatchNeverEndedLeavesNoObject(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := objects.OpenDisk(dir)
	if err != nil {
		t.Fatal(err)
	}
	s.BeginBatch()
	// above PackMaxStored: a deferred loose file (pack_test.go covers the
	// small objects of a pending pack)
	id, err := s.Put(ctx, floatChunk(9, 400_000), objects.PutOptions{ElemSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	// "restart": a new store over the same directory
	s2, err := objects.OpenDisk(dir)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := s2.Has(ctx, id); ok {
		t.Fatalf("an object of an unfinished batch is visible after a restart")
	}
	n, err := s2.RemoveStaleTemp(0)
	if err != nil || n != 1 {
		t.Fatalf("RemoveStaleTemp after a restart = %d, %v; want 1 file", n, err)
	}
}

// Readers racing with EndBatch always find the object, at one name or
// the other.
func TestBatchPublishWhileReading(t *testing.T) {
	ctx := context.Background()
	s := openDisk(t)
	s.BeginBatch()
	var ids []objects.ID
	var want [][]byte
	for i := range 64 {
		obj := floatChunk(uint64(100+i), 512)
		id, err := s.Put(ctx, obj, objects.PutOptions{ElemSize: 4})
		if err != nil {
			t.Fatal(err)
		}
		ids, want = append(ids, id), append(want, obj)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	stop := make(chan struct{})
	for w := range 4 {
		wg.Go(func() {
			for k := w; ; k++ {
				select {
				case <-stop:
					return
				default:
				}
				i := k % len(ids)
				got, err := s.Get(ctx, ids[i])
				if err == nil && !bytes.Equal(got, want[i]) {
					err = os.ErrInvalid
				}
				if err == nil {
					_, err = s.StoredInfo(ctx, ids[i])
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	err := s.EndBatch()
	close(stop)
	wg.Wait()
	close(errs)
	if err != nil {
		t.Fatal(err)
	}
	for err := range errs {
		t.Fatalf("read during EndBatch: %v", err)
	}
	entries, _ := filepath.Glob(filepath.Join(s.Dir(), "*", ".*"))
	for _, e := range entries {
		if strings.HasPrefix(filepath.Base(e), ".tmp-") {
			t.Fatalf("temporary file left after EndBatch: %s", e)
		}
	}
}

func TestBatchDeletePending(t *testing.T) {
	ctx := context.Background()
	s := openDisk(t)
	s.BeginBatch()
	id, err := s.Put(ctx, floatChunk(11, 256), objects.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, id); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.Has(ctx, id); ok {
		t.Fatal("deleted pending object still present")
	}
	if err := s.EndBatch(); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.Has(ctx, id); ok {
		t.Fatal("deleted pending object published by EndBatch")
	}
}

// Concurrent flushes (a server flushes before every ref update, and many
// requests update refs at once) each publish every object pending when
// they began, and none fails on a file another one has already moved.
func TestBatchConcurrentFlushes(t *testing.T) {
	ctx := context.Background()
	s := openDisk(t)
	for round := range 20 {
		s.BeginBatch()
		var ids []objects.ID
		for i := range 32 {
			id, err := s.Put(ctx, floatChunk(uint64(1000*round+i), 2048), objects.PutOptions{ElemSize: 4})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for range 8 {
			wg.Go(func() {
				if err := s.Flush(); err != nil {
					errs <- err
					return
				}
				// what was pending when this flush began is in place now,
				// for every process (32 objects: in a pack)
				other, err := objects.OpenDisk(s.Dir())
				if err != nil {
					errs <- err
					return
				}
				for _, id := range ids {
					if ok, err := other.Has(ctx, id); !ok || err != nil {
						errs <- fmt.Errorf("object %s not published: %v", id.Short(), err)
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("round %d: concurrent flush: %v", round, err)
		}
		if err := s.EndBatch(); err != nil {
			t.Fatal(err)
		}
	}
}

// InBatch publishes what fn wrote when fn fails midway: each object is
// complete at its final name (a store opened afterwards, as another
// process, reads it), and no temporary file is left; an object fn never
// wrote is nowhere.
func TestInBatchFailureMidway(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := objects.OpenDisk(dir)
	if err != nil {
		t.Fatal(err)
	}
	var written []objects.ID
	chunks := [][]byte{floatChunk(21, 4096), floatChunk(22, 64<<10), floatChunk(23, 4096)}
	boom := errors.New("boom")
	err = s.InBatch(func() error {
		for i, c := range chunks[:2] {
			id, err := s.Put(ctx, c, objects.PutOptions{ElemSize: 4})
			if err != nil {
				return err
			}
			written = append(written, id)
			if _, err := os.Stat(objectFile(s, id)); !os.IsNotExist(err) {
				return fmt.Errorf("object %d has its final file inside the batch (stat: %v)", i, err)
			}
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InBatch = %v, want fn's error", err)
	}
	s2, err := objects.OpenDisk(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range written {
		got, err := s2.Get(ctx, id)
		if err != nil || !bytes.Equal(got, chunks[i]) {
			t.Fatalf("object %d after the failed batch: %v", i, err)
		}
	}
	if ok, _ := s2.Has(ctx, objects.Sum(chunks[2])); ok {
		t.Fatal("an object never written is present")
	}
	if l := listed(t, s2); len(l) != 2 {
		t.Fatalf("List after the failed batch: %d objects, want 2", len(l))
	}
	if n, err := s2.RemoveStaleTemp(0); err != nil || n != 0 {
		t.Fatalf("a failed batch left %d temporary files (%v)", n, err)
	}
}
