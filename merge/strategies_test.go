package merge

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"testing"

	"github.com/fed-vcs/fed/objects"
	"github.com/google/go-cmp/cmp"
)

// Expected values below are worked out by hand from the formulas in
// design-merge.md; F32 outputs absorb float64 rounding noise.

func TestStrategiesHandComputed(t *testing.T) {
	f := objects.F32
	tests := []struct {
		name    string
		opts    Options
		base    []byte
		sides   [][]byte
		want    []float32
		wantSel []int
	}{
		{"fedavg weighted", Options{Weights: []float64{1, 3}}, nil,
			[][]byte{f32b(1, 2, 3), f32b(3, 4, 5)}, []float32{2.5, 3.5, 4.5}, nil},
		{"linear equal", Options{Strategy: Linear}, nil,
			[][]byte{f32b(1, 2, 3), f32b(3, 4, 5)}, []float32{2, 3, 4}, nil},
		{"median odd", Options{Strategy: Median}, nil,
			[][]byte{f32b(1, 5, 9), f32b(2, 3, 7), f32b(10, 4, 8)}, []float32{2, 4, 8}, nil},
		{"median even ignores weights", Options{Strategy: Median, Weights: []float64{9, 1, 1, 1}}, nil,
			[][]byte{f32b(1, 5, 9), f32b(2, 3, 7), f32b(10, 4, 8), f32b(0, 0, 0)}, []float32{1.5, 3.5, 7.5}, nil},
		{"trimmed-mean beta 0.2 of 5", Options{Strategy: TrimmedMean, Params: map[string]string{"beta": "0.2"}}, nil,
			[][]byte{f32b(1, 0), f32b(2, 0), f32b(3, 0), f32b(4, 0), f32b(100, 10)}, []float32{3, 0}, nil},
		{"slerp orthogonal t=0.5", Options{Strategy: Slerp}, nil,
			[][]byte{f32b(1, 0), f32b(0, 1)}, []float32{float32(math.Sqrt2 / 2), float32(math.Sqrt2 / 2)}, nil},
		{"slerp orthogonal t=0.25", Options{Strategy: Slerp, Params: map[string]string{"t": "0.25"}}, nil,
			[][]byte{f32b(1, 0), f32b(0, 1)}, []float32{0.9238795325112867, 0.3826834323650898}, nil},
		{"slerp t from weights", Options{Strategy: Slerp, Weights: []float64{3, 1}}, nil,
			[][]byte{f32b(1, 0), f32b(0, 1)}, []float32{0.9238795325112867, 0.3826834323650898}, nil},
		{"slerp parallel falls back to lerp", Options{Strategy: Slerp}, nil,
			[][]byte{f32b(1, 2), f32b(2, 4)}, []float32{1.5, 3}, nil},
		{"task-arithmetic", Options{Strategy: TaskArith, HasBase: true}, f32b(1, 1),
			[][]byte{f32b(2, 1), f32b(1, 3)}, []float32{1.5, 2}, nil},
		{"task-arithmetic lambda 2", Options{Strategy: TaskArith, HasBase: true, Params: map[string]string{"lambda": "2"}}, f32b(1, 1),
			[][]byte{f32b(2, 1), f32b(1, 3)}, []float32{2, 3}, nil},
		{"dare-linear density 1 is task-arithmetic", Options{Strategy: DareLinear, HasBase: true, Params: map[string]string{"density": "1"}}, f32b(1, 1),
			[][]byte{f32b(2, 1), f32b(1, 3)}, []float32{1.5, 2}, nil},
		// ties, density 1: elem0 δ=(1,-3,1): Σ=-1/3 → "-", mean of {-3} = -3;
		// elem1 (-1,-1,2): Σ=0 → no sign, base; elem2 (2,1,0): "+", (2+1)/2.
		{"ties no trimming", Options{Strategy: Ties, HasBase: true, Params: map[string]string{"density": "1"}}, f32b(0, 0, 0),
			[][]byte{f32b(1, -1, 2), f32b(-3, -1, 1), f32b(1, 2, 0)}, []float32{-3, 0, 1.5}, nil},
		// ties, density 0.5 of 3 → keep ⌈1.5⌉=2 per side: drop -0.5, 0.25, 0.5.
		// δ0=(1,0,2) δ1=(-3,-1,0) δ2=(1,2,0): elem0 "-" → -3; elem1 "+" → 2; elem2 "+" → 2.
		{"ties trimmed", Options{Strategy: Ties, HasBase: true, Params: map[string]string{"density": "0.5"}}, f32b(0, 0, 0),
			[][]byte{f32b(1, -0.5, 2), f32b(-3, -1, 0.25), f32b(1, 2, 0.5)}, []float32{-3, 2, 2}, nil},
		// model-stock: τ1=(1,0), τ2=(1,1): cos=1/√2, t=2c/(1+c)=2(√2-1); mean τ=(1, 0.5).
		{"model-stock", Options{Strategy: ModelStock, HasBase: true}, f32b(0, 0),
			[][]byte{f32b(1, 0), f32b(1, 1)}, []float32{0.8284271247461903, 0.41421356237309515}, nil},
		// krum f=0 over scalars 0,1,2,10: d² 0-1:1 0-2:4 0-10:100 1-2:1 1-10:81 2-10:64;
		// scores (2 smallest): 5, 2, 5, 145 → side 1.
		{"krum", Options{Strategy: Krum}, nil,
			[][]byte{f32b(0), f32b(1), f32b(2), f32b(10)}, []float32{1}, []int{1}},
		// multi-krum m=2: sides 1 (2) and 0 (5, before side 2 on ties) → mean 0.5.
		{"multi-krum", Options{Strategy: MultiKrum, Params: map[string]string{"m": "2"}}, nil,
			[][]byte{f32b(0), f32b(1), f32b(2), f32b(10)}, []float32{0.5}, []int{1, 0}},
		{"multi-krum weighted", Options{Strategy: MultiKrum, Weights: []float64{1, 3, 1, 1}, Params: map[string]string{"m": "2"}}, nil,
			[][]byte{f32b(0), f32b(1), f32b(2), f32b(10)}, []float32{0.75}, []int{1, 0}},
		// fedavgm: Δ = mean(2,4) - 1 = 2; v = 0.9·0 - 2 = -2; θ = 1 - 1·(-2) = 3.
		{"fedavgm zero state", Options{Strategy: FedAvgM, HasBase: true}, f32b(1),
			[][]byte{f32b(2), f32b(4)}, []float32{3}, nil},
		// fedadam: m = 0.1·2 = 0.2, v = 0.01·4 = 0.04, θ = 1 + 0.1·0.2/(0.2+1e-9).
		{"fedadam zero state", Options{Strategy: FedAdam, HasBase: true}, f32b(1),
			[][]byte{f32b(2), f32b(4)}, []float32{1.0999999995}, nil},
		// fedadagrad: m = Δ = 2, v = 4, θ = 1 + 0.1·2/(2+1e-9).
		{"fedadagrad zero state", Options{Strategy: FedAdagrad, HasBase: true}, f32b(1),
			[][]byte{f32b(2), f32b(4)}, []float32{1.09999999995}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, rep := run(t, tt.opts, one("w", f, tt.base, tt.sides...), 4)
			if diff := cmp.Diff(tt.want, asF32(res[0].Data)); diff != "" {
				t.Errorf("merged (-want +got):\n%s", diff)
			}
			if tt.wantSel != nil {
				if diff := cmp.Diff(tt.wantSel, rep.Selected); diff != "" {
					t.Errorf("selected (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestKrumScoresOverConcatenatedTensors(t *testing.T) {
	// tensor a: 0,1,2,10 ; tensor b: 0,0,3,0 adds 9 to every pair with side 2.
	// d²: 01=1 02=13 03=100 12=10 13=81 23=73 → scores (2 smallest):
	// s0=1+13=14, s1=1+10=11, s2=10+13=23, s3=73+81=154.
	ts := []TensorData{
		{Name: "b", DType: objects.F32, Sides: [][]byte{f32b(0), f32b(0), f32b(3), f32b(0)}},
		{Name: "a", DType: objects.F32, Sides: [][]byte{f32b(0), f32b(1), f32b(2), f32b(10)}},
		{Name: "c", DType: objects.I64, Sides: [][]byte{i64b(5), i64b(7), i64b(9), i64b(11)}},
	}
	res, rep := run(t, Options{Strategy: Krum}, ts, 4)
	var scores []float64
	for _, s := range rep.Sides {
		scores = append(scores, s.Score)
	}
	if diff := cmp.Diff([]float64{14, 11, 23, 154}, scores); diff != "" {
		t.Errorf("scores (-want +got):\n%s", diff)
	}
	if got := [][]float32{asF32(res[0].Data), asF32(res[1].Data)}; !cmp.Equal(got, [][]float32{{1}, {0}}) {
		t.Errorf("merged a, b = %v, want [[1] [0]]", got)
	}
	if got := res[2].Data; string(got) != string(i64b(7)) {
		t.Errorf("integer tensor = %v, want the selected side's 7", got)
	}
	if rep.Sides[0].Selected || !rep.Sides[1].Selected || rep.Sides[0].Reason == "" {
		t.Errorf("side reports %+v", rep.Sides)
	}
	if _, err := json.Marshal(rep); err != nil {
		t.Errorf("report does not encode as JSON: %v", err)
	}
}

func TestBulyanHandComputed(t *testing.T) {
	// f=1, K=7, two elements a=(0,1,2,3,5,100,200), b=(1,0,0,0,0,0,0).
	// Repeated krum (see design-merge.md) selects 2, 3, 1, 0, 4 (scores
	// 16; 18; 18; 26 tie with side 4 → lower index; 9025 tie → side 4).
	// Element a: values 0,1,2,3,5 → median 2 → 3 closest {2,1,3} → 2.
	// Element b: values 1,0,0,0,0 → median 0 → {sides 1,2,3} → 0.
	a := []float32{0, 1, 2, 3, 5, 100, 200}
	b := []float32{1, 0, 0, 0, 0, 0, 0}
	var sides [][]byte
	for i := range a {
		sides = append(sides, f32b(a[i], b[i]))
	}
	res, rep := run(t, Options{Strategy: Bulyan, Params: map[string]string{"f": "1"}}, one("w", objects.F32, nil, sides...), 4)
	if diff := cmp.Diff([]float32{2, 0}, asF32(res[0].Data)); diff != "" {
		t.Errorf("merged (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{2, 3, 1, 0, 4}, rep.Selected); diff != "" {
		t.Errorf("selection (-want +got):\n%s", diff)
	}
	var scores []float64
	var disc []uint64
	for _, s := range rep.Sides {
		scores = append(scores, s.Score)
		disc = append(disc, s.Discarded)
	}
	if diff := cmp.Diff([]float64{43, 23, 16, 19, 55, 37839, 126038}, scores); diff != "" {
		t.Errorf("first-round scores (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]uint64{2, 0, 0, 0, 2, 0, 0}, disc); diff != "" {
		t.Errorf("discarded (-want +got):\n%s", diff)
	}
}

func TestTrimmedAndTiesReports(t *testing.T) {
	_, rep := run(t, Options{Strategy: TrimmedMean, Params: map[string]string{"beta": "0.2"}}, one("w", objects.F32, nil,
		f32b(1, 0), f32b(2, 0), f32b(3, 0), f32b(4, 0), f32b(100, 10)), 4)
	var disc []uint64
	for _, s := range rep.Sides {
		disc = append(disc, s.Discarded)
	}
	// element 0 drops sides 0 (1) and 4 (100); element 1 (0,0,0,0,10) drops
	// side 0 (lowest of equal zeros by side order) and side 4.
	if diff := cmp.Diff([]uint64{2, 0, 0, 0, 2}, disc); diff != "" {
		t.Errorf("trimmed-mean discarded (-want +got):\n%s", diff)
	}

	_, rep = run(t, Options{Strategy: Ties, HasBase: true, Params: map[string]string{"density": "0.5"}}, one("w", objects.F32, f32b(0, 0, 0),
		f32b(1, -0.5, 2), f32b(-3, -1, 0.25), f32b(1, 2, 0.5)), 4)
	disc = disc[:0]
	for _, s := range rep.Sides {
		disc = append(disc, s.Discarded)
	}
	if diff := cmp.Diff([]uint64{2, 2, 2}, disc); diff != "" {
		t.Errorf("ties discarded (-want +got):\n%s", diff)
	}
	want := map[string]float64{"threshold.0": 1, "threshold.1": 1, "threshold.2": 1}
	if len(rep.Tensors) != 1 || !cmp.Equal(rep.Tensors[0].Stats, want) {
		t.Errorf("ties tensor report %+v, want %v", rep.Tensors, want)
	}
}

func TestServerOptimiserState(t *testing.T) {
	tests := []struct {
		name      string
		opts      Options
		state     [][]byte
		want      float32
		wantState []float32
	}{
		// v = 0.9·0.5 - 2 = -1.55; θ = 1 + 1.55.
		{"fedavgm", Options{Strategy: FedAvgM, HasBase: true}, [][]byte{f32b(0.5)}, 2.55, []float32{-1.55}},
		{"fedavgm lr mu", Options{Strategy: FedAvgM, HasBase: true, Params: map[string]string{"lr": "0.5", "mu": "0"}}, [][]byte{f32b(0.5)}, 2, []float32{-2}},
		// m = 0.9·0.1 + 0.1·2 = 0.29; v = 1 - 0.01·4·sign(1-4) = 1.04;
		// θ = 1 + 0.01·0.29/(√1.04 + 1e-3).
		{"fedyogi", Options{Strategy: FedYogi, HasBase: true}, [][]byte{f32b(0.1), f32b(1)}, 1.0028408982295982, []float32{0.29, 1.04}},
		{"fedadam", Options{Strategy: FedAdam, HasBase: true}, [][]byte{nil, nil}, 1.0999999995, []float32{0.2, 0.04}},
		{"fedadagrad", Options{Strategy: FedAdagrad, HasBase: true}, [][]byte{nil, f32b(5)}, 1 + 0.1*2/(3+1e-9), []float32{2, 9}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := one("w", objects.F32, f32b(1), f32b(2), f32b(4))
			ts[0].State = tt.state
			res, _ := run(t, tt.opts, ts, 4)
			if got := asF32(res[0].Data)[0]; got != tt.want {
				t.Errorf("θ = %v, want %v", got, tt.want)
			}
			var st []float32
			for _, s := range res[0].State {
				st = append(st, asF32(s)...)
			}
			if diff := cmp.Diff(tt.wantState, st); diff != "" {
				t.Errorf("state (-want +got):\n%s", diff)
			}
		})
	}
}

// refDareKeep re-derives the documented drop mask without the package's code.
func refDareKeep(seed uint64, name string, side int, i uint64, density float64) bool {
	msg := []byte("fed-dare-v1\x00")
	msg = binary.LittleEndian.AppendUint64(msg, seed)
	msg = binary.LittleEndian.AppendUint32(msg, uint32(len(name)))
	msg = append(msg, name...)
	msg = binary.LittleEndian.AppendUint32(msg, uint32(side))
	sum := sha256.Sum256(msg)
	z := binary.LittleEndian.Uint64(sum[:8]) + (i+1)*0x9E3779B97F4A7C15
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	z ^= z >> 31
	return float64(z>>11)/(1<<53) < density
}

func TestDareMask(t *testing.T) {
	const n = 4096
	base := make([]float32, n)
	s0, s1 := make([]float32, n), make([]float32, n)
	for i := range s0 {
		s0[i], s1[i] = float32(i%7+1), -float32(i%5+1)
	}
	for _, strat := range []string{DareLinear, DareTies} {
		opts := Options{Strategy: strat, HasBase: true, Params: map[string]string{"density": "0.25", "seed": "42"}}
		res, rep := run(t, opts, one("layer.0", objects.F32, f32b(base...), f32b(s0...), f32b(s1...)), 4*1000)
		got := asF32(res[0].Data)
		var kept [2]int
		for i := range got {
			k0 := refDareKeep(42, "layer.0", 0, uint64(i), 0.25)
			k1 := refDareKeep(42, "layer.0", 1, uint64(i), 0.25)
			d0, d1 := 0.0, 0.0
			if k0 {
				d0 = float64(s0[i]) * 4
				kept[0]++
			}
			if k1 {
				d1 = float64(s1[i]) * 4
				kept[1]++
			}
			want := 0.5*d0 + 0.5*d1 // dare-linear, λ=1, p=(½,½)
			if strat == DareTies {
				switch s := 0.5*d0 + 0.5*d1; {
				case s > 0:
					want = d0
				case s < 0:
					want = d1
				default:
					want = 0
				}
			}
			if float64(got[i]) != want {
				t.Fatalf("%s element %d = %v, want %v (keep %v %v)", strat, i, got[i], want, k0, k1)
			}
		}
		for j, k := range kept {
			if k < n/4-200 || k > n/4+200 {
				t.Errorf("%s side %d kept %d of %d at density 0.25", strat, j, k, n)
			}
			if strat == DareLinear && rep.Sides[j].Discarded != uint64(n-k) {
				t.Errorf("side %d discarded %d, want %d", j, rep.Sides[j].Discarded, n-k)
			}
		}
	}
	// Another seed gives another mask.
	a, _ := run(t, Options{Strategy: DareLinear, HasBase: true, Params: map[string]string{"seed": "1"}}, one("w", objects.F32, f32b(base...), f32b(s0...), f32b(s1...)), 1<<20)
	b, _ := run(t, Options{Strategy: DareLinear, HasBase: true, Params: map[string]string{"seed": "2"}}, one("w", objects.F32, f32b(base...), f32b(s0...), f32b(s1...)), 1<<20)
	if string(a[0].Data) == string(b[0].Data) {
		t.Error("seeds 1 and 2 gave the same dare merge")
	}
}

func TestOpaqueDtypes(t *testing.T) {
	res, _ := run(t, Options{}, one("mask", objects.Bool, nil, []byte{1, 0, 1}, []byte{1, 0, 1}), 1)
	if string(res[0].Data) != "\x01\x00\x01" {
		t.Errorf("identical BOOL = %v", res[0].Data)
	}
	_, _, err := MergeTensors(Options{}, one("mask", objects.Bool, nil, []byte{1, 0, 1, 1}, []byte{1, 0, 0, 1}), 2)
	var ce *ConflictError
	if !errors.As(err, &ce) || ce.Tensor != "mask" || ce.Offset != 2 || !errors.Is(err, ErrConflict) {
		t.Errorf("differing BOOL: err = %v, want ConflictError at byte 2", err)
	}
	_, _, err = MergeTensors(Options{}, one("q", objects.F8E4M3, nil, []byte{1}, []byte{2}), 1)
	if !errors.Is(err, ErrConflict) {
		t.Errorf("differing F8_E4M3: err = %v, want ErrConflict", err)
	}
}

func TestExactFixedPointMode(t *testing.T) {
	// q = (65536, 131073); ⌊(1·65536 + 2·131073)/3⌋ = ⌊327682/3⌋ = 109227.
	res, _ := run(t, Options{Weights: []float64{1, 2}, Params: map[string]string{"exact": "true"}},
		one("w", objects.F32, nil, f32b(1, -1), f32b(2+0x1p-16, -2)), 4)
	// element 1: q = (-65536, -131072): ⌊-327680/3⌋ = -109227 (floor, not truncation).
	want := []float32{109227.0 / 65536, -109227.0 / 65536}
	if diff := cmp.Diff(want, asF32(res[0].Data)); diff != "" {
		t.Errorf("exact fedavg (-want +got):\n%s", diff)
	}
	_, _, err := MergeTensors(Options{Weights: []float64{1, 2.5}, Params: map[string]string{"exact": "true"}}, one("w", objects.F32, nil, f32b(1), f32b(2)), 4)
	var we *WeightError
	if !errors.As(err, &we) || we.Index != 1 {
		t.Errorf("fractional weight in exact mode: err = %v", err)
	}
	_, _, err = MergeTensors(Options{Params: map[string]string{"exact": "true"}}, one("w", objects.F32, nil, f32b(40000), f32b(2)), 4)
	if !errors.Is(err, ErrRange) {
		t.Errorf("out of range value: err = %v, want ErrRange", err)
	}
}

func TestFixedPointFunctions(t *testing.T) {
	quant := []struct {
		x    float64
		want int32
		err  bool
	}{
		{1, 65536, false},
		{0x1p-17, 0, false},       // 0.5 quantum → even 0
		{3 * 0x1p-17, 2, false},   // 1.5 → 2
		{-0x1p-17, 0, false},      // -0.5 → 0
		{-3 * 0x1p-17, -2, false}, // -1.5 → -2
		{-32768, math.MinInt32, false},
		{32768, 0, true}, // 2^31 out of range
		{32767.99999, math.MaxInt32, false},
		{math.NaN(), 0, true},
		{math.Inf(1), 0, true},
	}
	for _, tt := range quant {
		got, err := Quantize(tt.x)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("Quantize(%v) = %d, %v; want %d, err %v", tt.x, got, err, tt.want, tt.err)
		}
	}
	const M = MaxFixedWeight
	means := []struct {
		q    []int32
		w    []uint64
		want int32
	}{
		{[]int32{1, 2}, []uint64{1, 1}, 1},
		{[]int32{-1, -2}, []uint64{1, 1}, -2},
		{[]int32{4, 0}, []uint64{3, 1}, 3},
		{[]int32{7, 100}, []uint64{1, 0}, 7},
		// Σ = M·(2^31-1) - M·2^31 = -M; W = 2M → -0.5 → floor -1.
		{[]int32{math.MaxInt32, math.MinInt32}, []uint64{M, M}, -1},
		// 4·M·(2^31-1) exceeds int64: 128-bit path.
		{[]int32{math.MaxInt32, math.MaxInt32, math.MaxInt32, math.MaxInt32}, []uint64{M, M, M, M}, math.MaxInt32},
		{[]int32{math.MinInt32, math.MinInt32, math.MinInt32}, []uint64{M, M, M}, math.MinInt32},
	}
	for _, tt := range means {
		got, err := FixedMean(tt.q, tt.w)
		if err != nil || got != tt.want {
			t.Errorf("FixedMean(%v, %v) = %d, %v; want %d", tt.q, tt.w, got, err, tt.want)
		}
	}
	if _, err := FixedMean([]int32{1}, []uint64{0}); err == nil {
		t.Error("FixedMean with zero weights succeeded")
	}
	if _, err := FixedMean([]int32{1}, []uint64{M + 1}); err == nil {
		t.Error("FixedMean with an oversized weight succeeded")
	}
	if Dequantize(-109227) != -109227.0/65536 {
		t.Error("Dequantize")
	}
}
