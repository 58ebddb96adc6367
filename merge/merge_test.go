package merge

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/big"
	"testing"

	"github.com/fed-vcs/fed/objects"
	"github.com/google/go-cmp/cmp"
)

// strategyCase is a strategy with parameters and a side count it accepts.
type strategyCase struct {
	opts  Options
	sides int
}

func allCases() []strategyCase {
	p := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	return []strategyCase{
		{Options{Strategy: FedAvg, Weights: []float64{1, 2, 3}}, 3},
		{Options{Strategy: Median}, 4},
		{Options{Strategy: TrimmedMean, Params: p("beta", "0.25")}, 5},
		{Options{Strategy: Krum, Params: p("f", "1")}, 5},
		{Options{Strategy: MultiKrum, Params: p("f", "1", "m", "3"), Weights: []float64{1, 2, 3, 4, 5}}, 5},
		{Options{Strategy: Bulyan, Params: p("f", "1")}, 7},
		{Options{Strategy: FedAvgM, Params: p("lr", "0.7")}, 3},
		{Options{Strategy: FedAdam}, 3},
		{Options{Strategy: FedYogi}, 3},
		{Options{Strategy: FedAdagrad, Params: p("beta1", "0.5")}, 3},
		{Options{Strategy: Linear, Weights: []float64{0.1, 0.2, 0.7}}, 3},
		{Options{Strategy: TaskArith, Params: p("lambda", "0.8")}, 3},
		{Options{Strategy: Ties, Params: p("density", "0.3")}, 3},
		{Options{Strategy: DareLinear, Params: p("density", "0.4", "seed", "7")}, 3},
		{Options{Strategy: DareTies, Params: p("density", "0.6", "seed", "9")}, 3},
		{Options{Strategy: Slerp, Params: p("t", "0.3")}, 2},
		{Options{Strategy: ModelStock}, 3},
	}
}

func (c strategyCase) withBase() Options {
	o := c.opts
	o.HasBase = NeedsBase(o.Strategy)
	return o
}

// specials returns dt-encoded awkward values: ±0, ±Inf, NaNs with payloads
// (signalling too), subnormals, extremes.
func specials(dt objects.DType) []byte {
	switch dt {
	case objects.F32:
		var b []byte
		for _, u := range []uint32{0, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00001, 0x7f800123, 0xffc00000, 1, 0x807fffff, 0x7f7fffff} {
			b = binary.LittleEndian.AppendUint32(b, u)
		}
		return b
	case objects.F64:
		var b []byte
		for _, u := range []uint64{0, 1 << 63, 0x7ff0000000000000, 0xfff0000000000000, 0x7ff8000000000001, 0x7ff0000000000123, 1, 0x7fefffffffffffff} {
			b = binary.LittleEndian.AppendUint64(b, u)
		}
		return b
	case objects.F16, objects.BF16:
		var b []byte
		for _, u := range []uint16{0, 0x8000, 0x7c00, 0xfc00, 0x7e01, 0x7c05, 0x7f81, 0xff80, 1, 0x8001, 0x7bff, 0x7f7f} {
			b = binary.LittleEndian.AppendUint16(b, u)
		}
		return b
	}
	return nil
}

// TestMergeWithItselfIsIdentity: merge(x, x, …) == x bit for bit, for every
// strategy and dtype (base strategies with θ₀ = x and zero state).
func TestMergeWithItselfIsIdentity(t *testing.T) {
	dts := []objects.DType{objects.F32, objects.F64, objects.F16, objects.BF16, objects.I64, objects.U8, objects.I32, objects.Bool, objects.F8E5M2}
	for _, c := range allCases() {
		t.Run(c.opts.Strategy, func(t *testing.T) {
			r := &rng{s: 1}
			var ts []TensorData
			for _, dt := range dts {
				x := append(randTensor(r, dt, 3000, 0.05), specials(dt)...)
				sides := make([][]byte, c.sides)
				for i := range sides {
					sides[i] = x
				}
				var base []byte
				if NeedsBase(c.opts.Strategy) {
					base = x
				}
				ts = append(ts, TensorData{Name: "t." + string(dt), DType: dt, Base: base, Sides: sides})
			}
			res, _ := run(t, c.withBase(), ts, 1000)
			in := map[string][]byte{}
			for _, td := range ts {
				in[td.Name] = td.Sides[0]
			}
			for _, rr := range res {
				if string(rr.Data) != string(in[rr.Name]) {
					t.Errorf("%s: merge(x, x, …) != x", rr.Name)
				}
				for j, st := range rr.State {
					for _, b := range st {
						if b != 0 {
							t.Errorf("%s: state %d not zero", rr.Name, j)
							break
						}
					}
				}
			}
		})
	}
}

