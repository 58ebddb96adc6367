package objects

import (
	"bytes"
	"flag"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var update = flag.Bool("update", false, "rewrite the files under testdata/")

// fuzzBase is the chunk every delta base resolves to in FuzzDecodeStored
// and in the stored-form seeds.
var fuzzBase = EncodeChunk(floats(1024, 42))

func fixedBase(ID) ([]byte, error) { return fuzzBase, nil }

// seedFiles returns the seed corpus: canonical encodings of the sample
// objects (testdata/objects/*.fed) and stored forms of every encoding
// (testdata/stored/*.fz), with the canonical bytes each stored form
// decodes to.
func seedFiles(t testing.TB) (canonical map[string][]byte, stored map[string][]byte, storedWant map[string][]byte) {
	canonical, stored, storedWant = map[string][]byte{}, map[string][]byte{}, map[string][]byte{}
	count := map[Kind]int{}
	for _, o := range sampleObjects() {
		b, err := Encode(o)
		if err != nil {
			t.Fatal(err)
		}
		count[o.Kind()]++
		canonical[fmt.Sprintf("objects/%s-%d.fed", o.Kind(), count[o.Kind()])] = b
	}
	// each form twice: as the wire has it (and releases before the
	// checksum wrote it), and with the checksum a DiskStore adds
	addStored := func(name string, obj []byte, opts PutOptions, base []byte) {
		s := encodeStoredForm(obj, opts, base, 0)
		stored["stored/"+name+".fz"], storedWant["stored/"+name+".fz"] = s, obj
		s = encodeStored(obj, opts, base, 0)
		stored["stored/sum-"+name+".fz"], storedWant["stored/sum-"+name+".fz"] = s, obj
	}
	next := EncodeChunk(nudge(fuzzBase[HeaderSize:], 0.001, 1))
	tree, _ := Encode(sampleObjects()[11])
	addStored("raw-tree", tree, PutOptions{}, nil)
	addStored("zstd-text", EncodeChunk(bytes.Repeat([]byte("text "), 200)), PutOptions{}, nil)
	addStored("grouped-4", next, PutOptions{ElemSize: 4}, nil)
	addStored("grouped-2", next, PutOptions{ElemSize: 2}, nil)
	addStored("grouped-8", next, PutOptions{ElemSize: 8}, nil)
	addStored("delta-4", next, PutOptions{ElemSize: 4, DeltaBase: Sum(fuzzBase)}, fuzzBase)
	addStored("delta-1", next, PutOptions{ElemSize: 1, DeltaBase: Sum(fuzzBase)}, fuzzBase)
	return canonical, stored, storedWant
}

// TestSeeds checks the committed seed files: canonical encodings must not
// change (they are the format), and stored forms written by this or an
// earlier release must still decode. go test -run TestSeeds -update
// rewrites them.
func TestSeeds(t *testing.T) {
	canonical, stored, storedWant := seedFiles(t)
	if *update {
		for name, b := range canonical {
			writeSeed(t, name, b)
		}
		for name, b := range stored {
			writeSeed(t, name, b)
		}
		return
	}
	for name, want := range canonical {
		got, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Errorf("%v (run go test -run TestSeeds -update)", err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: the encoding of the sample object changed; that changes its id", name)
		}
	}
	for name, want := range storedWant {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Errorf("%v (run go test -run TestSeeds -update)", err)
			continue
		}
		got, err := decodeStored(b, fixedBase)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: decodes to %d bytes, %v; want the %d bytes it was written from", name, len(got), err, len(want))
		}
	}
}

