package zk

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"runtime"
	"sync"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr/poseidon2"
)

// Sponge parameters: Poseidon2 over BN254 with width 16 (gnark-crypto's
// t=16 constants: 8 full and 57 partial rounds); state[0] is the capacity
// and holds the domain tag, state[1..15] absorb, state[1] is the output.
const (
	spongeWidth   = 16
	spongeRate    = spongeWidth - 1
	fullRounds    = 8
	partialRounds = 57
)

// Digest is a field element in its 32-byte big-endian form.
type Digest [32]byte

var (
	permOnce sync.Once
	perm     *poseidon2.Permutation
)

func permutation() *poseidon2.Permutation {
	permOnce.Do(func() { perm = poseidon2.NewPermutation(spongeWidth, fullRounds, partialRounds) })
	return perm
}

// spongeTag is the capacity element's initial value: the commitment
// format version and the number of values hashed.
func spongeTag(n int) uint64 { return uint64(commitVersion)<<32 | uint64(n) }

// digit is the packed form of q.
func digit(q int32) uint64 { return uint64(int64(q) + digitOffset) }

// HashChunk returns the commitment of one chunk of n values: q holds at
// most n values, the rest are zeros.
func HashChunk(q []int32, n int) Digest {
	var state [spongeWidth]fr.Element
	state[0].SetUint64(spongeTag(n))
	p := permutation()
	lane := 0
	var shift fr.Element
	shift.SetUint64(1 << digitBits)
	for e := 0; e*PerElement < n; e++ {
		var acc, d fr.Element
		hi := min((e+1)*PerElement, n)
		for j := hi - 1; j >= e*PerElement; j-- { // Horner, top digit first
			acc.Mul(&acc, &shift)
			var v int32
			if j < len(q) {
				v = q[j]
			}
			d.SetUint64(digit(v))
			acc.Add(&acc, &d)
		}
		state[1+lane].Add(&state[1+lane], &acc)
		lane++
		if lane == spongeRate {
			_ = p.Permutation(state[:]) // cannot fail: the slice has the width
			lane = 0
		}
	}
	if lane != 0 {
		_ = p.Permutation(state[:])
	}
	return state[1].Bytes()
}

// Commitment is a model's commitment: one digest per chunk and the root.
type Commitment struct {
	ChunkSize int
	Layout    [32]byte
	Extras    [32]byte
	Chunks    []Digest
	Root      [32]byte
}

// NumChunks returns the number of chunks of n values.
func NumChunks(n, chunkSize int) int { return (n + chunkSize - 1) / chunkSize }

// chunkOf returns chunk i of q (unpadded; may be shorter than size).
func chunkOf(q []int32, size, i int) []int32 {
	lo := i * size
	hi := min(lo+size, len(q))
	return q[lo:hi]
}

// Commit computes the commitment of v with chunks of chunkSize values,
// hashing chunks in parallel.
func Commit(ctx context.Context, v *Values, chunkSize int) (*Commitment, error) {
	if err := checkChunkSize(chunkSize); err != nil {
		return nil, err
	}
	n := NumChunks(len(v.Q), chunkSize)
	c := &Commitment{ChunkSize: chunkSize, Layout: v.Layout, Extras: v.Extras, Chunks: make([]Digest, n)}
	err := parallel(ctx, n, runtime.GOMAXPROCS(0), func(i int) error {
		c.Chunks[i] = HashChunk(chunkOf(v.Q, chunkSize, i), chunkSize)
		return nil
	})
	if err != nil {
		return nil, err
	}
	c.Root = RootOf(chunkSize, c.Layout, c.Extras, c.Chunks)
	return c, nil
}

// RootOf is the root over chunk commitments:
// SHA-256("fed-zk root v1\x00" ‖ u32be chunkSize ‖ layout ‖ extras ‖
// u32be n ‖ chunk digests).
func RootOf(chunkSize int, layout, extras [32]byte, chunks []Digest) [32]byte {
	h := sha256.New()
	h.Write([]byte("fed-zk root v1\x00"))
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(chunkSize))
	h.Write(b[:])
	h.Write(layout[:])
	h.Write(extras[:])
	binary.BigEndian.PutUint32(b[:], uint32(len(chunks)))
	h.Write(b[:])
	for _, d := range chunks {
		h.Write(d[:])
	}
	var r [32]byte
	copy(r[:], h.Sum(nil))
	return r
}

// CheckChunkSize checks a chunk size (zk.chunk): a multiple of
// PerElement in [MinChunk, MaxChunk].
func CheckChunkSize(n int) error { return checkChunkSize(n) }

func checkChunkSize(n int) error {
	if n < MinChunk || n > MaxChunk || n%PerElement != 0 {
		return fmt.Errorf("zk: chunk size %d: must be a multiple of %d in [%d, %d]", n, PerElement, MinChunk, MaxChunk)
	}
	return nil
}

// parallel runs fn(0..n-1) on up to workers goroutines and returns the
// first error (by index order of failure detection).
func parallel(ctx context.Context, n, workers int, fn func(i int) error) error {
	if workers < 1 {
		workers = 1
	}
	var (
		mu    sync.Mutex
		next  int
		first error
		wg    sync.WaitGroup
	)
	for w := 0; w < min(workers, n); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				if first != nil || next >= n {
					mu.Unlock()
					return
				}
				i := next
				next++
				mu.Unlock()
				err := ctx.Err()
				if err == nil {
					err = fn(i)
				}
				if err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}
