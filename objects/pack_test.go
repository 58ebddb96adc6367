package objects

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// smallTensors writes n tensors of 2,000 float32 each (one piece each) in
// one batch, each piece a delta against the same piece of parents[i] when
// given, and returns the tensor ids and tensors.
func smallTensors(t *testing.T, s *DiskStore, n int, seed uint64, parents []*Tensor) ([]ID, []*Tensor) {
	t.Helper()
	ctx := context.Background()
	ids := make([]ID, n)
	ts := make([]*Tensor, n)
	err := s.InBatch(func() error {
		w := NewWriter(ctx, s)
		for i := range n {
			d := floats(2_000, seed+uint64(i))
			var parent *Tensor
			if parents != nil {
				parent = parents[i]
				d = nudge(floats(2_000, 1000+uint64(i)), 0.001, seed+uint64(i))
			}
			id, tt, err := w.Tensor(bytes.NewReader(d), TensorInfo{DType: F32, Shape: []uint64{2_000}, Size: uint64(len(d))}, parent)
			if err != nil {
				return err
			}
			ids[i], ts[i] = id, tt
		}
		return w.Flush()
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids, ts
}

// packFiles lists the pack files of s.
func packFiles(t *testing.T, s *DiskStore) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(s.Dir(), PackDir, "*"+packSuffix))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// looseFiles counts the object files of s (temporary ones included).
func looseFiles(t *testing.T, s *DiskStore) int {
	t.Helper()
	n := 0
	shards, _ := os.ReadDir(s.Dir())
	for _, sh := range shards {
		if len(sh.Name()) != 2 {
			continue
		}
		names, _ := os.ReadDir(filepath.Join(s.Dir(), sh.Name()))
		n += len(names)
	}
	return n
}

func readTensorBytes(t *testing.T, s Store, id ID) []byte {
	t.Helper()
	ctx := context.Background()
	tt, err := ReadTensor(ctx, s, id)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteTensorTo(ctx, s, tt, &b); err != nil {
		t.Fatalf("tensor %s: %v", id.Short(), err)
	}
	return b.Bytes()
}

// A batch of many small objects becomes one pack file and no loose file;
// another store over the same directory (another process) reads every
// object, including deltas whose base is packed, and writes deltas whose
// base is in the first store's pack, which the first store then reads.
func TestPackRoundTrip(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, _ := OpenDisk(dir)
	base, baseT := smallTensors(t, s, 40, 1000, nil)
	ids, _ := smallTensors(t, s, 40, 7, baseT) // deltas against packed bases, in a second pack
	if got := packFiles(t, s); len(got) != 2 {
		t.Fatalf("pack files = %v, want 2", got)
	}
	if n := looseFiles(t, s); n != 0 {
		t.Fatalf("%d loose files beside the packs", n)
	}
	s2, _ := OpenDisk(dir)
	for i, id := range ids {
		if got, want := readTensorBytes(t, s2, id), nudge(floats(2_000, 1000+uint64(i)), 0.001, 7+uint64(i)); !bytes.Equal(got, want) {
			t.Fatalf("tensor %d read back wrong", i)
		}
		tt, _ := ReadTensor(ctx, s2, id)
		if b, err := s2.DeltaBase(ctx, tt.Pieces[0]); err != nil || b != baseT[i].Pieces[0] {
			t.Fatalf("delta base of piece %d = %s, %v; want the packed base", i, b.Short(), err)
		}
	}
	// List: every object once (80 tensors, 80 pieces)
	seen := map[ID]int{}
	if err := s2.List(ctx, func(id ID) error { seen[id]++; return nil }); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 160 {
		t.Fatalf("List gave %d ids, want 160", len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("List gave %s %d times", id.Short(), n)
		}
		if ok, err := s2.Has(ctx, id); !ok || err != nil {
			t.Fatalf("Has(%s) = %v, %v", id.Short(), ok, err)
		}
		if _, err := s2.ModTime(id); err != nil {
			t.Fatal(err)
		}
	}
	// the second store writes deltas against the first store's pack; the
	// first store, whose list of packs is older, reads them
	ids3, _ := smallTensors(t, s2, 40, 99, baseT)
	for i, id := range ids3 {
		if got, want := readTensorBytes(t, s, id), nudge(floats(2_000, 1000+uint64(i)), 0.001, 99+uint64(i)); !bytes.Equal(got, want) {
			t.Fatalf("tensor %d written by the other store read back wrong", i)
		}
	}
	// stored forms as served: GetStored and OpenStored agree for a packed
	// delta and a packed self-contained piece
	bt, _ := ReadTensor(ctx, s, base[3])
	dt, _ := ReadTensor(ctx, s, ids[3])
	for _, id := range []ID{bt.Pieces[0], dt.Pieces[0], base[3]} {
		want, err := s2.GetStored(ctx, id, func(ID) bool { return true })
		if err != nil {
			t.Fatal(err)
		}
		info, err := s2.StoredInfo(ctx, id)
		if err != nil || info.Size != int64(len(want)) {
			t.Fatalf("StoredInfo(%s) = %+v, %v; GetStored gave %d bytes", id.Short(), info, err, len(want))
		}
		r, err := s2.OpenStored(id)
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		if _, err := io.Copy(&got, r); err != nil { // WriteTo
			t.Fatal(err)
		}
		r.Seek(1, io.SeekStart)
		rest, err := io.ReadAll(struct{ io.Reader }{r}) // Read
		r.Close()
		if err != nil || !bytes.Equal(got.Bytes(), want) || !bytes.Equal(rest, want[1:]) {
			t.Fatalf("OpenStored(%s) differs from GetStored (%v)", id.Short(), err)
		}
	}
}

// A batch of fewer than PackMinObjects objects stays loose files.
func TestPackSmallBatchStaysLoose(t *testing.T) {
	s, _ := OpenDisk(t.TempDir())
	ids, _ := smallTensors(t, s, 5, 1, nil)
	if got := packFiles(t, s); len(got) != 0 {
		t.Fatalf("a batch of 10 objects made packs %v", got)
	}
	if n := looseFiles(t, s); n != 10 {
		t.Fatalf("%d loose files, want 10", n)
	}
	s2, _ := OpenDisk(s.Dir())
	for i, id := range ids {
		if !bytes.Equal(readTensorBytes(t, s2, id), floats(2_000, 1+uint64(i))) {
			t.Fatal("read back wrong")
		}
	}
}

// A process that dies in a batch whose pending pack has spilled to its
// temporary file leaves no object another process sees, and gc (another
// process's) removes the file; the writing process's own RemoveStaleTemp
// leaves its pending pack alone.
func TestPackCrashLeavesNoObject(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, _ := OpenDisk(dir)
	s.BeginBatch()
	var ids []ID
	for i := range 100 { // ~100 × 55 KB: past the memory buffer
		id, err := s.Put(ctx, EncodeChunk(floats(16_000, uint64(i))), PutOptions{ElemSize: 4})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	temps, _ := filepath.Glob(filepath.Join(dir, PackDir, tmpPrefix+"*"))
	if len(temps) != 1 {
		t.Fatalf("temporary packs %v, want one", temps)
	}
	if n, err := s.RemoveStaleTemp(0); n != 0 || err != nil {
		t.Fatalf("the writer's RemoveStaleTemp removed %d (%v): its own pending pack", n, err)
	}
	for _, id := range ids {
		if ok, _ := s.Has(ctx, id); !ok {
			t.Fatal("the writer lost a pending object")
		}
	}
	s2, _ := OpenDisk(dir) // "restart"
	for _, id := range ids {
		if ok, _ := s2.Has(ctx, id); ok {
			t.Fatalf("an object of an unfinished batch is visible to another process")
		}
	}
	n := 0
	s2.List(ctx, func(ID) error { n++; return nil })
	if n != 0 {
		t.Fatalf("another process lists %d objects", n)
	}
	if n, err := s2.RemoveStaleTemp(0); n != 1 || err != nil {
		t.Fatalf("RemoveStaleTemp after a restart = %d, %v; want 1 file", n, err)
	}
}

// ageAll sets the time of every object file and pack of s to an hour ago.
func ageAll(t *testing.T, s *DiskStore) {
	t.Helper()
	old := time.Now().Add(-2 * time.Hour)
	filepath.Walk(s.Dir(), func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			os.Chtimes(p, old, old)
		}
		return nil
	})
}

