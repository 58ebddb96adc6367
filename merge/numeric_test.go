package merge

import (
	"math"
	"math/big"
	"slices"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fed-vcs/fed/objects"
)

type halfFormat struct {
	name     string
	toF64    func(uint16) float64
	fromF64  func(float64) uint16
	expBits  uint
	mantBits uint
}

var halfFormats = []halfFormat{
	{"F16", F16ToFloat64, Float64ToF16, 5, 10},
	{"BF16", BF16ToFloat64, Float64ToBF16, 8, 7},
}

// TestHalfRoundTripExhaustive decodes every 16-bit pattern and encodes it
// back: every non-NaN pattern must come back unchanged, NaNs must stay
// NaNs with their sign.
func TestHalfRoundTripExhaustive(t *testing.T) {
	for _, f := range halfFormats {
		t.Run(f.name, func(t *testing.T) {
			for h := 0; h < 1<<16; h++ {
				x := f.toF64(uint16(h))
				got := f.fromF64(x)
				if x != x {
					signBit := uint16(1) << (f.expBits + f.mantBits)
					if back := f.toF64(got); back == back || got&signBit != uint16(h)&signBit {
						t.Fatalf("NaN %#04x -> %#04x", h, got)
					}
					continue
				}
				if got != uint16(h) {
					t.Fatalf("%#04x -> %v -> %#04x", h, x, got)
				}
			}
		})
	}
}

// TestHalfDecodeMatchesBig checks the exact decoded value of every finite
// pattern against sign · mant · 2^exp computed with math/big.
func TestHalfDecodeMatchesBig(t *testing.T) {
	for _, f := range halfFormats {
		bias := 1<<(f.expBits-1) - 1
		for h := 0; h < 1<<16; h++ {
			e := (h >> f.mantBits) & (1<<f.expBits - 1)
			if e == 1<<f.expBits-1 {
				continue
			}
			mant := int64(h & (1<<f.mantBits - 1))
			exp := e - bias - int(f.mantBits)
			if e == 0 {
				exp = 1 - bias - int(f.mantBits)
			} else {
				mant |= 1 << f.mantBits
			}
			want := new(big.Float).SetMantExp(big.NewFloat(float64(mant)), exp)
			if h>>(f.expBits+f.mantBits) != 0 {
				want.Neg(want)
			}
			w, _ := want.Float64()
			if got := f.toF64(uint16(h)); got != w || math.Signbit(got) != math.Signbit(w) && w != 0 {
				t.Fatalf("%s %#04x = %v, want %v", f.name, h, got, w)
			}
		}
	}
}

