package objectstest

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"

	"github.com/fed-vcs/fed/objects"
)

// SampleObjects returns one or more valid objects of every kind, with
// edge cases (empty chunk, 0-d and empty tensors, unknown dtype, merge
// commit, signed commit). Their references point nowhere.
func SampleObjects() []objects.Object {
	id := func(b byte) objects.ID {
		var i objects.ID
		i[0], i[31] = b, b
		return i
	}
	return []objects.Object{
		&objects.Chunk{Data: []byte("hello")},
		&objects.Chunk{Data: []byte{}},
		&objects.Chunk{Data: bytes.Repeat([]byte("compressible "), 1000)},
		&objects.Chunk{Data: Floats(4096, 1)},
		&objects.Tensor{DType: objects.F32, Shape: []uint64{2, 3}, Size: 24, PieceSize: 16, Pieces: []objects.ID{id(1), id(2)}},
		&objects.Tensor{DType: objects.F32, Shape: []uint64{}, Size: 4, PieceSize: objects.DefaultPieceSize, Pieces: []objects.ID{id(1)}},
		&objects.Tensor{DType: objects.F16, Shape: []uint64{0, 5}, Size: 0, PieceSize: objects.DefaultPieceSize},
		&objects.Tensor{DType: "X_UNKNOWN", Shape: []uint64{3}, Size: 7, PieceSize: objects.DefaultPieceSize, Pieces: []objects.ID{id(9)}},
		&objects.Blob{},
		&objects.Blob{Size: 10, Chunks: []objects.ChunkRef{{ID: id(1), Size: 4}, {ID: id(2), Size: 6}}},
		&objects.Model{Format: "safetensors", Size: 30, Segments: []objects.Segment{{Name: "", ID: id(3), Size: 6}, {Name: "w", ID: id(4), Size: 24}}},
		&objects.Model{Format: "safetensors", Meta: []objects.KV{{Key: "a", Value: "1"}, {Key: "b", Value: "2"}}},
		&objects.Tree{},
		&objects.Tree{Entries: []objects.TreeEntry{
			{Name: "a.safetensors", Mode: objects.ModeFile, Kind: objects.KindModel, ID: id(5)},
			{Name: "run.sh", Mode: objects.ModeExec, Kind: objects.KindBlob, ID: id(6)},
			{Name: "sub", Mode: objects.ModeDir, Kind: objects.KindTree, ID: id(7)},
		}},
		&objects.Commit{Tree: id(8), Time: 1700000000, TZ: -300, Message: "first\n", Meta: []objects.KV{{Key: "samples", Value: "1437"}}},
		&objects.Commit{Tree: id(8), Parents: []objects.ID{id(1), id(2)}, Author: objects.PublicKey(id(3)), Time: -5, Message: "merge", Signature: bytes.Repeat([]byte{7}, 64)},
		&objects.Tag{Target: id(1), TargetKind: objects.KindCommit, Name: "v1", Time: 1, Message: "release"},
		&objects.Proof{Commit: id(1), System: "groth16-bn254/update/v1", Needs: []objects.ID{id(2)}, Body: []byte{1, 2, 3}},
	}
}

// Floats returns n little-endian float32 values like small model weights
// (normal, standard deviation 0.02), deterministic in seed.
func Floats(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, 4*n)
	for i := 0; i < n; i++ {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(float32(r.NormFloat64()*0.02)))
	}
	return b
}

// Nudge returns a copy of the float32 values b, each scaled by a random
// factor within 1±frac: the next version of a fine-tuned tensor.
func Nudge(b []byte, frac float64, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 2))
	out := append([]byte(nil), b...)
	for i := 0; i+4 <= len(out); i += 4 {
		f := math.Float32frombits(binary.LittleEndian.Uint32(out[i:]))
		f *= float32(1 + frac*(2*r.Float64()-1))
		binary.LittleEndian.PutUint32(out[i:], math.Float32bits(f))
	}
	return out
}