func TestExactModeIdempotentOnGrid(t *testing.T) {
	// The fixed-point mode quantises: merge(x, x) = x exactly when x is on
	// the 2^-16 grid, and dequantize(quantize(x)) otherwise.
	x := f32b(1.5, -0x1p-16, 123.25, 0.1)
	res, _ := run(t, Options{Params: map[string]string{"exact": "true"}}, one("w", objects.F32, nil, x, x, x), 4)
	want := []float32{1.5, -0x1p-16, 123.25, float32(Dequantize(6554))} // 0.1·65536 = 6553.6 → 6554
	if diff := cmp.Diff(want, asF32(res[0].Data)); diff != "" {
		t.Errorf("exact merge(x,x,x) (-want +got):\n%s", diff)
	}
}

// testModel builds a deterministic model: a large F32 tensor (more than two
// statistic blocks), F16 and BF16 tensors, an integer and a 0-d tensor.
func testModel(sides int, withBase bool, withState int) []TensorData {
	r := &rng{s: 12345}
	specs := []struct {
		name string
		dt   objects.DType
		n    int
	}{
		{"layer.0.weight", objects.F32, 150001},
		{"layer.0.bias", objects.F16, 3001},
		{"layer.1.weight", objects.BF16, 70000},
		{"layer.1.double", objects.F64, 777},
		{"bn.num_batches_tracked", objects.I64, 1},
		{"embed.ids", objects.I32, 513},
	}
	var ts []TensorData
	for _, s := range specs {
		base := randTensor(r, s.dt, s.n, 1)
		td := TensorData{Name: s.name, DType: s.dt}
		if withBase {
			td.Base = base
		}
		for i := 0; i < sides; i++ {
			if classOf(s.dt) == classFloat {
				td.Sides = append(td.Sides, perturb(r, s.dt, base, 0.01*float64(i+1)))
			} else {
				td.Sides = append(td.Sides, randTensor(r, s.dt, s.n, 1))
			}
		}
		if classOf(s.dt) == classFloat {
			for i := 0; i < withState; i++ {
				st := randTensor(r, s.dt, s.n, 0.01)
				if i == 1 { // second moments are non-negative
					for e := 0; e < s.n; e++ {
						sz := elemSize(s.dt)
						encodeFloat(s.dt, math.Abs(decodeOne(s.dt, st[e*sz:])), st[e*sz:])
					}
				}
				td.State = append(td.State, st)
			}
		}
		ts = append(ts, td)
	}
	return ts
}

func stateCount(strategy string) int {
	switch strategy {
	case FedAvgM:
		return 1
	case FedAdam, FedYogi, FedAdagrad:
		return 2
	}
	return 0
}

