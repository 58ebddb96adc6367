package zk

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/fed-vcs/fed/objects"
)

// System is the objects.Proof.System of proofs made by this package.
const System = "fed-zk/groth16-bn254/v1"

// BodyVersion is the version of the proof body layout.
const BodyVersion = 1

const bodyMagic = "FZKP"

// ParentCommitment is a parent's commitment as a proof used it. Parents
// share the child's layout and chunk size.
type ParentCommitment struct {
	Commit objects.ID
	Extras [32]byte
	Chunks []Digest
}

// Root recomputes the parent's root.
func (p *ParentCommitment) Root(chunkSize int, layout [32]byte) [32]byte {
	return RootOf(chunkSize, layout, p.Extras, p.Chunks)
}

// Body is the content of an objects.Proof of System: the commitments, the
// public parameters of the statement and one Groth16 proof per chunk.
type Body struct {
	Kind      Kind
	ChunkSize int
	Self      Commitment // Root is recomputed on decode
	Parents   []ParentCommitment

	// Update: the L∞ bound (quantised units), its shape bits, the total
	// squared-L2 budget (quantised units², HasL2 false: none) and the
	// per-chunk budgets the chunk proofs use.
	Linf    uint64
	LBits   int
	HasL2   bool
	L2      uint64
	Budgets []uint64

	// Merge: the integer weights, one per parent, and the shape bits.
	Weights []uint64
	WBits   int

	VK     objects.ID // the verifying key (object id of its key file)
	Proofs [][]byte   // gnark-encoded Groth16 proofs, one per chunk
}

// Shape returns the circuit shape the body's proofs use.
func (b *Body) Shape() Shape {
	s := Shape{Kind: b.Kind, N: b.ChunkSize}
	switch b.Kind {
	case KindUpdate:
		s.LBits = b.LBits
	case KindMerge:
		s.K, s.WBits = len(b.Parents), b.WBits
	}
	return s
}

// MaxDrift bounds, in quantised units, how far a commitment's values may
// lie outside the committed range |q| < 2^29 for the statements built on
// it to stay exact (design §15.4): 2^29, so that every digit stays in
// [0, 2^31), where packing is injective.
const MaxDrift = 1 << 29

// ErrDrift: an update proof's statement is not known to be exact because
// its parent's commitment is not known to lie (nearly) in range.
var ErrDrift = errors.New("zk: parent range not established")

// Drift returns the drift of the commitment b proves, given the drift of
// its parent's commitment (ignored unless b is an update proof). The drift
// of a commitment is 0 when a verifier recomputed it from the model's
// weights (Quantize bounds |q| < 2^29) or when the commitment's own proof
// is a commitment or merge proof (both range-check their own values); an
// update proof does not range-check values, so its child's drift is its
// parent's plus the L∞ bound. A verifier that cannot bound a parent's
// drift (the parent's weights and proof are absent) passes
// parentDrift ≥ MaxDrift. It fails (ErrDrift) when the result exceeds
// MaxDrift: the update statement then binds packed field elements only,
// not values digit by digit.
func (b *Body) Drift(parentDrift uint64) (uint64, error) {
	if b.Kind != KindUpdate {
		return 0, nil
	}
	if parentDrift > MaxDrift || b.Linf > MaxDrift-parentDrift {
		return 0, fmt.Errorf("%w: drift %d + bound %d exceeds 2^29 (the parent's weights or a commitment or merge proof on the way are needed)", ErrDrift, parentDrift, b.Linf)
	}
	return parentDrift + b.Linf, nil
}

// Encode returns the canonical bytes of b (layout in design-zk.md).
func (b *Body) Encode() []byte {
	var w bytes.Buffer
	w.WriteString(bodyMagic)
	w.Write([]byte{BodyVersion, CircuitVersion, byte(b.Kind), ScaleShift})
	writeUvarint(&w, uint64(b.ChunkSize))
	w.Write(b.Self.Layout[:])
	w.Write(b.Self.Extras[:])
	writeUvarint(&w, uint64(len(b.Self.Chunks)))
	for _, d := range b.Self.Chunks {
		w.Write(d[:])
	}
	writeUvarint(&w, uint64(len(b.Parents)))
	for _, p := range b.Parents {
		w.Write(p.Commit[:])
		w.Write(p.Extras[:])
		for _, d := range p.Chunks {
			w.Write(d[:])
		}
	}
	switch b.Kind {
	case KindUpdate:
		writeUvarint(&w, b.Linf)
		w.WriteByte(byte(b.LBits))
		if b.HasL2 {
			w.WriteByte(1)
			writeUvarint(&w, b.L2)
		} else {
			w.WriteByte(0)
		}
		for _, x := range b.Budgets {
			writeUvarint(&w, x)
		}
	case KindMerge:
		w.WriteByte(byte(b.WBits))
		for _, x := range b.Weights {
			writeUvarint(&w, x)
		}
	}
	w.Write(b.VK[:])
	for _, p := range b.Proofs {
		writeUvarint(&w, uint64(len(p)))
		w.Write(p)
	}
	return w.Bytes()
}

type bodyReader struct {
	b   []byte
	err error
}

func (r *bodyReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: proof body: "+format, append([]any{ErrMalformed}, args...)...)
	}
}