func TestHalfKnownConstants(t *testing.T) {
	tests := []struct {
		f    func(float64) uint16
		x    float64
		want uint16
	}{
		{Float64ToF16, 1, 0x3c00},
		{Float64ToF16, -2, 0xc000},
		{Float64ToF16, 65504, 0x7bff},                                     // largest finite
		{Float64ToF16, 65519.99, 0x7bff},                                  // below the halfway point to 2^16
		{Float64ToF16, 65520, 0x7c00},                                     // halfway: ties to even = Inf
		{Float64ToF16, 1e10, 0x7c00},                                      // overflow
		{Float64ToF16, math.Inf(-1), 0xfc00},                              // -Inf
		{Float64ToF16, 0x1p-14, 0x0400},                                   // smallest normal
		{Float64ToF16, 0x1p-24, 0x0001},                                   // smallest subnormal
		{Float64ToF16, 0x1p-25, 0x0000},                                   // half of it: ties to even = 0
		{Float64ToF16, 0x1.0000000000001p-25, 0x0001},                     // just above half
		{Float64ToF16, 0x3p-25, 0x0002},                                   // 1.5 subnormal units: ties to even = 2
		{Float64ToF16, 0x1.ffcp-15, 0x0400},                               // halfway above the largest subnormal: ties to even
		{Float64ToF16, 1.0 / 3, 0x3555},                                   // 0.333251953125
		{Float64ToF16, 0.1, 0x2e66},                                       // 0.0999755859375
		{Float64ToF16, 1 + 0x1p-11, 0x3c00},                               // halfway between 1 and next: even
		{Float64ToF16, 1 + 0x3p-11, 0x3c02},                               // halfway, odd below: up
		{Float64ToF16, math.Copysign(0, -1), 0x8000},                      // -0
		{Float64ToF16, 5e-324, 0x0000},                                    // float64 subnormal
		{Float64ToBF16, 1, 0x3f80},                                        // 1
		{Float64ToBF16, math.Pi, 0x4049},                                  // 3.140625
		{Float64ToBF16, 1 + 0x1p-8, 0x3f80},                               // halfway: even
		{Float64ToBF16, 1 + 0x3p-8, 0x3f82},                               // halfway: up to even
		{Float64ToBF16, 0x1p-133, 0x0001},                                 // smallest subnormal
		{Float64ToBF16, 0x1p-134, 0x0000},                                 // half of it
		{Float64ToBF16, 3.3895313892515355e38, 0x7f7f},                    // largest finite
		{Float64ToBF16, 3.3962e38, 0x7f80},                                // rounds to Inf
		{Float64ToBF16, -1e-40, 0x8001},                                   // negative subnormal (1e-40 ≈ 1.09 units)
		{Float64ToBF16, math.Float64frombits(0x7ff8000000000001), 0x7fc0}, // NaN stays quiet NaN
	}
	for _, tt := range tests {
		if got := tt.f(tt.x); got != tt.want {
			t.Errorf("convert %v (%x) = %#04x, want %#04x", tt.x, math.Float64bits(tt.x), got, tt.want)
		}
	}
}

// refHalf rounds x to the nearest finite value of the format by searching
// the sorted table of all finite values (ties: the pattern with an even
// mantissa), with overflow decided against the next power of two. It shares
// no code with float64ToHalf.
type refHalf struct {
	f     halfFormat
	vals  []float64 // non-negative finite values, ascending
	bits  []uint16
	limit float64 // values ≥ limit round to Inf
}

func newRefHalf(f halfFormat) *refHalf {
	r := &refHalf{f: f}
	for h := 0; h < 1<<(f.expBits+f.mantBits); h++ {
		if (h>>f.mantBits)&(1<<f.expBits-1) == 1<<f.expBits-1 {
			continue
		}
		r.vals = append(r.vals, f.toF64(uint16(h)))
		r.bits = append(r.bits, uint16(h))
	}
	maxv := r.vals[len(r.vals)-1]
	next := math.Ldexp(1, 1<<(f.expBits-1)) // 2^(emax+1)
	r.limit = maxv + (next-maxv)/2
	return r
}

func (r *refHalf) round(x float64) uint16 {
	neg := math.Signbit(x)
	a := math.Abs(x)
	signBit := uint16(1) << (r.f.expBits + r.f.mantBits)
	var h uint16
	if a >= r.limit {
		h = uint16(1<<r.f.expBits-1) << r.f.mantBits
	} else {
		i := sort.SearchFloat64s(r.vals, a)
		switch {
		case i == len(r.vals):
			h = r.bits[len(r.bits)-1]
		case r.vals[i] == a || i == 0:
			h = r.bits[i]
		default:
			lo, hi := r.vals[i-1], r.vals[i]
			dl, dh := new(big.Float).Sub(big.NewFloat(a), big.NewFloat(lo)), new(big.Float).Sub(big.NewFloat(hi), big.NewFloat(a))
			switch dl.Cmp(dh) {
			case -1:
				h = r.bits[i-1]
			case 1:
				h = r.bits[i]
			default:
				h = r.bits[i]
				if r.bits[i-1]&1 == 0 {
					h = r.bits[i-1]
				}
			}
		}
	}
	if neg {
		h |= signBit
	}
	return h
}