// gc rewrites an old pack holding unreachable objects with only its
// reachable ones (and their delta bases), removes one with none, and
// spares a pack reused after it was listed.
func TestPackGC(t *testing.T) {
	ctx := context.Background()
	s, _ := OpenDisk(t.TempDir())
	_, baseT := smallTensors(t, s, 40, 1000, nil)
	keepIDs, _ := smallTensors(t, s, 40, 7, baseT)
	gone, _ := smallTensors(t, s, 40, 5000, nil)
	if len(packFiles(t, s)) != 3 {
		t.Fatal("want three packs")
	}
	// fresh: nothing goes
	rep, err := GC(ctx, s, keepIDs, GCOptions{})
	if err != nil || rep.Removed != 0 {
		t.Fatalf("gc within grace: %+v, %v", rep, err)
	}
	ageAll(t, s)
	dry, err := GC(ctx, s, keepIDs, GCOptions{DryRun: true})
	if err != nil || dry.Removed != 80+40 || len(packFiles(t, s)) != 3 {
		t.Fatalf("dry run: %+v, %v", dry, err)
	}
	rep, err = GC(ctx, s, keepIDs, GCOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// the base tensors' objects go, their pieces (delta bases) stay; the
	// third pack goes whole
	if rep.Removed != 40+80 || rep.Kept != 80+40 {
		t.Fatalf("gc: %+v, want 120 removed, 120 kept", rep)
	}
	s2, _ := OpenDisk(s.Dir())
	for i, id := range keepIDs {
		if got, want := readTensorBytes(t, s2, id), nudge(floats(2_000, 1000+uint64(i)), 0.001, 7+uint64(i)); !bytes.Equal(got, want) {
			t.Fatal("a kept tensor read back wrong after gc")
		}
	}
	for _, id := range gone {
		if ok, _ := s2.Has(ctx, id); ok {
			t.Fatal("an unreachable packed tensor survived gc")
		}
		if ok, _ := s.Has(ctx, id); ok {
			t.Fatal("the collecting store still has an unreachable packed tensor")
		}
	}
	frep, err := Fsck(ctx, s2, keepIDs, FsckOptions{})
	if err != nil || len(frep.Problems) != 0 || len(frep.Dangling) != 40 { // the bases' pieces
		t.Fatalf("fsck after gc: %v %v %v", frep.Problems, frep.Dangling, err)
	}
	if len(packFiles(t, s)) != 2 {
		t.Fatalf("packs after gc: %v", packFiles(t, s))
	}
}

// A pack reused (an object in it written again) after gc judged it old
// is put back by the rewrite; one not reused goes.
func TestPackGCReuseDuringCollection(t *testing.T) {
	ctx := context.Background()
	s, _ := OpenDisk(t.TempDir())
	ids, _ := smallTensors(t, s, 40, 1, nil)
	ageAll(t, s)
	s.loadPacks(true)
	pk := s.packs[0]
	cutoff := time.Now().Add(-time.Hour)
	// a writer reuses one object: Put finds it and refreshes the pack
	tt, _ := ReadTensor(ctx, s, ids[0])
	if _, err := Write(ctx, s, tt); err != nil {
		t.Fatal(err)
	}
	removed, err := s.rewritePack(pk, func(ID) bool { return false }, cutoff)
	if err != nil || removed {
		t.Fatalf("rewrite of a reused pack: removed %v, %v", removed, err)
	}
	s2, _ := OpenDisk(s.Dir())
	for i, id := range ids {
		if !bytes.Equal(readTensorBytes(t, s2, id), floats(2_000, 1+uint64(i))) {
			t.Fatal("an object of the reused pack is lost")
		}
	}
	ageAll(t, s)
	if removed, err := s.rewritePack(pk, func(ID) bool { return false }, cutoff); err != nil || !removed {
		t.Fatalf("rewrite of an old pack: removed %v, %v", removed, err)
	}
	if ok, _ := s2.Has(ctx, ids[0]); ok {
		t.Fatal("removed pack's object still present")
	}
	// a writer that reuses it now writes it again
	if _, err := Write(ctx, s, tt); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s2.Has(ctx, ids[0]); !ok {
		t.Fatal("an object reused after its pack went was not written again")
	}
}

// flipByte changes one byte of a (read-only) file.
func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	os.Chmod(path, 0o644)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b [1]byte
	f.ReadAt(b[:], off)
	b[0] ^= 0x5a
	if _, err := f.WriteAt(b[:], off); err != nil {
		t.Fatal(err)
	}
}

