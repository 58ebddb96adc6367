package merge

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/fed-vcs/fed/objects"
)

func f32b(vs ...float32) []byte {
	b := make([]byte, 4*len(vs))
	for i, v := range vs {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return b
}

func f64b(vs ...float64) []byte {
	b := make([]byte, 8*len(vs))
	for i, v := range vs {
		binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(v))
	}
	return b
}

func i64b(vs ...int64) []byte {
	b := make([]byte, 8*len(vs))
	for i, v := range vs {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(v))
	}
	return b
}

func asF32(b []byte) []float32 {
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

// rng is a test-only deterministic generator (SplitMix64), so golden
// hashes do not depend on math/rand's algorithms.
type rng struct{ s uint64 }

func (r *rng) next() uint64 {
	r.s += 0x9E3779B97F4A7C15
	z := r.s
	z = (z ^ z>>30) * 0xBF58476D1CE4E5B9
	z = (z ^ z>>27) * 0x94D049BB133111EB
	return z ^ z>>31
}

// norm returns a roughly normal value (sum of uniforms) times scale.
func (r *rng) norm(scale float64) float64 {
	s := 0.0
	for i := 0; i < 4; i++ {
		s += float64(float64(r.next()>>11)*0x1p-53) - 0.5
	}
	return float64(s * scale)
}

// randTensor returns n random elements of dt (floats ~N(0, scale)).
func randTensor(r *rng, dt objects.DType, n int, scale float64) []byte {
	sz := elemSize(dt)
	b := make([]byte, n*sz)
	for i := 0; i < n; i++ {
		v := r.norm(scale)
		switch dt {
		case objects.F32:
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(float32(v)))
		case objects.F64:
			binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(v))
		case objects.F16:
			binary.LittleEndian.PutUint16(b[2*i:], Float64ToF16(v))
		case objects.BF16:
			binary.LittleEndian.PutUint16(b[2*i:], Float64ToBF16(v))
		default:
			u := r.next()
			for j := 0; j < sz; j++ {
				b[i*sz+j] = byte(u >> (8 * j))
			}
		}
	}
	return b
}

// perturb returns x plus noise of the given scale (floats only).
func perturb(r *rng, dt objects.DType, x []byte, scale float64) []byte {
	sz := elemSize(dt)
	out := make([]byte, len(x))
	for i := 0; i < len(x)/sz; i++ {
		v := decodeOne(dt, x[i*sz:]) + float64(r.norm(scale))
		encodeFloat(dt, v, out[i*sz:])
	}
	return out
}

func decodeOne(dt objects.DType, raw []byte) float64 {
	var d [1]float64
	decodeFloats(dt, raw, d[:])
	return d[0]
}

// run merges tensors with MergeTensors and fails the test on error.
func run(t *testing.T, opts Options, ts []TensorData, piece int) ([]TensorResult, *Report) {
	t.Helper()
	res, rep, err := MergeTensors(opts, ts, piece)
	if err != nil {
		t.Fatalf("MergeTensors(%s): %v", opts.Strategy, err)
	}
	return res, rep
}

func one(name string, dt objects.DType, base []byte, sides ...[]byte) []TensorData {
	return []TensorData{{Name: name, DType: dt, Base: base, Sides: sides}}
}

func dtypeOf(s string) objects.DType { return objects.DType(s) }