// TestHalfRoundingAgainstTable checks every midpoint between neighbours,
// its float64 neighbours, and random values against refHalf.
func TestHalfRoundingAgainstTable(t *testing.T) {
	for _, f := range halfFormats {
		t.Run(f.name, func(t *testing.T) {
			ref := newRefHalf(f)
			check := func(x float64) {
				for _, y := range []float64{x, -x} {
					if got, want := f.fromF64(y), ref.round(y); got != want {
						t.Fatalf("round %v (%#x) = %#04x, want %#04x", y, math.Float64bits(y), got, want)
					}
				}
			}
			for i := 1; i < len(ref.vals); i++ {
				mid := ref.vals[i-1] + (ref.vals[i]-ref.vals[i-1])/2 // exact in float64
				check(mid)
				check(math.Nextafter(mid, 0))
				check(math.Nextafter(mid, math.Inf(1)))
			}
			check(ref.limit)
			check(math.Nextafter(ref.limit, 0))
			r := &rng{s: 7}
			for i := 0; i < 200000; i++ {
				// random sign-free float64 spanning the format's range and beyond
				e := int(r.next()%uint64(2*(1<<f.expBits)+40)) - (1 << f.expBits) - 20
				check(math.Ldexp(1+float64(r.next()>>11)*0x1p-53, e))
			}
		})
	}
}

func TestIntegerHalfEven(t *testing.T) {
	tests := []struct {
		name    string
		dt      string
		weights []float64
		sides   [][]byte
		want    []byte
	}{
		{"U8 1.5 up to 2", "U8", nil, [][]byte{{1, 2}, {2, 3}}, []byte{2, 2}}, // 1.5→2, 2.5→2
		{"U8 weighted 0.75", "U8", []float64{1, 3}, [][]byte{{0}, {1}}, []byte{1}},
		{"U8 weighted 0.25", "U8", []float64{3, 1}, [][]byte{{0}, {1}}, []byte{0}},
		{"I8 negatives", "I8", nil, [][]byte{{0xff, 0xfe}, {0xfe, 0xfd}}, []byte{0xfe, 0xfe}}, // -1.5→-2, -2.5→-2
		{"U8 fractional weights", "U8", []float64{0.1, 0.2}, [][]byte{{10}}, nil},
		{"I64 num_batches_tracked", "I64", nil, [][]byte{i64b(100), i64b(101)}, i64b(100)},
		{"I64 near 2^62", "I64", nil, [][]byte{i64b(1 << 62), i64b(1<<62 + 1)}, i64b(1 << 62)},
		{"I64 odd tie up", "I64", nil, [][]byte{i64b(1<<62 + 1), i64b(1<<62 + 2)}, i64b(1<<62 + 2)},
		{"I64 extremes", "I64", nil, [][]byte{i64b(math.MaxInt64), i64b(math.MinInt64)}, i64b(0)}, // -0.5 → 0
		{"U64 top", "U64", nil, [][]byte{i64b(-1), i64b(-2)}, i64b(-2)},                           // 2^64-1.5 → even 2^64-2
		{"I64 three sides", "I64", nil, [][]byte{i64b(1), i64b(1), i64b(2)}, i64b(1)},             // 4/3
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.want == nil { // 0.1 and 0.2 are exactly 1:2 as float64: (10 + 2·40)/3 = 30
				tt.sides = [][]byte{{10}, {40}}
				tt.want = []byte{30}
			}
			res, _ := run(t, Options{Weights: tt.weights}, one("x", dtypeOf(tt.dt), nil, tt.sides...), 1)
			if string(res[0].Data) != string(tt.want) {
				t.Errorf("got %v, want %v", res[0].Data, tt.want)
			}
		})
	}
}