// fsck names a damaged packed object and its pack; Delete takes it out of
// the pack (repair then writes it loose); a damaged index names the pack.
func TestPackFsckAndRepair(t *testing.T) {
	ctx := context.Background()
	s, _ := OpenDisk(t.TempDir())
	ids, _ := smallTensors(t, s, 40, 1, nil)
	tt, _ := ReadTensor(ctx, s, ids[5])
	victim := tt.Pieces[0]
	good, err := s.GetStored(ctx, victim, nil)
	if err != nil {
		t.Fatal(err)
	}
	l, ok := s.findPacked(victim, true)
	if !ok || l.pk == nil {
		t.Fatal("piece not packed")
	}
	flipByte(t, l.pk.path, l.e.off+l.e.n/2)
	s2, _ := OpenDisk(s.Dir())
	rep, err := Fsck(ctx, s2, ids, FsckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) != 1 || rep.Problems[0].ID != victim {
		t.Fatalf("fsck problems %v, want one naming %s", rep.Problems, victim.Short())
	}
	var ce *CorruptError
	msg := rep.Problems[0].Err.Error()
	if !errors.As(rep.Problems[0].Err, &ce) || !strings.Contains(msg, filepath.Base(l.pk.path)) {
		t.Fatalf("problem %q: want a CorruptError naming the pack", msg)
	}
	// repair: delete the damaged copy, store a good one
	if err := s2.Delete(ctx, victim); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s2.Has(ctx, victim); ok {
		t.Fatal("deleted packed object still present")
	}
	if _, err := s2.PutStored(ctx, victim, good); err != nil {
		t.Fatal(err)
	}
	rep, err = Fsck(ctx, s2, ids, FsckOptions{})
	if err != nil || len(rep.Problems) != 0 {
		t.Fatalf("fsck after repair: %v %v", rep.Problems, err)
	}
	for i, id := range ids {
		if !bytes.Equal(readTensorBytes(t, s, id), floats(2_000, 1+uint64(i))) {
			t.Fatal("read back wrong after repair")
		}
	}
	// a damaged index: the pack is named, its objects missing
	pk := packFiles(t, s2)
	if len(pk) != 1 {
		t.Fatalf("packs %v", pk)
	}
	fi, _ := os.Stat(pk[0])
	flipByte(t, pk[0], fi.Size()-packTrailerSize-3)
	s3, _ := OpenDisk(s.Dir())
	rep, err = Fsck(ctx, s3, ids, FsckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var pe *PackError
	found := false
	for _, p := range rep.Problems {
		if errors.As(p.Err, &pe) && pe.Path == pk[0] && strings.Contains(p.String(), "index checksum") {
			found = true
		}
	}
	if !found || len(rep.Problems) < 2 {
		t.Fatalf("fsck of a damaged index: %v", rep.Problems)
	}
}

// validPack returns a small well-formed pack.
func validPack() []byte {
	b := []byte(packMagic)
	var entries []packEntry
	for i, s := range []string{"one", "second", "3"} {
		entries = append(entries, packEntry{id: Sum([]byte{byte(i)}), off: int64(len(b)), n: int64(len(s))})
		b = append(b, s...)
	}
	return append(b, packIndex(entries, int64(len(b)))...)
}

func TestPackIndexRejects(t *testing.T) {
	good := validPack()
	if e, err := readPackIndex(bytes.NewReader(good), int64(len(good))); err != nil || len(e) != 3 {
		t.Fatalf("valid pack: %v, %v", e, err)
	}
	for name, mut := range map[string]func([]byte) []byte{
		"truncated":    func(b []byte) []byte { return b[:len(b)-1] },
		"no magic":     func(b []byte) []byte { b[0] = 'X'; return b },
		"end magic":    func(b []byte) []byte { b[len(b)-1] ^= 1; return b },
		"index crc":    func(b []byte) []byte { b[len(b)-packTrailerSize-1] ^= 1; return b },
		"count":        func(b []byte) []byte { b[len(b)-packTrailerSize+8]++; return b },
		"short":        func(b []byte) []byte { return b[:10] },
		"index offset": func(b []byte) []byte { b[len(b)-packTrailerSize]--; return b },
		"empty":        func(b []byte) []byte { return nil },
		"data appended": func(b []byte) []byte {
			return append(b[:len(b)-packTrailerSize:len(b)-packTrailerSize], append([]byte("x"), b[len(b)-packTrailerSize:]...)...)
		},
	} {
		b := mut(append([]byte(nil), good...))
		if _, err := readPackIndex(bytes.NewReader(b), int64(len(b))); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// entries out of bounds, overlapping, unsorted: well-formed indexes
	// that lie
	for name, entries := range map[string][]packEntry{
		"out of bounds": {{id: Sum([]byte{1}), off: 8, n: 100}},
		"before magic":  {{id: Sum([]byte{1}), off: 2, n: 3}},
		"empty entry":   {{id: Sum([]byte{1}), off: 8, n: 0}},
		"overlap":       {{id: Sum([]byte{1}), off: 8, n: 5}, {id: Sum([]byte{2}), off: 10, n: 3}},
	} {
		b := append([]byte(packMagic), "0123456789"...)
		b = append(b, packIndex(entries, int64(len(b)))...)
		if _, err := readPackIndex(bytes.NewReader(b), int64(len(b))); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzPackIndex(f *testing.F) {
	f.Add(validPack())
	f.Add([]byte(packMagic + packEndMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, err := readPackIndex(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		// what it accepts is consistent: sorted, distinct, in bounds
		for i, e := range entries {
			if e.off < int64(len(packMagic)) || e.n <= 0 || e.off+e.n > int64(len(b))-packTrailerSize {
				t.Fatalf("entry %d out of bounds: %+v", i, e)
			}
			if i > 0 && bytes.Compare(entries[i-1].id[:], e.id[:]) >= 0 {
				t.Fatal("unsorted")
			}
		}
	})
}

// Readers racing with the publication of a pending pack, as a pack or as
// loose files (fewer than PackMinObjects), always find every object.
func TestPackPublishWhileReading(t *testing.T) {
	ctx := context.Background()
	for _, n := range []int{PackMinObjects - 1, PackMinObjects} {
		s, _ := OpenDisk(t.TempDir())
		s.BeginBatch()
		var ids []ID
		for i := range n {
			id, err := s.Put(ctx, EncodeChunk(floats(500, uint64(i))), PutOptions{ElemSize: 4})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		stop := make(chan struct{})
		errs := make(chan error, 4)
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Go(func() {
				for k := w; ; k++ {
					select {
					case <-stop:
						return
					default:
					}
					id := ids[k%n]
					if _, err := s.Get(ctx, id); err != nil {
						errs <- err
						return
					}
					if ok, err := s.Has(ctx, id); !ok || err != nil {
						errs <- fmt.Errorf("Has(%s) = %v, %v", id.Short(), ok, err)
						return
					}
					if _, err := s.DeltaBase(ctx, id); err != nil {
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
			t.Fatalf("%d objects: read during EndBatch: %v", n, err)
		}
		if packs := len(packFiles(t, s)); (packs == 1) != (n >= PackMinObjects) {
			t.Fatalf("%d objects: %d packs", n, packs)
		}
	}
}

// Another process writing objects a pack already holds writes nothing
// new: it refreshes the pack's time (gc's grace period) instead.
func TestPackReuseByAnotherStore(t *testing.T) {
	s, _ := OpenDisk(t.TempDir())
	smallTensors(t, s, 40, 1, nil)
	ageAll(t, s)
	packs := packFiles(t, s)
	s2, _ := OpenDisk(s.Dir())
	smallTensors(t, s2, 40, 1, nil)
	if got := packFiles(t, s2); len(got) != 1 || got[0] != packs[0] {
		t.Fatalf("packs after writing the same objects again: %v, want %v", got, packs)
	}
	if n := looseFiles(t, s2); n != 0 {
		t.Fatalf("%d loose files written for objects a pack holds", n)
	}
	fi, _ := os.Stat(packs[0])
	if time.Since(fi.ModTime()) > time.Minute {
		t.Fatalf("pack time %v not refreshed by the reuse", fi.ModTime())
	}
}

func TestLocate(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := OpenDisk(dir)
	if err != nil {
		t.Fatal(err)
	}
	// One tensor written outside any batch is loose; a batch of many, and
	// a second version of them (deltas against the first), are packed.
	w := NewWriter(ctx, s)
	d := floats(2_000, 7)
	loose, _, err := w.Tensor(bytes.NewReader(d), TensorInfo{DType: F32, Shape: []uint64{2_000}, Size: uint64(len(d))}, nil)
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		t.Fatal(err)
	}
	packed, v1 := smallTensors(t, s, PackMinObjects, 1, nil)
	v2, _ := smallTensors(t, s, PackMinObjects, 2, v1)
	packed = append(packed, v2...)

	// A second store on the same directory finds them all, and the section
	// it names holds a form that decodes to what that store reads.
	s2, err := OpenDisk(dir)
	if err != nil {
		t.Fatal(err)
	}
	base := func(id ID) ([]byte, error) { return s2.Get(ctx, id) }
	for _, id := range append([]ID{loose}, packed...) {
		p, off, n, err := s2.Locate(id)
		if err != nil {
			t.Fatalf("Locate %s: %v", id, err)
		}
		if inPack := filepath.Dir(p) == filepath.Join(dir, PackDir); inPack != (id != loose) {
			t.Fatalf("%s located in %s", id, p)
		}
		b, err := os.ReadFile(p)
		if err != nil || off < 0 || off+n > int64(len(b)) {
			t.Fatalf("read %s: %v (section %d+%d of %d bytes)", p, err, off, n, len(b))
		}
		want, err := s2.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		got, _, err := DecodeStoredWith(b[off:off+n], base)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("the section of %s decodes to %d bytes, %v; want its %d bytes", id, len(got), err, len(want))
		}
	}
	if _, _, _, err := s2.Locate(Sum([]byte("never stored"))); !errors.As(err, new(*NotFoundError)) {
		t.Fatalf("Locate of an absent object = %v, want NotFoundError", err)
	}
}

// TestPendingPackReadsWhileSpilling writes small objects from several
// goroutines in one batch, past many fills of the pending pack's memory
// buffer (whose writes to the temporary file run outside the store's
// lock), and reads each back at once: an object whose buffer is on its
// way to the file is read from memory, and every object is in the pack.
func TestPendingPackReadsWhileSpilling(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := OpenDisk(dir)
	if err != nil {
		t.Fatal(err)
	}
	const writers, each = 4, 40 // 160 objects of ~200 KB: ~8 buffer fills
	ids := make([][]ID, writers)
	err = s.InBatch(func() error {
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		for g := range writers {
			wg.Go(func() {
				for i := range each {
					d := floats(50_000, uint64(g*1000+i))
					obj := make([]byte, HeaderSize+len(d))
					PutChunkHeader(obj)
					copy(obj[HeaderSize:], d)
					id, err := s.Put(ctx, obj, PutOptions{ElemSize: 4})
					if err == nil {
						var got []byte
						if got, err = s.Get(ctx, id); err == nil && !bytes.Equal(got, obj) {
							err = fmt.Errorf("object %s read back differs", id)
						}
					}
					if err != nil {
						errs <- err
						return
					}
					ids[g] = append(ids[g], id)
				}
			})
		}
		wg.Wait()
		close(errs)
		return <-errs
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(packFiles(t, s)); n != 1 {
		t.Fatalf("%d pack files, want 1", n)
	}
	s2, err := OpenDisk(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range ids {
		for _, id := range g {
			if _, err := s2.Get(ctx, id); err != nil {
				t.Fatalf("after the batch: %v", err)
			}
			if p, _, _, err := s2.Locate(id); err != nil || filepath.Dir(p) != filepath.Join(dir, PackDir) {
				t.Fatalf("%s in %s, %v; want the pack", id, p, err)
			}
		}
	}
}
