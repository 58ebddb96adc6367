package objects_test

import (
	"context"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fed-vcs/fed/objects"
)

// BenchmarkPutStoredPiece measures what receiving one 4 MiB F32 piece
// costs (a fetch's per-object work): PutStoredFunc of its grouped stored
// form into a disk store, the canonical bytes handed to a callback as a
// clone's checkout-while-fetching does. Its allocations per piece are
// what the load of a shared machine does not distort.
func BenchmarkPutStoredPiece(b *testing.B) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	obj := make([]byte, objects.HeaderSize+objects.DefaultPieceSize)
	objects.PutChunkHeader(obj)
	for i := objects.HeaderSize; i+4 <= len(obj); i += 4 {
		binary.LittleEndian.PutUint32(obj[i:], math.Float32bits(float32(rng.NormFloat64()*0.02)))
	}
	id := objects.Sum(obj)
	stored := objects.EncodeStored(obj, 4)
	b.SetBytes(int64(len(obj)))
	b.ReportAllocs()
	in := make([]byte, len(stored), len(stored)+64) // as a frame payload
	var s *objects.DiskStore
	for i := 0; i < b.N; i++ {
		if i%64 == 0 {
			b.StopTimer()
			var err error
			if s, err = objects.OpenDisk(b.TempDir()); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		} else if err := s.Delete(ctx, id); err != nil {
			b.Fatal(err)
		}
		copy(in, stored) // PutStoredFunc may modify it
		n := 0
		if _, err := s.PutStoredFunc(ctx, id, in, func(o []byte) { n = len(o) }); err != nil || n != len(obj) {
			b.Fatal(err, n)
		}
	}
}