// The robust rules select among integer elements as they do among floats:
// one side's poisoned BatchNorm counter (num_batches_tracked = 1e12) does
// not reach the merge. Before, every integer tensor took the samples-
// weighted mean of the contributing sides (~2e11 here).
func TestRobustRulesOnIntegerTensors(t *testing.T) {
	const poison = 1_000_000_000_000
	samples := []float64{100, 300, 200, 1, 250}
	counters := [][]byte{i64b(100), i64b(300), i64b(200), i64b(poison), i64b(250)}
	tests := []struct {
		name  string
		opts  Options
		dt    string
		sides [][]byte
		want  []byte
	}{
		{"median odd", Options{Strategy: Median, Weights: samples}, "I64", counters, i64b(250)},
		{"median even: half-even mean of the middle two", Options{Strategy: Median}, "I64",
			[][]byte{i64b(100), i64b(200), i64b(301), i64b(poison)}, i64b(250)}, // 250.5 → 250
		{"median even, negative tie", Options{Strategy: Median}, "I64", [][]byte{i64b(-3), i64b(-2)}, i64b(-2)}, // -2.5 → -2
		{"median U64 top", Options{Strategy: Median}, "U64", [][]byte{i64b(-1), i64b(-2), i64b(-1)}, i64b(-1)},
		{"median U64 top even", Options{Strategy: Median}, "U64", [][]byte{i64b(-1), i64b(-2)}, i64b(-2)}, // 2^64-1.5 → 2^64-2
		{"median element-wise", Options{Strategy: Median}, "U8", [][]byte{{1, 9}, {2, 8}, {255, 7}}, []byte{2, 8}},
		{"trimmed-mean", Options{Strategy: TrimmedMean, Weights: samples}, "I64", counters, i64b(250)},
		{"trimmed-mean I8", Options{Strategy: TrimmedMean}, "I8", [][]byte{{0x80}, {0x7f}, {0}, {1}, {2}}, []byte{1}},
		{"trimmed-mean beta 0 is the plain mean", Options{Strategy: TrimmedMean, Params: map[string]string{"beta": "0"}}, "I32",
			[][]byte{{1, 0, 0, 0}, {2, 0, 0, 0}}, []byte{2, 0, 0, 0}}, // 1.5 → 2
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, _ := run(t, tt.opts, one("bn.num_batches_tracked", dtypeOf(tt.dt), nil, tt.sides...), 8)
			if string(res[0].Data) != string(tt.want) {
				t.Errorf("got %v, want %v", res[0].Data, tt.want)
			}
		})
	}
}

// Bulyan keeps, among the sides its repeated krum selected, the K−4f
// integer values closest to their median; krum copies its selected side.
// The floats here are equal on every side, so the selection is by side
// index (sides 0–4 for bulyan) and holds the poisoned side 2.
func TestRobustSelectionOnIntegerTensors(t *testing.T) {
	const poison = 1_000_000_000_000
	ints := [][]byte{i64b(100), i64b(200), i64b(poison), i64b(300), i64b(250), i64b(7), i64b(9)}
	var floats [][]byte
	for range ints {
		floats = append(floats, f32b(0.5, -1))
	}
	ts := []TensorData{
		{Name: "bn.num_batches_tracked", DType: objects.I64, Sides: ints},
		{Name: "w", DType: objects.F32, Sides: floats},
	}
	res, rep := run(t, Options{Strategy: Bulyan, Params: map[string]string{"f": "1"}}, ts, 8)
	if diff := cmp.Diff([]int{0, 1, 2, 3, 4}, func() []int { s := append([]int(nil), rep.Selected...); slices.Sort(s); return s }()); diff != "" {
		t.Fatalf("bulyan selection (-want +got):\n%s", diff)
	}
	// selected 100 200 1e12 300 250: median 250; the 3 closest 250, 200, 300
	if got := res[0].Data; string(got) != string(i64b(250)) {
		t.Errorf("bulyan integer tensor = %v, want 250 as bytes %v", got, i64b(250))
	}
}
