package zk

import (
	"bytes"
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

// digests reads n 32-byte digests.
func digests(r *objects.Decoder, n int, what string) []Digest {
	out := make([]Digest, 0, n)
	for i := 0; i < n && r.Err() == nil; i++ {
		var d Digest
		copy(d[:], r.Take(32, what))
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
	r := objects.NewDecoder(data[8:], ErrMalformed, "proof body: ")
	cs := r.Uvarint("chunk size")
	if r.Err() == nil && checkChunkSize(int(min(cs, MaxChunk+1))) != nil {
		r.Fail("chunk size %d", cs)
	}
	b.ChunkSize = int(cs)
	b.Self.ChunkSize = b.ChunkSize
	copy(b.Self.Layout[:], r.Take(32, "layout"))
	copy(b.Self.Extras[:], r.Take(32, "extras"))
	n := r.Count("chunks", 32)
	b.Self.Chunks = digests(r, n, "chunk commitment")
	np := r.Count("parents", 64)
	wantParents := map[Kind]func(int) bool{
		KindCommit: func(k int) bool { return k == 0 },
		KindUpdate: func(k int) bool { return k == 1 },
		KindMerge:  func(k int) bool { return k >= 2 && k <= MaxParents },
	}
	ok, known := wantParents[b.Kind]
	if r.Err() == nil && !known {
		r.Fail("kind %d", b.Kind)
	}
	if r.Err() == nil && !ok(np) {
		r.Fail("%s proof with %d parents", b.Kind, np)
	}
	for i := 0; i < np && r.Err() == nil; i++ {
		var p ParentCommitment
		copy(p.Commit[:], r.Take(32, "parent commit"))
		copy(p.Extras[:], r.Take(32, "parent extras"))
		if r.Err() == nil && r.Len()/32 < n {
			r.Fail("truncated parent chunks")
		}
		p.Chunks = digests(r, n, "parent chunk commitment")
		b.Parents = append(b.Parents, p)
	}
	switch b.Kind {
	case KindUpdate:
		b.Linf = r.Uvarint("linf")
		b.LBits = int(r.Byte("linf bits"))
		switch r.Byte("l2 flag") {
		case 0:
		case 1:
			b.HasL2 = true
			b.L2 = r.Uvarint("l2")
		default:
			r.Fail("l2 flag")
		}
		for i := 0; i < n && r.Err() == nil; i++ {
			b.Budgets = append(b.Budgets, r.Uvarint("budget"))
		}
	case KindMerge:
		b.WBits = int(r.Byte("weight bits"))
		for i := 0; i < np && r.Err() == nil; i++ {
			b.Weights = append(b.Weights, r.Uvarint("weight"))
		}
	}
	copy(b.VK[:], r.Take(32, "verifying key id"))
	for i := 0; i < n && r.Err() == nil; i++ {
		l := r.Count("proof length", 1)
		if r.Err() == nil && (l == 0 || l > maxProofBytes) {
			r.Fail("proof %d has %d bytes", i, l)
		}
		b.Proofs = append(b.Proofs, append([]byte(nil), r.Take(l, "proof")...))
	}
	if r.Err() == nil && r.Len() != 0 {
		r.Fail("%d trailing bytes", r.Len())
	}
	if r.Err() != nil {
		return nil, r.Err()
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
