package objects

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func sampleObjects() []Object {
	id := func(b byte) ID { var i ID; i[0] = b; i[31] = b; return i }
	return []Object{
		&Chunk{Data: []byte("hello")},
		&Chunk{Data: []byte{}},
		&Tensor{DType: F32, Shape: []uint64{2, 3}, Size: 24, PieceSize: 16, Pieces: []ID{id(1), id(2)}},
		&Tensor{DType: F32, Shape: []uint64{}, Size: 4, PieceSize: DefaultPieceSize, Pieces: []ID{id(1)}},
		&Tensor{DType: F16, Shape: []uint64{0, 5}, Size: 0, PieceSize: DefaultPieceSize},
		&Tensor{DType: "X_UNKNOWN", Shape: []uint64{3}, Size: 7, PieceSize: DefaultPieceSize, Pieces: []ID{id(9)}},
		&Blob{},
		&Blob{Size: 10, Chunks: []ChunkRef{{id(1), 4}, {id(2), 6}}},
		&Model{Format: "safetensors", Size: 30, Segments: []Segment{{"", id(3), 6}, {"w", id(4), 24}}},
		&Model{Format: "safetensors", Size: 0, Meta: []KV{{"a", "1"}, {"b", "2"}}},
		&Tree{},
		&Tree{Entries: []TreeEntry{{"a.safetensors", ModeFile, KindModel, id(5)}, {"run.sh", ModeExec, KindBlob, id(6)}, {"sub", ModeDir, KindTree, id(7)}}},
		&Commit{Tree: id(8), Time: 1700000000, TZ: -300, Message: "first\n", Meta: []KV{{"samples", "1437"}}},
		&Commit{Tree: id(8), Parents: []ID{id(1), id(2)}, Author: PublicKey(id(3)), Time: -5, Message: "merge", Signature: bytes.Repeat([]byte{7}, 64)},
		&Tag{Target: id(1), TargetKind: KindCommit, Name: "v1", Time: 1, Message: "release"},
		&Proof{Commit: id(1), System: "groth16-bn254/update/v1", Needs: []ID{id(2)}, Body: []byte{1, 2, 3}},
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	for _, o := range sampleObjects() {
		b, err := Encode(o)
		if err != nil {
			t.Fatalf("encode %#v: %v", o, err)
		}
		got, err := Decode(b)
		if err != nil {
			t.Fatalf("decode %s: %v", o.Kind(), err)
		}
		if diff := cmp.Diff(o, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s round trip (-want +got):\n%s", o.Kind(), diff)
		}
		again, _ := Encode(got)
		if !bytes.Equal(again, b) {
			t.Errorf("%s: re-encoding differs", o.Kind())
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	good, _ := Encode(&Tree{Entries: []TreeEntry{{"a", ModeFile, KindBlob, ID{1}}, {"b", ModeFile, KindBlob, ID{2}}}})
	cases := map[string][]byte{
		"empty":        nil,
		"bad magic":    append([]byte("XED"), good[3:]...),
		"version 2":    append([]byte{'F', 'E', 'D', 2}, good[4:]...),
		"unknown kind": append([]byte{'F', 'E', 'D', 1, 99}, good[5:]...),
		"trailing":     append(append([]byte{}, good...), 0),
		"truncated":    good[:len(good)-1],
	}
	unsorted, _ := encode(&Tree{Entries: []TreeEntry{{"b", ModeFile, KindBlob, ID{1}}, {"a", ModeFile, KindBlob, ID{2}}}})
	cases["unsorted tree"] = unsorted
	dotdot, _ := encode(&Tree{Entries: []TreeEntry{{"..", ModeDir, KindTree, ID{1}}}})
	cases["dotdot name"] = dotdot
	slash, _ := encode(&Tree{Entries: []TreeEntry{{"a/b", ModeFile, KindBlob, ID{1}}}})
	cases["slash name"] = slash
	badSize, _ := encode(&Tensor{DType: F32, Shape: []uint64{3}, Size: 8, PieceSize: 16, Pieces: []ID{{1}}})
	cases["tensor size mismatch"] = badSize
	badPieces, _ := encode(&Tensor{DType: F32, Shape: []uint64{3}, Size: 12, PieceSize: 4, Pieces: []ID{{1}}})
	cases["tensor piece count"] = badPieces
	dupKV, _ := encode(&Commit{Meta: []KV{{"a", "1"}, {"a", "2"}}})
	cases["duplicate meta"] = dupKV
	// a non-minimal varint: parent count 0 written as 0x80 0x00
	c, _ := encode(&Commit{})
	nonMin := append(append(append([]byte{}, c[:5+32]...), 0x80, 0x00), c[5+33:]...)
	cases["non-minimal varint"] = nonMin
	huge := append([]byte{'F', 'E', 'D', 1, byte(KindBlob), 0}, binary.AppendUvarint(nil, math.MaxUint32)...)
	cases["huge count"] = huge
	for name, b := range cases {
		if _, err := Decode(b); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
}

func TestBase58(t *testing.T) {
	// Known Solana addresses: the system program is 32 zero bytes.
	if got := Base58(make([]byte, 32)); got != "11111111111111111111111111111111" {
		t.Errorf("zero key = %s", got)
	}
	if got := Base58([]byte("hello world")); got != "StV1DL6CwTryKyV" {
		t.Errorf("base58(hello world) = %s", got)
	}
	for i := 0; i < 200; i++ {
		b := make([]byte, rand.IntN(40))
		for j := range b {
			if rand.IntN(4) > 0 {
				b[j] = byte(rand.IntN(256))
			}
		}
		d, err := DecodeBase58(Base58(b))
		if err != nil || !bytes.Equal(d, b) {
			t.Fatalf("round trip %x: %x %v", b, d, err)
		}
	}
	if _, err := DecodeBase58("0OIl"); err == nil {
		t.Error("accepted characters outside the alphabet")
	}
}

func TestGroupUngroup(t *testing.T) {
	for _, s := range []int{1, 2, 3, 4, 8} {
		data := make([]byte, s*37)
		for i := range data {
			data[i] = byte(i * 7)
		}
		g := make([]byte, len(data))
		Group(g, data, s)
		if s == 4 && (g[0] != data[0] || g[1] != data[4] || g[37] != data[1]) {
			t.Errorf("s=4 layout wrong: %v", g[:8])
		}
		back := make([]byte, len(data))
		Ungroup(back, g, s)
		if !bytes.Equal(back, data) {
			t.Errorf("s=%d: round trip differs", s)
		}
	}
}

// TestUngroupXor checks the vectorised interleaving (whole 16-element
// blocks) and its scalar tail against the definition, with and without a
// delta base, for every length around the block size.
func TestUngroupXor(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, s := range []int{1, 2, 3, 4, 8} {
		for n := 0; n <= 70; n++ {
			g := make([]byte, n*s)
			base := make([]byte, n*s)
			for i := range g {
				g[i], base[i] = byte(r.Uint32()), byte(r.Uint32())
			}
			want := make([]byte, n*s)
			for j := 0; j < s; j++ {
				for i := 0; i < n; i++ {
					want[i*s+j] = g[j*n+i]
				}
			}
			got := make([]byte, n*s)
			ungroupXor(got, g, nil, s)
			if !bytes.Equal(got, want) {
				t.Fatalf("s=%d n=%d: ungroup differs", s, n)
			}
			for i := range want {
				want[i] ^= base[i]
			}
			ungroupXor(got, g, base, s)
			if !bytes.Equal(got, want) {
				t.Fatalf("s=%d n=%d: ungroup with XOR differs", s, n)
			}
		}
	}
}

// TestGroupXor checks the vectorised grouping and its scalar tail
// against the definition, with and without XOR against a base.
func TestGroupXor(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, s := range []int{1, 2, 3, 4, 8} {
		for n := 0; n <= 70; n++ {
			data := make([]byte, n*s)
			base := make([]byte, n*s)
			for i := range data {
				data[i], base[i] = byte(r.Uint32()), byte(r.Uint32())
			}
			for _, withBase := range []bool{false, true} {
				src := append([]byte(nil), data...)
				var b []byte
				if withBase {
					b = base
					for i := range src {
						src[i] ^= base[i]
					}
				}
				want := make([]byte, n*s)
				for j := 0; j < s; j++ {
					for i := 0; i < n; i++ {
						want[j*n+i] = src[i*s+j]
					}
				}
				got := make([]byte, n*s)
				groupXor(got, data, b, s)
				if !bytes.Equal(got, want) {
					t.Fatalf("s=%d n=%d base=%v: group differs", s, n, withBase)
				}
			}
		}
	}
}

func BenchmarkGroup(b *testing.B) {
	d := floats(1<<20, 1)
	dst := make([]byte, len(d))
	b.SetBytes(int64(len(d)))
	for b.Loop() {
		Group(dst, d, 4)
	}
}

func BenchmarkUngroup(b *testing.B) {
	g := floats(1<<20, 1)
	dst := make([]byte, len(g))
	b.SetBytes(int64(len(g)))
	for b.Loop() {
		Ungroup(dst, g, 4)
	}
}

func floats(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, 4*n)
	for i := 0; i < n; i++ {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(float32(r.NormFloat64()*0.02)))
	}
	return b
}

func nudge(b []byte, frac float64, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 2))
	out := append([]byte(nil), b...)
	for i := 0; i+4 <= len(out); i += 4 {
		f := math.Float32frombits(binary.LittleEndian.Uint32(out[i:]))
		f *= float32(1 + frac*(2*r.Float64()-1))
		binary.LittleEndian.PutUint32(out[i:], math.Float32bits(f))
	}
	return out
}