// TestPieceSizeAndWorkersDoNotMatter: the same bytes and report for any
// piece size and worker count.
func TestPieceSizeAndWorkersDoNotMatter(t *testing.T) {
	for _, c := range allCases() {
		t.Run(c.opts.Strategy, func(t *testing.T) {
			ts := testModel(c.sides, NeedsBase(c.opts.Strategy), stateCount(c.opts.Strategy))
			opts := c.withBase()
			ref, refRep := run(t, opts, ts, 1<<30)
			for _, v := range []struct{ piece, workers int }{{8 * 1009, 1}, {4 << 16, 2}, {12345 * 8, 3}, {1 << 20, 2}} {
				o := opts
				o.Workers = v.workers
				got, rep := run(t, o, ts, v.piece)
				for i := range got {
					if string(got[i].Data) != string(ref[i].Data) {
						t.Errorf("piece %d workers %d: tensor %s differs", v.piece, v.workers, got[i].Name)
					}
					if fmt.Sprintf("%x", got[i].State) != fmt.Sprintf("%x", ref[i].State) {
						t.Errorf("piece %d workers %d: state of %s differs", v.piece, v.workers, got[i].Name)
					}
				}
				if diff := cmp.Diff(refRep, rep); diff != "" {
					t.Errorf("piece %d workers %d: report (-whole +pieces):\n%s", v.piece, v.workers, diff)
				}
			}
		})
	}
}

// bigRound rounds x to 53 bits, nearest even, like a float64 operation.
func bigRound(x *big.Float) *big.Float {
	return new(big.Float).SetMode(big.ToNearestEven).SetPrec(53).Set(x)
}

// TestFedAvgMatchesBigFloat recomputes fedavg with math/big: each
// documented float64 operation (p_k = w_k/W, p_k·x_k, the running sum) at 53
// bits, then the final rounding by big.Float.Float32 (F32) or the table
// reference (F16/BF16). It must agree bit for bit; and the exactly rounded
// true mean must agree on almost every element.
func TestFedAvgMatchesBigFloat(t *testing.T) {
	r := &rng{s: 99}
	for _, tc := range []struct {
		dt      objects.DType
		weights []float64
	}{
		{objects.F32, []float64{3, 1.5, 0.25, 7}},
		{objects.F32, []float64{2, 5}},
		{objects.F32, []float64{1, 0.5, 3}},
		{objects.F32, []float64{1, 2, 3, 4, 5, 6}},
		{objects.F16, []float64{3, 1.5, 0.25, 7}},
		{objects.BF16, []float64{3, 1.5, 0.25, 7}},
	} {
		dt, weights := tc.dt, tc.weights
		t.Run(fmt.Sprintf("%s/%d", dt, len(weights)), func(t *testing.T) {
			const n = 20000
			var sides [][]byte
			for k := 0; k < len(weights); k++ {
				sides = append(sides, randTensor(r, dt, n, 3))
			}
			res, _ := run(t, Options{Weights: weights}, one("w", dt, nil, sides...), 4096)
			W := new(big.Float)
			for _, w := range weights {
				W = bigRound(W.Add(W, big.NewFloat(w)))
			}
			var ref *refHalf
			switch dt {
			case objects.F16:
				ref = newRefHalf(halfFormats[0])
			case objects.BF16:
				ref = newRefHalf(halfFormats[1])
			}
			sz := elemSize(dt)
			exactMismatch := 0
			for i := 0; i < n; i++ {
				var sum, exact *big.Float
				same := true
				for k, w := range weights {
					x := big.NewFloat(decodeOne(dt, sides[k][i*sz:]))
					p := bigRound(new(big.Float).Quo(big.NewFloat(w), W))
					term := bigRound(new(big.Float).Mul(p, x))
					ex := new(big.Float).SetPrec(2000).Mul(big.NewFloat(w), x)
					if sum == nil {
						sum, exact = term, ex
					} else {
						sum = bigRound(new(big.Float).Add(sum, term))
						exact = new(big.Float).SetPrec(2000).Add(exact, ex)
					}
					if string(sides[k][i*sz:(i+1)*sz]) != string(sides[0][i*sz:(i+1)*sz]) {
						same = false
					}
				}
				if same {
					continue
				}
				exact.Quo(exact, W)
				got := res[0].Data[i*sz : (i+1)*sz]
				enc := func(x *big.Float) []byte {
					f, _ := x.Float64()
					if dt == objects.F32 {
						f32, _ := x.Float32()
						return f32b(f32)
					}
					return binary.LittleEndian.AppendUint16(nil, ref.round(f))
				}
				if want := enc(sum); string(got) != string(want) {
					t.Fatalf("element %d: got %x, want %x", i, got, want)
				}
				if dt != objects.F32 {
					// F16/BF16 reference rounds the float64 value, so only
					// the 53-bit emulation is compared above.
					continue
				}
				if string(got) != string(enc(exact)) {
					exactMismatch++
				}
			}
			// Float64 products and sums carry ~1e-16 relative error, so a
			// true mean lying exactly on a float32 midpoint (common when W
			// divides the numerator, e.g. W = 4.5) may round either way.
			if exactMismatch > n/100 {
				t.Errorf("%d of %d elements differ from the exactly rounded mean", exactMismatch, n)
			}
		})
	}
}

