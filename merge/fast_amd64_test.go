package merge

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"
)

// refMeanF32 is meanF32's arithmetic, one element at a time.
func refMeanF32(act []int, q []float64, sides [][]byte, i int) uint32 {
	u0 := binary.LittleEndian.Uint32(sides[act[0]][4*i:])
	acc := float64(q[0] * float64(math.Float32frombits(u0)))
	var d uint32
	for a := 1; a < len(act); a++ {
		u := binary.LittleEndian.Uint32(sides[act[a]][4*i:])
		d |= u ^ u0
		acc += float64(q[a] * float64(math.Float32frombits(u)))
	}
	return pickF32(u0, d != 0, acc)
}

// TestMeanF32Vector checks the vectorised fedavg loop bit for bit against
// the scalar definition: NaN payloads, infinities, signed zeros,
// subnormals, identical sides, every side count and ragged lengths.
func TestMeanF32Vector(t *testing.T) {
	avx2 := useAVX2
	defer func() { useAVX2 = avx2 }()
	for _, wide := range []bool{false, true} {
		if wide && !avx2 {
			t.Log("no AVX2 here: only the SSE2 loop is checked")
			continue
		}
		useAVX2 = wide
		checkMeanF32(t)
	}
}

func checkMeanF32(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	specials := []uint32{0, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00001, 0xffc12345, 0x00000001, 0x807fffff, 0x7f7fffff}
	word := func() uint32 {
		switch r.IntN(6) {
		case 0:
			return specials[r.IntN(len(specials))]
		case 1:
			return r.Uint32()
		default:
			return math.Float32bits(float32(r.NormFloat64() * 0.05))
		}
	}
	for k := 1; k <= 6; k++ {
		for n := 0; n <= 37; n++ {
			sides := make([][]byte, k+1) // one side unused: act skips it
			for s := range sides {
				sides[s] = make([]byte, 4*n)
				for i := 0; i < n; i++ {
					w := word()
					if s > 0 && r.IntN(3) == 0 {
						w = binary.LittleEndian.Uint32(sides[0][4*i:]) // agree
					}
					binary.LittleEndian.PutUint32(sides[s][4*i:], w)
				}
			}
			var act []int
			var q []float64
			for s := 0; s <= k; s++ {
				if s != 1 || k == 1 {
					act = append(act, s)
				}
			}
			act = act[:k]
			for range act {
				q = append(q, r.Float64())
			}
			out := make([]byte, 4*n)
			lo := 0
			if n > 5 {
				lo = 1 + r.IntN(3)
			}
			meanF32(act, q, sides, out, lo, n)
			for i := lo; i < n; i++ {
				want := refMeanF32(act, q, sides, i)
				if got := binary.LittleEndian.Uint32(out[4*i:]); got != want {
					t.Fatalf("AVX2 %v k=%d n=%d element %d: got %#08x, want %#08x", useAVX2, k, n, i, got, want)
				}
			}
		}
	}
}

func BenchmarkMeanF32(b *testing.B) {
	const n = 1 << 20
	r := rand.New(rand.NewPCG(1, 2))
	sides := make([][]byte, 4)
	for s := range sides {
		sides[s] = make([]byte, 4*n)
		for i := 0; i < n; i++ {
			binary.LittleEndian.PutUint32(sides[s][4*i:], math.Float32bits(float32(r.NormFloat64())))
		}
	}
	out := make([]byte, 4*n)
	act, q := []int{0, 1, 2, 3}, []float64{0.1, 0.2, 0.3, 0.4}
	b.SetBytes(4 * 4 * n)
	for b.Loop() {
		meanF32(act, q, sides, out, 0, n)
	}
}