func dirSize(t *testing.T, dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return nil
	})
	return n
}

func TestDiskStoreDeltaChain(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := OpenDisk(dir)
	if err != nil {
		t.Fatal(err)
	}
	const n = 300_000 // 1.2 MB in pieces of 256 KiB
	v := floats(n, 1)
	var parent *Tensor
	var ids []ID
	var versions [][]byte
	var sizes []int64
	for ver := 0; ver < MaxDeltaDepth+3; ver++ {
		w := NewWriter(ctx, s)
		w.PieceSize = 256 << 10
		id, tt, err := w.Tensor(bytes.NewReader(v), TensorInfo{DType: F32, Shape: []uint64{n}, Size: uint64(len(v))}, parent)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, dirSize(t, dir))
		ids = append(ids, id)
		versions = append(versions, v)
		parent = tt
		v = nudge(v, 0.005, uint64(ver))
	}
	// every version reads back exactly
	for i, id := range ids {
		tt, err := ReadTensor(ctx, s, id)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := WriteTensorTo(ctx, s, tt, &buf); err != nil {
			t.Fatalf("version %d: %v", i, err)
		}
		if !bytes.Equal(buf.Bytes(), versions[i]) {
			t.Fatalf("version %d differs", i)
		}
	}
	// deltas are smaller than the full first version; version
	// MaxDeltaDepth+1 starts a new chain, stored whole (about as large)
	full := sizes[0]
	for i := 1; i < len(sizes); i++ {
		grow := sizes[i] - sizes[i-1]
		limit := full
		if i == MaxDeltaDepth+1 {
			limit = full + full/50
		}
		if grow >= limit {
			t.Errorf("version %d grew the store by %d bytes, the first by %d", i, grow, full)
		}
	}
	maxDepth := 0
	s.List(ctx, func(id ID) error {
		if d, _ := s.deltaDepth(id); d > maxDepth {
			maxDepth = d
		}
		return nil
	})
	if maxDepth == 0 || maxDepth > MaxDeltaDepth {
		t.Errorf("max delta depth %d, want 1..%d", maxDepth, MaxDeltaDepth)
	}
}

