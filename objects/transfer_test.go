package objects_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/fed-vcs/fed/objects"
)

// floatChunk returns a chunk object of n float32s drawn from seed.
func floatChunk(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	data := make([]byte, 4*n)
	for i := 0; i < n; i++ {
		binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(float32(r.NormFloat64())))
	}
	return objects.EncodeChunk(data)
}

// nudged returns obj with one low bit flipped in every 97th element;
// the bit depends on the call count, so repeated nudges never cycle back
// within eight calls.
func nudged(obj []byte) []byte {
	nudges++
	out := bytes.Clone(obj)
	for i := objects.HeaderSize; i+4 <= len(out); i += 4 * 97 {
		out[i] ^= byte(1 << (nudges % 8))
	}
	return out
}

var nudges int

func openDisk(t *testing.T) *objects.DiskStore {
	t.Helper()
	s, err := objects.OpenDisk(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStoredTransferRoundTrip(t *testing.T) {
	ctx := context.Background()
	src, dst := openDisk(t), openDisk(t)
	base := floatChunk(1, 64<<10)
	child := nudged(base)
	small, err := objects.Encode(&objects.Tree{})
	if err != nil {
		t.Fatal(err)
	}
	baseID, err := src.Put(ctx, base, objects.PutOptions{ElemSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	childID, err := src.Put(ctx, child, objects.PutOptions{ElemSize: 4, DeltaBase: baseID})
	if err != nil {
		t.Fatal(err)
	}
	smallID, err := src.Put(ctx, small, objects.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	info, err := src.StoredInfo(ctx, childID)
	if err != nil {
		t.Fatal(err)
	}
	if info.Base != baseID || info.Depth != 1 {
		t.Fatalf("child stored info = %+v, want a delta of depth 1 against %s", info, baseID.Short())
	}

	// Without the base on the receiver the delta is sent self-contained.
	sc, err := src.GetStored(ctx, childID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if added, err := dst.PutStored(ctx, childID, sc); err != nil || !added {
		t.Fatalf("PutStored(self-contained child) = %v, %v", added, err)
	}
	if got, err := dst.Get(ctx, childID); err != nil || !bytes.Equal(got, child) {
		t.Fatalf("child after transfer: %v (equal %v)", err, bytes.Equal(got, child))
	}
	if b, _ := dst.DeltaBase(ctx, childID); !b.IsZero() {
		t.Fatalf("self-contained transfer stored a delta against %s", b.Short())
	}

	// With the base on the receiver the delta travels as is, and is smaller.
	dst2 := openDisk(t)
	for _, id := range []objects.ID{baseID, smallID} {
		st, err := src.GetStored(ctx, id, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := dst2.PutStored(ctx, id, st); err != nil {
			t.Fatal(err)
		}
	}
	delta, err := src.GetStored(ctx, childID, func(id objects.ID) bool { return id == baseID })
	if err != nil {
		t.Fatal(err)
	}
	if len(delta) >= len(sc) {
		t.Errorf("delta form has %d bytes, self-contained %d: want smaller", len(delta), len(sc))
	}
	if _, err := dst2.PutStored(ctx, childID, delta); err != nil {
		t.Fatal(err)
	}
	if got, err := dst2.Get(ctx, childID); err != nil || !bytes.Equal(got, child) {
		t.Fatalf("delta child after transfer: %v", err)
	}
	if b, _ := dst2.DeltaBase(ctx, childID); b != baseID {
		t.Fatalf("delta transfer stored base %s, want %s", b.Short(), baseID.Short())
	}
	// A second put of the same object is not new.
	if added, err := dst2.PutStored(ctx, childID, delta); err != nil || added {
		t.Fatalf("repeated PutStored = %v, %v; want false, nil", added, err)
	}
	rep, err := objects.Fsck(ctx, dst2, []objects.ID{childID, smallID}, objects.FsckOptions{})
	if err != nil || len(rep.Problems) != 0 {
		t.Fatalf("fsck after transfer: %v %v", err, rep.Problems)
	}
}

func TestPutStoredRejects(t *testing.T) {
	ctx := context.Background()
	src := openDisk(t)
	base := floatChunk(2, 4096)
	baseID, _ := src.Put(ctx, base, objects.PutOptions{ElemSize: 4})
	child := nudged(base)
	childID, _ := src.Put(ctx, child, objects.PutOptions{ElemSize: 4, DeltaBase: baseID})
	good, err := src.GetStored(ctx, baseID, nil)
	if err != nil {
		t.Fatal(err)
	}
	delta, err := src.GetStored(ctx, childID, func(objects.ID) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(good)
	flipped[len(flipped)-1] ^= 0xff
	other := objects.Sum([]byte("something else"))
	// A form may carry a checksum (design §6): a wrong one is refused,
	// the right one accepted (checked while decoding).
	withCRC := func(sum uint32) []byte {
		b := bytes.Clone(good)
		b[2] |= 0x80
		return binary.LittleEndian.AppendUint32(b, sum)
	}
	right := crc32.Checksum(base, crc32.MakeTable(crc32.Castagnoli))
	if added, err := openDisk(t).PutStored(ctx, baseID, withCRC(right)); err != nil || !added {
		t.Fatalf("PutStored with its right checksum = %v, %v", added, err)
	}
	cases := []struct {
		name   string
		id     objects.ID
		stored []byte
		want   error
	}{
		{"wrong id", other, bytes.Clone(good), objects.ErrMismatch},
		{"delta without base", childID, bytes.Clone(delta), objects.ErrMissingBase},
		{"bad magic", baseID, []byte("XX\x00hello"), nil},
		{"corrupt payload", baseID, flipped, nil},
		{"wrong checksum", baseID, withCRC(right ^ 1), nil},
		{"empty", baseID, nil, nil},
		{"raw but not an object", objects.Sum([]byte("junk")), append([]byte("FZ\x00"), "junk"...), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dst := openDisk(t)
			added, err := dst.PutStored(ctx, tc.id, tc.stored)
			if err == nil || added {
				t.Fatalf("PutStored = %v, %v; want an error", added, err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("PutStored error %v, want %v", err, tc.want)
			}
			if ok, _ := dst.Has(ctx, tc.id); ok {
				t.Fatal("rejected object was stored")
			}
		})
	}
}

// A delta received against a base that is already at the maximum depth
// on the receiver is stored self-contained, so reads never exceed the
// chain limit; the depth the sender claims is never trusted.
func TestPutStoredCapsDeltaDepth(t *testing.T) {
	ctx := context.Background()
	src, dst := openDisk(t), openDisk(t)
	obj := floatChunk(3, 8192)
	prev := objects.ZeroID
	var last []byte
	for i := 0; i <= objects.MaxDeltaDepth; i++ {
		id, err := src.Put(ctx, obj, objects.PutOptions{ElemSize: 4, DeltaBase: prev})
		if err != nil {
			t.Fatal(err)
		}
		st, err := src.GetStored(ctx, id, func(objects.ID) bool { return true })
		if err != nil {
			t.Fatal(err)
		}
		if _, err := dst.PutStored(ctx, id, st); err != nil {
			t.Fatal(err)
		}
		prev, last = id, obj
		obj = nudged(obj)
	}
	if info, err := dst.StoredInfo(ctx, prev); err != nil || info.Depth != objects.MaxDeltaDepth {
		t.Fatalf("chain tip on receiver: %+v, %v; want depth %d", info, err, objects.MaxDeltaDepth)
	}
	// Another sender holds the tip self-contained and a delta of depth 1
	// against it.
	src2 := openDisk(t)
	if _, err := src2.Put(ctx, last, objects.PutOptions{ElemSize: 4}); err != nil {
		t.Fatal(err)
	}
	xid, err := src2.Put(ctx, obj, objects.PutOptions{ElemSize: 4, DeltaBase: prev})
	if err != nil {
		t.Fatal(err)
	}
	st, err := src2.GetStored(ctx, xid, func(objects.ID) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	if st[2] != 3 || st[4] != 1 {
		t.Fatalf("sender form: encoding %d depth %d, want a delta of depth 1", st[2], st[4])
	}
	if _, err := dst.PutStored(ctx, xid, st); err != nil {
		t.Fatal(err)
	}
	info, err := dst.StoredInfo(ctx, xid)
	if err != nil || info.Depth != 0 {
		t.Fatalf("received delta past the limit stored as %+v, %v; want self-contained", info, err)
	}
	if got, err := dst.Get(ctx, xid); err != nil || !bytes.Equal(got, obj) {
		t.Fatalf("read back: %v", err)
	}
}

// OpenStored's reader copies (WriteTo, as io.Copy calls it, handing the
// file to a destination's ReadFrom) the same bytes as GetStored, without
// the local checksum, from wherever reading stopped; a file shorter than
// its header says fails instead of sending less.
func TestOpenStoredWriteTo(t *testing.T) {
	ctx := context.Background()
	s, err := objects.OpenDisk(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 64<<10)
	rng := rand.New(rand.NewPCG(5, 6))
	for i := 0; i+4 <= len(data); i += 4 {
		binary.LittleEndian.PutUint32(data[i:], math.Float32bits(float32(rng.NormFloat64())))
	}
	id, err := s.Put(ctx, objects.EncodeChunk(data), objects.PutOptions{ElemSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	want, err := s.GetStored(ctx, id, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, skip := range []int{0, 1, 2, 3, 100} {
		f, err := s.OpenStored(id)
		if err != nil {
			t.Fatal(err)
		}
		head := make([]byte, skip)
		if _, err := io.ReadFull(f, head); err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		n, err := io.Copy(&got, f)
		f.Close()
		if err != nil || n != int64(len(want)-skip) || !bytes.Equal(append(head, got.Bytes()...), want) {
			t.Fatalf("after %d bytes read: copied %d bytes (%v), want the %d of GetStored's form", skip, n, err, len(want)-skip)
		}
	}
	// a file cut short after it was opened
	f, err := s.OpenStored(id)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := id.String()
	if err := os.Truncate(filepath.Join(s.Dir(), h[:2], h[2:]), 1000); err != nil {
		t.Fatal(err)
	}
	if n, err := io.Copy(io.Discard, f); err == nil {
		t.Fatalf("a truncated file copied %d bytes without an error", n)
	}
}