func writeSeed(t *testing.T, name string, b []byte) {
	p := filepath.Join("testdata", name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// addSeeds adds every file under testdata/<dir> to f's corpus, with
// extra arguments after the bytes.
func addSeeds(f *testing.F, dir string, extra ...any) {
	names, err := filepath.Glob(filepath.Join("testdata", dir, "*"))
	if err != nil {
		f.Fatal(err)
	}
	sort.Strings(names)
	if len(names) == 0 {
		f.Fatalf("no seed files in testdata/%s", dir)
	}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(append([]any{b}, extra...)...)
	}
}

// sumSizes adds sizes and reports whether the sum overflowed.
func sumSizes(sizes []uint64) (uint64, bool) {
	var sum, carry uint64
	for _, s := range sizes {
		sum, carry = bits.Add64(sum, s, 0)
		if carry != 0 {
			return 0, true
		}
	}
	return sum, false
}

// checkObject checks the invariants of an object Decode accepted from b.
func checkObject(t *testing.T, b []byte, o Object) {
	again, err := Encode(o)
	if err != nil {
		t.Fatalf("Decode accepted %x, Encode of the result fails: %v", b, err)
	}
	if !bytes.Equal(again, b) {
		t.Fatalf("Decode accepted %x, which re-encodes as %x", b, again)
	}
	if o.Kind() != Kind(b[4]) {
		t.Fatalf("kind %s from header %d", o.Kind(), b[4])
	}
	o2, err := Decode(again)
	if err != nil {
		t.Fatalf("re-decode: %v", err)
	}
	if diff := cmp.Diff(o, o2, cmpopts.EquateEmpty()); diff != "" {
		t.Fatalf("re-decode differs:\n%s", diff)
	}
	refs := o.Refs()
	var want []ID
	switch o := o.(type) {
	case *Chunk:
	case *Tensor:
		want = o.Pieces
		if o.PieceSize == 0 {
			t.Fatalf("tensor with piece size 0")
		}
		n := o.Size / o.PieceSize
		if o.Size%o.PieceSize != 0 {
			n++
		}
		if uint64(len(o.Pieces)) != n {
			t.Fatalf("tensor of %d bytes in pieces of %d has %d pieces", o.Size, o.PieceSize, len(o.Pieces))
		}
		var sum uint64
		for i := range o.Pieces {
			l := o.PieceLen(i)
			if l == 0 || l > o.PieceSize {
				t.Fatalf("piece %d has length %d", i, l)
			}
			sum += l
		}
		if sum != o.Size {
			t.Fatalf("pieces hold %d bytes, size %d", sum, o.Size)
		}
	case *Blob:
		var sizes []uint64
		for _, c := range o.Chunks {
			want = append(want, c.ID)
			sizes = append(sizes, c.Size)
		}
		if sum, over := sumSizes(sizes); over || sum != o.Size {
			t.Fatalf("blob chunks sum to %d (overflow %v), size %d", sum, over, o.Size)
		}
	case *Model:
		var sizes []uint64
		for _, s := range o.Segments {
			want = append(want, s.ID)
			sizes = append(sizes, s.Size)
		}
		if sum, over := sumSizes(sizes); over || sum != o.Size {
			t.Fatalf("model segments sum to %d (overflow %v), size %d", sum, over, o.Size)
		}
	case *Tree:
		for _, e := range o.Entries {
			want = append(want, e.ID)
		}
	case *Commit:
		want = append([]ID{o.Tree}, o.Parents...)
	case *Tag:
		want = []ID{o.Target}
	case *Proof:
		want = append([]ID{o.Commit}, o.Needs...)
	default:
		t.Fatalf("unknown object type %T", o)
	}
	if diff := cmp.Diff(want, refs, cmpopts.EquateEmpty()); diff != "" {
		t.Fatalf("%s Refs() differ from its fields:\n%s", o.Kind(), diff)
	}
	for _, r := range refs {
		if !bytes.Contains(b, r[:]) {
			t.Fatalf("ref %s is not in the encoding", r.Short())
		}
	}
}

func FuzzDecode(f *testing.F) {
	addSeeds(f, "objects")
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := Decode(b)
		if err != nil {
			if o != nil {
				t.Fatalf("Decode returned an object with error %v", err)
			}
			return
		}
		checkObject(t, b, o)
	})
}

func FuzzDecodeStored(f *testing.F) {
	addSeeds(f, "stored")
	addSeeds(f, "objects") // canonical bytes are not stored forms
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := decodeStored(b, fixedBase)
		if err != nil {
			if out != nil {
				t.Fatalf("decodeStored returned data with error %v", err)
			}
			return
		}
		if len(out) > MaxObjectSize {
			t.Fatalf("decodeStored returned %d bytes, above MaxObjectSize", len(out))
		}
		if e := b[2] &^ flagSum; e == encGrouped || e == encDelta {
			if k, err := PeekKind(out); err != nil || k != KindChunk {
				t.Fatalf("grouped form decodes to a non-chunk: %v %v", k, err)
			}
		}
		// Whatever came out, any stored form of it decodes back to it.
		if len(out) >= HeaderSize {
			s := 4
			if len(b) > 3 {
				s = int(b[3])
			}
			opts := PutOptions{ElemSize: s, DeltaBase: Sum(fuzzBase)}
			re := encodeStored(out, opts, fuzzBase, 0)
			back, err := decodeStored(re, fixedBase)
			if err != nil || !bytes.Equal(back, out) {
				t.Fatalf("re-stored form (elem %d) decodes to %d bytes, %v; want %d", s, len(back), err, len(out))
			}
		}
	})
}