func TestDiskStoreCorruption(t *testing.T) {
	ctx := context.Background()
	s, _ := OpenDisk(t.TempDir())
	w := NewWriter(ctx, s)
	w.PieceSize = 64 << 10
	data := floats(50_000, 3)
	id, _, err := w.Tensor(bytes.NewReader(data), TensorInfo{DType: F32, Shape: []uint64{50_000}, Size: uint64(len(data))}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	rep, err := Fsck(ctx, s, []ID{id}, FsckOptions{})
	if err != nil || len(rep.Problems) != 0 {
		t.Fatalf("fsck of a good store: %v %v", rep, err)
	}
	tt, _ := ReadTensor(ctx, s, id)
	victim := tt.Pieces[1]
	p := s.path(victim)
	b, _ := os.ReadFile(p)
	os.Chmod(p, 0o644)
	b[len(b)/2] ^= 0x40
	os.WriteFile(p, b, 0o444)
	_, err = s.Get(ctx, victim)
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.ID != victim {
		t.Fatalf("Get of a flipped object: %v, want CorruptError naming %s", err, victim.Short())
	}
	rep, err = Fsck(ctx, s, []ID{id}, FsckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) != 1 || rep.Problems[0].ID != victim || rep.Problems[0].From != id {
		t.Fatalf("fsck problems %v, want exactly %s from %s", rep.Problems, victim.Short(), id.Short())
	}
	if err := WriteTensorTo(ctx, s, tt, &bytes.Buffer{}); !errors.As(err, &ce) {
		t.Fatalf("reading a tensor with a corrupt piece: %v", err)
	}
}

func TestBlobCDCInsertion(t *testing.T) {
	ctx := context.Background()
	s := NewMem()
	r := rand.New(rand.NewPCG(5, 5))
	data := make([]byte, 12<<20)
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	w := NewWriter(ctx, s)
	_, b1, err := w.Blob(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	ins := append(append(append([]byte{}, data[:5<<20]...), []byte("INSERTED BYTES")...), data[5<<20:]...)
	_, b2, err := w.Blob(bytes.NewReader(ins))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	old := map[ID]bool{}
	for _, c := range b1.Chunks {
		if c.Size > CDCMaxSize || c.Size == 0 {
			t.Errorf("chunk of %d bytes", c.Size)
		}
		old[c.ID] = true
	}
	shared := 0
	for _, c := range b2.Chunks {
		if old[c.ID] {
			shared++
		}
	}
	if len(b1.Chunks) < 4 || shared < len(b2.Chunks)-2 {
		t.Errorf("insertion: %d of %d chunks shared (of %d before)", shared, len(b2.Chunks), len(b1.Chunks))
	}
	var out bytes.Buffer
	if err := WriteBlobTo(ctx, s, b2, &out); err != nil || !bytes.Equal(out.Bytes(), ins) {
		t.Fatalf("blob read back differs: %v", err)
	}
}

func TestGCKeepsReachable(t *testing.T) {
	ctx := context.Background()
	s, _ := OpenDisk(t.TempDir())
	mk := func(seed uint64, parent *Tensor) (ID, *Tensor) {
		w := NewWriter(ctx, s)
		w.PieceSize = 64 << 10
		d := floats(40_000, seed)
		if parent != nil {
			d = floats(40_000, 1)
			d = nudge(d, 0.001, seed)
		}
		id, tt, err := w.Tensor(bytes.NewReader(d), TensorInfo{DType: F32, Shape: []uint64{40_000}, Size: uint64(len(d))}, parent)
		if err != nil || w.Flush() != nil {
			t.Fatal(err)
		}
		return id, tt
	}
	a, at := mk(1, nil)
	b, _ := mk(2, at) // deltas against a's pieces
	garbage, _ := mk(99, nil)
	_ = garbage
	// Everything is fresh: nothing goes.
	rep, err := GC(ctx, s, []ID{b}, GCOptions{})
	if err != nil || rep.Removed != 0 {
		t.Fatalf("gc within grace removed %d (%v)", rep.Removed, err)
	}
	// Age everything, then collect with only b as root: a's tensor object
	// goes, but its pieces stay because b's deltas need them.
	old := time.Now().Add(-2 * time.Hour)
	s.List(ctx, func(id ID) error { return os.Chtimes(s.path(id), old, old) })
	rep, err = GC(ctx, s, []ID{b}, GCOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Removed == 0 {
		t.Error("gc removed nothing")
	}
	if ok, _ := s.Has(ctx, a); ok {
		t.Error("unreachable tensor a kept")
	}
	frep, err := Fsck(ctx, s, []ID{b}, FsckOptions{})
	if err != nil || len(frep.Problems) != 0 {
		t.Fatalf("fsck after gc: %v %v", frep.Problems, err)
	}
	bt, _ := ReadTensor(ctx, s, b)
	if err := WriteTensorTo(ctx, s, bt, &bytes.Buffer{}); err != nil {
		t.Fatalf("b unreadable after gc: %v", err)
	}
}

func TestKeypairAndSignature(t *testing.T) {
	k, err := GenerateKeypair()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "id.json")
	if err := k.Save(p); err != nil {
		t.Fatal(err)
	}
	if err := k.Save(p); err == nil {
		t.Error("Save overwrote an existing keypair")
	}
	k2, err := LoadKeypair(p)
	if err != nil || k2.Public() != k.Public() {
		t.Fatalf("load: %v", err)
	}
	c := &Commit{Tree: ID{1}, Time: 10, Message: "m"}
	if err := SignCommit(c, k); err != nil {
		t.Fatal(err)
	}
	if err := VerifyCommit(c); err != nil {
		t.Fatalf("verify: %v", err)
	}
	c.Message = "tampered"
	if err := VerifyCommit(c); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("tampered commit: %v", err)
	}
	for name, bad := range map[string]string{
		"not json":  "hello",
		"short":     "[1,2,3]",
		"not bytes": "[" + string(bytes.Repeat([]byte("300,"), 63)) + "300]",
	} {
		if _, err := ParseKeypair(name, []byte(bad)); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
	// The public half must match the seed.
	data, _ := k.MarshalJSON()
	data[len(data)-2] ^= 1
	if _, err := ParseKeypair("mismatch", data); err == nil {
		t.Error("mismatched public key accepted")
	}
}

// TestDeltaBaseVerifiedOnDemand checks the cache's verification states: a
// base decoded only for a delta is trusted through the delta's own check,
// a wrong base makes the delta's read fail naming the base, and Get of
// the base hashes it rather than return unverified bytes.
func TestDeltaBaseVerifiedOnDemand(t *testing.T) {
	ctx := context.Background()
	s, _ := OpenDisk(t.TempDir())
	s.SetStrict(true) // hash, as for forms without a checksum
	base := append(make([]byte, HeaderSize), floats(4096, 7)...)
	PutChunkHeader(base)
	next := append(make([]byte, HeaderSize), nudge(base[HeaderSize:], 0.01, 3)...)
	PutChunkHeader(next)
	bid, err := s.Put(ctx, base, PutOptions{ElemSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	nid, err := s.Put(ctx, next, PutOptions{ElemSize: 4, DeltaBase: bid})
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := s.deltaDepth(nid); d != 1 {
		t.Fatalf("delta depth %d, want 1", d)
	}
	// a good read leaves the base cached and verified through the delta
	if got, err := s.Get(ctx, nid); err != nil || !bytes.Equal(got, next) {
		t.Fatalf("Get delta: %v", err)
	}
	c := s.lookup(bid)
	if c == nil || !c.verified.Load() {
		t.Fatalf("base not cached as verified after a good delta read: %+v", c)
	}
	// simulate a wrong decode of the base, kept unverified
	s.drop(c)
	if _, _, err := s.getShared(ctx, bid, 1, true, false); err != nil {
		t.Fatal(err)
	}
	c = s.lookup(bid)
	if c == nil || c.verified.Load() {
		t.Fatal("a base read for a delta should be cached unverified")
	}
	c.obj[HeaderSize+5] ^= 1
	var ce *CorruptError
	_, err = s.Get(ctx, nid)
	if !errors.As(err, &ce) || ce.ID != nid || !strings.Contains(err.Error(), bid.Short()) {
		t.Fatalf("delta over a wrong base: %v, want CorruptError naming %s and its base %s", err, nid.Short(), bid.Short())
	}
	if s.lookup(bid) != nil {
		t.Error("the wrong base stayed cached")
	}
	// Get of an unverified cached base hashes it
	if _, _, err := s.getShared(ctx, bid, 1, true, false); err != nil {
		t.Fatal(err)
	}
	c = s.lookup(bid)
	c.obj[HeaderSize+9] ^= 1
	if _, err := s.Get(ctx, bid); !errors.As(err, &ce) || ce.ID != bid {
		t.Fatalf("Get of a wrong unverified cached base: %v, want CorruptError naming it", err)
	}
	if got, err := s.Get(ctx, bid); err != nil || !bytes.Equal(got, base) {
		t.Fatalf("Get after the wrong entry was dropped: %v", err)
	}
}

// TestCacheReuseUnderLoad reads and writes deltas over more bases than the
// decoded-base cache holds, from several goroutines at once: entries
// leave the cache and their buffers are reused while other readers may
// still hold them, so any use after reuse shows up as wrong bytes (or a
// hash error, or a race under -race).
func TestCacheReuseUnderLoad(t *testing.T) {
	ctx := context.Background()
	s, _ := OpenDisk(t.TempDir())
	chunk := func(data []byte) []byte {
		b := append(make([]byte, HeaderSize), data...)
		PutChunkHeader(b)
		return b
	}
	const bases = 3 * chunkCacheEntries
	var baseIDs []ID
	var deltas [][]byte
	var deltaIDs []ID
	for i := 0; i < bases; i++ {
		base := chunk(floats(8192, uint64(100+i)))
		bid, err := s.Put(ctx, base, PutOptions{ElemSize: 4})
		if err != nil {
			t.Fatal(err)
		}
		baseIDs = append(baseIDs, bid)
		for j := 0; j < 3; j++ {
			d := chunk(nudge(base[HeaderSize:], 0.01, uint64(i*10+j)))
			id, err := s.Put(ctx, d, PutOptions{ElemSize: 4, DeltaBase: bid})
			if err != nil {
				t.Fatal(err)
			}
			deltas, deltaIDs = append(deltas, d), append(deltaIDs, id)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 9))
			for n := 0; n < 150; n++ {
				k := r.IntN(len(deltaIDs))
				if g%2 == 0 && n%5 == 0 {
					// a new delta against a cached base (putKnown's path)
					base := baseIDs[k/3]
					d := chunk(nudge(deltas[k][HeaderSize:], 0.02, uint64(g*1000+n)))
					id, err := s.Put(ctx, d, PutOptions{ElemSize: 4, DeltaBase: base})
					if err != nil {
						errs <- err
						return
					}
					got, err := s.Get(ctx, id)
					if err != nil || !bytes.Equal(got, d) {
						errs <- fmt.Errorf("new delta %s read back wrong: %v", id.Short(), err)
						return
					}
					continue
				}
				got, err := s.Get(ctx, deltaIDs[k])
				if err != nil || !bytes.Equal(got, deltas[k]) {
					errs <- fmt.Errorf("delta %d read back wrong: %v", k, err)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// Stored forms a DiskStore writes carry a checksum of the canonical bytes
// that every read checks; wire forms do not; forms without one (written by
// earlier releases) are hashed; fsck hashes everything.
func TestStoredChecksum(t *testing.T) {
	ctx := context.Background()
	s, _ := OpenDisk(t.TempDir())
	obj := append(make([]byte, HeaderSize), floats(4096, 5)...)
	PutChunkHeader(obj)
	id, err := s.Put(ctx, obj, PutOptions{ElemSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	file := s.final(id)
	good, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if good[2]&flagSum == 0 {
		t.Fatalf("stored form written without a checksum (encoding byte %#x)", good[2])
	}
	rewrite := func(b []byte) {
		t.Helper()
		os.Chmod(file, 0o644)
		if err := os.WriteFile(file, b, 0o444); err != nil {
			t.Fatal(err)
		}
	}
	var ce *CorruptError
	// damage anywhere after the header: the read fails, naming the object
	for _, at := range []int{len(good) / 3, len(good) / 2, len(good) - 6, len(good) - 1} {
		bad := bytes.Clone(good)
		bad[at] ^= 0x10
		rewrite(bad)
		fresh, _ := OpenDisk(s.Dir())
		if got, err := fresh.Get(ctx, id); !errors.As(err, &ce) || ce.ID != id {
			t.Fatalf("byte %d of %d flipped: Get = %d bytes, %v; want CorruptError for %s", at, len(good), len(got), err, id.Short())
		}
	}
	// the wire form has no checksum; a receiver stores it with one
	rewrite(good)
	wire, err := s.GetStored(ctx, id, nil)
	if err != nil {
		t.Fatal(err)
	}
	if wire[2]&flagSum != 0 || len(wire) != len(good)-sumSize {
		t.Fatalf("GetStored returned a form with the local checksum")
	}
	dst, _ := OpenDisk(t.TempDir())
	if _, err := dst.PutStored(ctx, id, bytes.Clone(wire)); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(dst.final(id)); !bytes.Equal(got, good) {
		t.Fatalf("received object stored differently from the sender's (checksum added: %v)", got[2]&flagSum != 0)
	}
	// a form without a checksum is hashed
	legacy := stripSum(bytes.Clone(good))
	wrong := append(make([]byte, HeaderSize), floats(4096, 6)...)
	PutChunkHeader(wrong)
	rewrite(stripSum(encodeStored(wrong, PutOptions{ElemSize: 4}, nil, 0)))
	fresh, _ := OpenDisk(s.Dir())
	if _, err := fresh.Get(ctx, id); !errors.As(err, &ce) || !strings.Contains(err.Error(), "hashes to") {
		t.Fatalf("wrong content in a form without checksum: %v, want a hash mismatch", err)
	}
	rewrite(legacy)
	if got, err := fresh.Get(ctx, id); err != nil || !bytes.Equal(got, obj) {
		t.Fatalf("form without checksum: %v", err)
	}
	// other content with a matching checksum passes a read, not fsck
	rewrite(encodeStored(wrong, PutOptions{ElemSize: 4}, nil, 0))
	fresh, _ = OpenDisk(s.Dir())
	if _, err := fresh.Get(ctx, id); err != nil {
		t.Fatalf("a consistent form is read without hashing, got %v", err)
	}
	rep, err := Fsck(ctx, fresh, nil, FsckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) != 1 || rep.Problems[0].ID != id {
		t.Fatalf("fsck problems %v, want the replaced object %s", rep.Problems, id.Short())
	}
	if fresh.SetStrict(false) {
		t.Error("fsck left the store strict")
	}
}