// goldenHashes pin the bytes of merge outputs on fixed pseudo-random inputs:
// a numerics change must update them on purpose.
var goldenHashes = map[string]string{
	"fedavg":          "1ed142ce563f209c5ef8a7529c76a5116af871dcb64b28ea410925c9936e6a84",
	"median":          "553f74b35c81afc00cf09ab3cc4dfe2d3824d196ad0d3b12452607e014be848d",
	"trimmed-mean":    "3fe3358f682c2ade4084022e031ea57d018b7aafe34b86f9ba0f318d1526a251",
	"krum":            "2c1f363da24673128a42bc0fac3ec5a3fdfd1222575a1312d01c09f25dee3384",
	"multi-krum":      "97b7175abeade23ed89c6299bbb489785081d80c004812577cf7513aeeb838b7",
	"bulyan":          "31edc09e3ac7cafa60c76ef65678a955458f088f11f033521ea0f1567399dc94",
	"fedavgm":         "17e43af0b69a0c1d8024ca7cc8abbccfd423807af37c435efa3c946e648e0feb",
	"fedadam":         "d2a26f7cae81968ebbc69fa44e9b4778cf1f7b2d156a564f6ebf8a0af13055eb",
	"fedyogi":         "6cf03c51ab537949d0b00a09d8ba20b3d68e600ae139dd33cb5c0d7c3e09a4d4",
	"fedadagrad":      "4a67ee3464493d95e298e838a6dde786334d2ac72ed68863671fab5b88dafaa5",
	"linear":          "f0ef6eba8196b1be5d17bffc3e92428291133b468267d0965c17720cb68807ec",
	"task-arithmetic": "8338d0ebca33b6f366d1131a860424cddc0810cbc2b0b8039dcbfc5588abd391",
	"ties":            "e39fd093082764376c3788e5b10e0da09293dd7b49429ac39cd0fe7ef3e017c0",
	"dare-linear":     "30770374eb7e13d82dbcf228dfcbf3eef38d720685c6aba1e56ad9f6d2ba6ac2",
	"dare-ties":       "fdaefc506dc8dd2fab2cf1defa566392e81c2a036db63db12f7a717982cb1a1c",
	"slerp":           "92514ad5b072e967e4f7bbb35c35650308c60073c02b593a6e5f5d86082438b8",
	"model-stock":     "74cd7918c123b867df69437cde59c9d06daaa2853e25a60891765c1455fd089d",
}

func TestGoldenHashes(t *testing.T) {
	got := map[string]string{}
	for _, c := range allCases() {
		ts := testModel(c.sides, NeedsBase(c.opts.Strategy), stateCount(c.opts.Strategy))
		res, _ := run(t, c.withBase(), ts, 1<<20)
		h := sha256.New()
		for _, r := range res {
			h.Write(r.Data)
			for _, s := range r.State {
				h.Write(s)
			}
		}
		got[c.opts.Strategy] = hex.EncodeToString(h.Sum(nil))
	}
	if len(goldenHashes) == 0 {
		for _, c := range allCases() {
			fmt.Printf("\t%q: %q,\n", c.opts.Strategy, got[c.opts.Strategy])
		}
		t.Fatal("no golden hashes recorded")
	}
	if diff := cmp.Diff(goldenHashes, got); diff != "" {
		t.Errorf("merge outputs changed (-golden +got):\n%s", diff)
	}
}