func (r *bodyReader) take(n int, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || len(r.b) < n {
		r.fail("truncated %s", what)
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *bodyReader) byte1(what string) byte {
	b := r.take(1, what)
	if b == nil {
		return 0
	}
	return b[0]
}

func (r *bodyReader) uvarint(what string) uint64 {
	if r.err != nil {
		return 0
	}
	x, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("bad %s", what)
		return 0
	}
	r.b = r.b[n:]
	return x
}

// count reads a count of items of at least min bytes each.
func (r *bodyReader) count(what string, min int) int {
	n := r.uvarint(what)
	if r.err == nil && n > uint64(len(r.b)/min) {
		r.fail("%s count %d exceeds the remaining bytes", what, n)
		return 0
	}
	return int(n)
}

func (r *bodyReader) digests(n int, what string) []Digest {
	out := make([]Digest, 0, n)
	for i := 0; i < n && r.err == nil; i++ {
		var d Digest
		copy(d[:], r.take(32, what))
		out = append(out, d)
	}
	return out
}

// DecodeBody parses a proof body. It refuses unknown body and circuit
// versions (ErrUnknownVersion) and anything that is not the canonical
// encoding (ErrMalformed); it never panics. Proof bytes are checked when
// verified, not here.
func DecodeBody(data []byte) (*Body, error) {
	if len(data) < 8 || string(data[:4]) != bodyMagic {
		return nil, fmt.Errorf("%w: not a fed zk proof body", ErrMalformed)
	}
	if data[4] != BodyVersion {
		return nil, fmt.Errorf("%w: proof body version %d (this fed reads %d; a newer fed is needed)", ErrUnknownVersion, data[4], BodyVersion)
	}
	if data[5] != CircuitVersion {
		return nil, fmt.Errorf("%w: circuit version %d (this fed knows %d)", ErrUnknownVersion, data[5], CircuitVersion)
	}
	if data[7] != ScaleShift {
		return nil, fmt.Errorf("%w: proof body: scale 2^%d", ErrMalformed, data[7])
	}
	b := &Body{Kind: Kind(data[6])}
	r := &bodyReader{b: data[8:]}
	cs := r.uvarint("chunk size")
	if r.err == nil && checkChunkSize(int(min(cs, MaxChunk+1))) != nil {
		r.fail("chunk size %d", cs)
	}
	b.ChunkSize = int(cs)
	b.Self.ChunkSize = b.ChunkSize
	copy(b.Self.Layout[:], r.take(32, "layout"))
	copy(b.Self.Extras[:], r.take(32, "extras"))
	n := r.count("chunks", 32)
	b.Self.Chunks = r.digests(n, "chunk commitment")
	np := r.count("parents", 64)
	wantParents := map[Kind]func(int) bool{
		KindCommit: func(k int) bool { return k == 0 },
		KindUpdate: func(k int) bool { return k == 1 },
		KindMerge:  func(k int) bool { return k >= 2 && k <= MaxParents },
	}
	ok, known := wantParents[b.Kind]
	if r.err == nil && !known {
		r.fail("kind %d", b.Kind)
	}
	if r.err == nil && !ok(np) {
		r.fail("%s proof with %d parents", b.Kind, np)
	}
	for i := 0; i < np && r.err == nil; i++ {
		var p ParentCommitment
		copy(p.Commit[:], r.take(32, "parent commit"))
		copy(p.Extras[:], r.take(32, "parent extras"))
		if r.err == nil && len(r.b)/32 < n {
			r.fail("truncated parent chunks")
		}
		p.Chunks = r.digests(n, "parent chunk commitment")
		b.Parents = append(b.Parents, p)
	}
	switch b.Kind {
	case KindUpdate:
		b.Linf = r.uvarint("linf")
		b.LBits = int(r.byte1("linf bits"))
		switch r.byte1("l2 flag") {
		case 0:
		case 1:
			b.HasL2 = true
			b.L2 = r.uvarint("l2")
		default:
			r.fail("l2 flag")
		}
		for i := 0; i < n && r.err == nil; i++ {
			b.Budgets = append(b.Budgets, r.uvarint("budget"))
		}
	case KindMerge:
		b.WBits = int(r.byte1("weight bits"))
		for i := 0; i < np && r.err == nil; i++ {
			b.Weights = append(b.Weights, r.uvarint("weight"))
		}
	}
	copy(b.VK[:], r.take(32, "verifying key id"))
	for i := 0; i < n && r.err == nil; i++ {
		l := r.count("proof length", 1)
		if r.err == nil && (l == 0 || l > maxProofBytes) {
			r.fail("proof %d has %d bytes", i, l)
		}
		b.Proofs = append(b.Proofs, append([]byte(nil), r.take(l, "proof")...))
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail("%d trailing bytes", len(r.b))
	}
	if r.err != nil {
		return nil, r.err
	}
	if err := b.Shape().Validate(); err != nil {
		return nil, err
	}
	if !bytes.Equal(b.Encode(), data) {
		return nil, fmt.Errorf("%w: proof body: not in canonical form", ErrMalformed)
	}
	b.Self.Root = RootOf(b.ChunkSize, b.Self.Layout, b.Self.Extras, b.Self.Chunks)
	return b, nil
}

// maxProofBytes bounds one encoded Groth16 proof (196 bytes plus 64 per
// commitment; the circuits use one).
const maxProofBytes = 4096