func FuzzCutPoint(f *testing.F) {
	addSeeds(f, "objects", uint32(CDCMinSize+100), true)
	addSeeds(f, "stored", uint32(1<<28|CDCMinSize*2), false)
	f.Add([]byte{}, uint32(1<<30|2<<28|CDCMaxSize), false)
	f.Add([]byte{1}, uint32(1<<30|1<<28|CDCMinSize+1), false)
	f.Add([]byte{1}, uint32(1<<30|1<<28|CDCAvgSize*2), true)
	f.Add([]byte("fed"), uint32(1<<30|CDCMaxSize+7), false)
	f.Add([]byte("abc"), uint32(CDCMinSize), true)
	f.Fuzz(func(t *testing.T, data []byte, n uint32, final bool) {
		// n: bits 28-29 pick how to fill the buffer, bit 30 a long buffer
		// (up to a little past CDCMaxSize) or a short one (past
		// CDCMinSize, where most inputs are cheap), the rest its length.
		limit := 2*CDCMinSize + 4096
		if n>>30&1 == 1 {
			limit = CDCMaxSize + CDCMinSize
		}
		size := int(n&(1<<28-1)) % limit
		buf := make([]byte, size)
		switch {
		case n>>28&3 == 1:
			seed := Sum(data)
			r := rand.New(rand.NewChaCha8(seed))
			for i := 0; i+8 <= len(buf); i += 8 {
				v := r.Uint64()
				for j := 0; j < 8; j++ {
					buf[i+j] = byte(v >> (8 * j))
				}
			}
		case n>>28&3 == 2 || len(data) == 0:
			// zeros
		default:
			for i := 0; i < len(buf); i += len(data) {
				copy(buf[i:], data)
			}
		}
		c := CutPoint(buf, final)
		switch {
		case c < 0 || c > len(buf) || c > CDCMaxSize:
			t.Fatalf("CutPoint(%d bytes, %v) = %d", len(buf), final, c)
		case final && len(buf) > 0 && c == 0:
			t.Fatalf("CutPoint(%d bytes, final) = 0", len(buf))
		case len(buf) >= CDCMaxSize && c == 0:
			t.Fatalf("CutPoint(%d bytes) = 0 at or past CDCMaxSize", len(buf))
		case c > 0 && c < len(buf) && c < CDCMinSize:
			t.Fatalf("CutPoint(%d bytes) = %d, before CDCMinSize", len(buf), c)
		}
		if again := CutPoint(buf, final); again != c {
			t.Fatalf("CutPoint not deterministic: %d then %d", c, again)
		}
		if c == 0 {
			return
		}
		// The cut depends only on the bytes before it.
		if got := CutPoint(buf[:c], true); got != c {
			t.Fatalf("CutPoint of the first %d bytes (final) = %d", c, got)
		}
		if !final {
			if got := CutPoint(buf, true); got != c {
				t.Fatalf("CutPoint(final) = %d, not final %d", got, c)
			}
			if got := CutPoint(buf[:c], false); got != c {
				t.Fatalf("CutPoint of the first %d bytes = %d", c, got)
			}
		}
	})
}

// Regression tests for inputs the decoders once accepted or mishandled.

func TestDecodeRejectsOverflow(t *testing.T) {
	id := func(b byte) ID { var i ID; i[0] = b; return i }
	cases := map[string]Object{
		// (size + piece size - 1) wraps to 0 pieces
		"tensor size near 2^64": &Tensor{DType: "X_UNKNOWN", Shape: []uint64{1}, Size: math.MaxUint64, PieceSize: 2},
		"blob sizes wrap":       &Blob{Size: 10, Chunks: []ChunkRef{{id(1), 1 << 63}, {id(2), 1 << 63}, {id(3), 10}}},
		"model sizes wrap":      &Model{Format: "safetensors", Size: 4, Segments: []Segment{{"", id(1), math.MaxUint64}, {"", id(2), 5}}},
	}
	for name, o := range cases {
		b, err := encode(o)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := Decode(b); err == nil {
			t.Errorf("%s: decoded to %+v", name, got)
		}
		if _, err := Encode(o); err == nil {
			t.Errorf("%s: Encode accepted it", name)
		}
	}
}

func TestDecodeStoredSizeLimit(t *testing.T) {
	big := make([]byte, MaxObjectSize+1)
	PutChunkHeader(big)
	forms := map[string][]byte{
		"raw":     append([]byte{storedMagic0, storedMagic1, encRaw}, big...),
		"zstd":    encodeStored(big, PutOptions{}, nil, 0),
		"grouped": encodeStored(big, PutOptions{ElemSize: 1}, nil, 0),
	}
	for name, s := range forms {
		if len(s) > 3 && s[2] == encRaw && name != "raw" {
			t.Fatalf("%s: setup stored the object raw", name)
		}
		out, err := decodeStored(s, fixedBase)
		if err == nil || out != nil {
			t.Errorf("%s: decodeStored of a %d-byte object = %d bytes, %v; want an error", name, len(big), len(out), err)
		}
	}
}