func TestValidationErrors(t *testing.T) {
	tests := []struct {
		name  string
		opts  Options
		sides int
		check func(error) bool
	}{
		{"unknown strategy", Options{Strategy: "fedmagic"}, 2, func(e error) bool { return errors.Is(e, ErrUnknownStrategy) }},
		{"wrong weight count", Options{Weights: []float64{1}}, 2, isWeightErr(-1)},
		{"negative weight", Options{Weights: []float64{1, -1}}, 2, isWeightErr(1)},
		{"NaN weight", Options{Weights: []float64{math.NaN(), 1}}, 2, isWeightErr(0)},
		{"all zero", Options{Weights: []float64{0, 0}}, 2, isWeightErr(-1)},
		{"unknown param", Options{Params: map[string]string{"beta": "1"}}, 2, isParamErr("beta")},
		{"bad number", Options{Strategy: TrimmedMean, Params: map[string]string{"beta": "x"}}, 4, isParamErr("beta")},
		{"beta range", Options{Strategy: TrimmedMean, Params: map[string]string{"beta": "0.5"}}, 4, isParamErr("beta")},
		{"density range", Options{Strategy: Ties, HasBase: true, Params: map[string]string{"density": "0"}}, 2, isParamErr("density")},
		{"t range", Options{Strategy: Slerp, Params: map[string]string{"t": "1.5"}}, 2, isParamErr("t")},
		{"mu range", Options{Strategy: FedAvgM, HasBase: true, Params: map[string]string{"mu": "1"}}, 2, isParamErr("mu")},
		{"negative f", Options{Strategy: Krum, Params: map[string]string{"f": "-1"}}, 5, isParamErr("f")},
		{"m too big", Options{Strategy: MultiKrum, Params: map[string]string{"m": "6"}}, 5, isParamErr("m")},
		{"adagrad has no beta2", Options{Strategy: FedAdagrad, HasBase: true, Params: map[string]string{"beta2": "0.9"}}, 2, isParamErr("beta2")},
		{"bad seed", Options{Strategy: DareTies, HasBase: true, Params: map[string]string{"seed": "-3"}}, 2, isParamErr("seed")},
		{"exact not bool", Options{Params: map[string]string{"exact": "yes"}}, 2, isParamErr("exact")},
		{"krum too few", Options{Strategy: Krum, Params: map[string]string{"f": "1"}}, 4, isSidesErr},
		{"bulyan too few", Options{Strategy: Bulyan, Params: map[string]string{"f": "1"}}, 6, isSidesErr},
		{"slerp three", Options{Strategy: Slerp}, 3, isSidesErr},
		{"model-stock one", Options{Strategy: ModelStock, HasBase: true}, 1, isSidesErr},
		{"no sides", Options{}, 0, isSidesErr},
		{"base missing", Options{Strategy: TaskArith}, 2, func(e error) bool { return errors.Is(e, ErrNeedsBase) }},
		{"base missing fedadam", Options{Strategy: FedAdam}, 2, func(e error) bool { return errors.Is(e, ErrNeedsBase) }},
		{"exact fractional", Options{Weights: []float64{1, 0.5}, Params: map[string]string{"exact": "true"}}, 2, isWeightErr(1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.opts
			err := o.Validate(tt.sides)
			if err == nil || !tt.check(err) || !errors.Is(err, ErrInvalidOptions) {
				t.Errorf("Validate = %v", err)
			}
		})
	}
	o := Options{Strategy: MultiKrum, Params: map[string]string{"f": "1"}}
	if err := o.Validate(5); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"f": "1", "m": "4"}, o.Params); diff != "" {
		t.Errorf("filled params (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]float64{1, 1, 1, 1, 1}, o.Weights); diff != "" {
		t.Errorf("default weights (-want +got):\n%s", diff)
	}
}

func isWeightErr(idx int) func(error) bool {
	return func(e error) bool {
		var we *WeightError
		return errors.As(e, &we) && we.Index == idx
	}
}

func isParamErr(name string) func(error) bool {
	return func(e error) bool {
		var pe *ParamError
		return errors.As(e, &pe) && pe.Param == name
	}
}

func isSidesErr(e error) bool {
	var se *SidesError
	return errors.As(e, &se)
}

func TestCallOrderErrors(t *testing.T) {
	m, err := New(Options{Strategy: Krum}, 3)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Tensor("a", objects.F32, 1); !errors.Is(err, ErrOrder) {
		t.Errorf("Tensor before Plan: %v", err)
	}
	s := [][]byte{f32b(1), f32b(2), f32b(3)}
	if err := m.ObserveModel("b", objects.F32, 0, s); err != nil {
		t.Fatal(err)
	}
	if err := m.ObserveModel("a", objects.F32, 0, s); !errors.Is(err, ErrOrder) {
		t.Errorf("tensors out of order: %v", err)
	}
	if err := m.ObserveModel("c", objects.F32, 1, s); !errors.Is(err, ErrOrder) {
		t.Errorf("first piece 1: %v", err)
	}
	if err := m.ObserveModel("c", objects.F32, 0, [][]byte{f32b(1), f32b(2, 3), f32b(3)}); !errors.Is(err, ErrShapeMismatch) {
		t.Errorf("ragged sides: %v", err)
	}
	if err := m.Plan(); err != nil {
		t.Fatal(err)
	}
	tn, err := m.Tensor("a", objects.F32, 2)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]byte, 4)
	if err := tn.MergePiece(1, nil, s, nil, out, nil); !errors.Is(err, ErrOrder) {
		t.Errorf("piece 1 first: %v", err)
	}
	if err := tn.MergePiece(0, nil, s, nil, out, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Tensor("b", objects.F32, 1); !errors.Is(err, ErrOrder) {
		t.Errorf("next tensor before the last is done: %v", err)
	}
	if err := tn.MergePiece(1, nil, [][]byte{f32b(1, 1), f32b(2, 2), f32b(3, 3)}, nil, make([]byte, 8), nil); !errors.Is(err, ErrShapeMismatch) {
		t.Errorf("overlong tensor: %v", err)
	}
}

func TestNoAllocationPerPiece(t *testing.T) {
	const n = 1 << 18
	r := &rng{s: 3}
	sides := [][]byte{randTensor(r, objects.F32, n, 1), randTensor(r, objects.F32, n, 1)}
	m, err := New(Options{Workers: 1}, 2)
	if err != nil {
		t.Fatal(err)
	}
	tn, err := m.Tensor("w", objects.F32, 1<<40)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]byte, 4*n)
	piece := 0
	allocs := testing.AllocsPerRun(10, func() {
		if err := tn.MergePiece(piece, nil, sides, nil, out, nil); err != nil {
			t.Fatal(err)
		}
		piece++
	})
	if allocs > 0 {
		t.Errorf("%v allocations per piece", allocs)
	}
}

// BenchmarkFedAvgF32 merges 4 sides × 64 MiB of F32 in 4 MiB pieces; the
// reported MB/s is input bytes (4 × 64 MiB per op).
func BenchmarkFedAvgF32(b *testing.B) {
	const size, piece, k = 64 << 20, 4 << 20, 4
	r := &rng{s: 5}
	sides := make([][]byte, k)
	for i := range sides {
		sides[i] = randTensor(r, objects.F32, size/4, 1)
	}
	out := make([]byte, size)
	ps := make([][]byte, k)
	b.SetBytes(k * size)
	b.ReportAllocs()
	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		m, err := New(Options{Weights: []float64{1, 2, 3, 4}}, k)
		if err != nil {
			b.Fatal(err)
		}
		tn, err := m.Tensor("w", objects.F32, size/4)
		if err != nil {
			b.Fatal(err)
		}
		for i, lo := 0, 0; lo < size; i, lo = i+1, lo+piece {
			for j := range ps {
				ps[j] = sides[j][lo : lo+piece]
			}
			if err := tn.MergePiece(i, nil, ps, nil, out[lo:lo+piece], nil); err != nil {
				b.Fatal(err)
			}
		}
	}
}
