package merge

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/fed-vcs/fed/objects"
	"github.com/google/go-cmp/cmp"
)

// mergeSideBySide is MergeTensors with every SideBySide tensor merged one
// side at a time (StartSum, Add in Contributing order, Finish), the way
// mergeexec streams many sides; other tensors go through MergePiece.
func mergeSideBySide(opts Options, tensors []TensorData, pieceSize int) ([]TensorResult, *Report, error) {
	m, err := New(opts, len(tensors[0].Sides))
	if err != nil {
		return nil, nil, err
	}
	ts := append([]TensorData(nil), tensors...)
	sort.Slice(ts, func(i, j int) bool { return ts[i].Name < ts[j].Name })
	cut := func(td TensorData) (ps int, n int) {
		sz := elemSize(td.DType)
		return max(sz, pieceSize/sz*sz), len(td.Sides[0])
	}
	sliceOf := func(b []byte, lo, hi int) []byte {
		if b == nil {
			return nil
		}
		return b[lo:hi]
	}
	sidesAt := func(td TensorData, lo, hi int) [][]byte {
		s := make([][]byte, len(td.Sides))
		for j := range s {
			s[j] = td.Sides[j][lo:hi]
		}
		return s
	}
	if m.NeedsModelPass() {
		for _, td := range ts {
			ps, n := cut(td)
			for i, lo := 0, 0; lo < n; i, lo = i+1, lo+ps {
				if err := m.ObserveModel(td.Name, td.DType, i, sidesAt(td, lo, min(lo+ps, n))); err != nil {
					return nil, nil, err
				}
			}
		}
	}
	if err := m.Plan(); err != nil {
		return nil, nil, err
	}
	var out []TensorResult
	for _, td := range ts {
		ps, n := cut(td)
		sz := elemSize(td.DType)
		t, err := m.Tensor(td.Name, td.DType, uint64(n/sz))
		if err != nil {
			return nil, nil, err
		}
		if t.Rounds() != m.Rounds(td.DType, uint64(n/sz)) {
			return nil, nil, fmt.Errorf("%s: Rounds %d, Merger.Rounds %d", td.Name, t.Rounds(), m.Rounds(td.DType, uint64(n/sz)))
		}
		for r := 0; r < t.Rounds(); r++ {
			for i, lo := 0, 0; lo < n; i, lo = i+1, lo+ps {
				hi := min(lo+ps, n)
				if err := t.Observe(r, i, sliceOf(td.Base, lo, hi), sidesAt(td, lo, hi)); err != nil {
					return nil, nil, err
				}
			}
		}
		res := TensorResult{Name: td.Name, Data: make([]byte, n)}
		var names []string
		if t.HasState() {
			names = m.StateNames()
			for range names {
				res.State = append(res.State, make([]byte, n))
			}
		}
		for i, lo := 0, 0; lo < n; i, lo = i+1, lo+ps {
			hi := min(lo+ps, n)
			var state, newState [][]byte
			for j := range names {
				var st []byte
				if j < len(td.State) {
					st = sliceOf(td.State[j], lo, hi)
				}
				state = append(state, st)
				newState = append(newState, res.State[j][lo:hi])
			}
			if !m.SideBySide(td.DType) {
				if err := t.MergePiece(i, sliceOf(td.Base, lo, hi), sidesAt(td, lo, hi), state, res.Data[lo:hi], newState); err != nil {
					return nil, nil, err
				}
				continue
			}
			s, err := t.StartSum(i, sliceOf(td.Base, lo, hi), res.Data[lo:hi])
			if err != nil {
				return nil, nil, err
			}
			for _, j := range m.Contributing(td.DType) {
				if err := s.Add(j, td.Sides[j][lo:hi]); err != nil {
					return nil, nil, err
				}
			}
			if err := s.Finish(state, newState); err != nil {
				return nil, nil, err
			}
		}
		if !t.Done() {
			return nil, nil, fmt.Errorf("%s: not done", td.Name)
		}
		out = append(out, res)
	}
	return out, m.Report(), nil
}

// sameAsReference merges ts with MergeTensors (every side's piece at
// once: the reference) and side by side, and compares bytes, state and
// report.
func sameAsReference(t *testing.T, opts Options, ts []TensorData, piece int) {
	t.Helper()
	ref, refRep, refErr := MergeTensors(opts, ts, piece)
	got, rep, err := mergeSideBySide(opts, ts, piece)
	if refErr != nil || err != nil {
		if fmt.Sprint(refErr) != fmt.Sprint(err) {
			t.Fatalf("errors differ:\nreference:    %v\nside by side: %v", refErr, err)
		}
		return
	}
	for i := range ref {
		if string(got[i].Data) != string(ref[i].Data) {
			sz := elemSize(ts[0].DType)
			for _, td := range ts {
				if td.Name == ref[i].Name {
					sz = elemSize(td.DType)
				}
			}
			for e := 0; e+sz <= len(ref[i].Data); e += sz {
				if string(got[i].Data[e:e+sz]) != string(ref[i].Data[e:e+sz]) {
					t.Errorf("%s: element %d: side by side %x, reference %x", ref[i].Name, e/sz, got[i].Data[e:e+sz], ref[i].Data[e:e+sz])
					break
				}
			}
		}
		if fmt.Sprintf("%x", got[i].State) != fmt.Sprintf("%x", ref[i].State) {
			t.Errorf("%s: state differs", ref[i].Name)
		}
	}
	if diff := cmp.Diff(refRep, rep); diff != "" {
		t.Errorf("report (-reference +side by side):\n%s", diff)
	}
}

// withSpecials adds to ts, per float dtype, a tensor mixing awkward values
// (±0, ±Inf, NaN payloads, subnormals, extremes) with elements where every
// side agrees and elements where only some do.
func withSpecials(ts []TensorData, k int, withBase bool) []TensorData {
	r := &rng{s: 99}
	for _, dt := range []objects.DType{objects.F32, objects.F64, objects.F16, objects.BF16} {
		sp := specials(dt)
		sz := elemSize(dt)
		n := len(sp) / sz
		td := TensorData{Name: "special." + string(dt), DType: dt}
		common := randTensor(r, dt, 64, 1)
		for j := 0; j < k; j++ {
			s := append([]byte(nil), common...)
			// side j holds the specials rotated by j, so elements meet
			// different partners, and the last side repeats the first
			rot := j % n
			if j == k-1 {
				rot = 0
			}
			s = append(s, sp[rot*sz:]...)
			s = append(s, sp[:rot*sz]...)
			s = append(s, randTensor(r, dt, 16, 1)...)
			td.Sides = append(td.Sides, s)
		}
		if withBase {
			td.Base = append(append(append([]byte(nil), common...), sp...), randTensor(r, dt, 16, 1)...)
		}
		ts = append(ts, td)
	}
	return ts
}

// TestSideBySideMatchesMergePiece: merged side by side, every strategy
// that can be gives the reference's bytes, state and report, for every
// float dtype, special values and piece sizes.
func TestSideBySideMatchesMergePiece(t *testing.T) {
	cases := append(allCases(), strategyCase{Options{Strategy: FedAvg, Weights: []float64{2, 3, 5}, Params: map[string]string{"exact": "true"}}, 3})
	for _, c := range cases {
		name := c.opts.Strategy
		if c.opts.Params["exact"] == "true" {
			name += "-exact"
		}
		t.Run(name, func(t *testing.T) {
			ts := testModel(c.sides, NeedsBase(c.opts.Strategy), stateCount(c.opts.Strategy))
			ts = withSpecials(ts, c.sides, NeedsBase(c.opts.Strategy))
			if c.opts.Params["exact"] == "true" {
				ts = ts[:0:0]
				r := &rng{s: 4}
				for _, dt := range []objects.DType{objects.F32, objects.F64} {
					base := randTensor(r, dt, 5000, 1)
					td := TensorData{Name: "w." + string(dt), DType: dt}
					for j := 0; j < c.sides; j++ {
						td.Sides = append(td.Sides, perturb(r, dt, base, 0.01))
					}
					ts = append(ts, td)
				}
			}
			for _, v := range []struct{ piece, workers int }{{1 << 30, 2}, {8 * 1009, 1}, {12345 * 8, 3}} {
				o := c.withBase()
				o.Workers = v.workers
				sameAsReference(t, o, ts, v.piece)
			}
		})
	}
}

// TestSideBySideManySides: hundreds of sides of small tensors, unequal
// weights, the reference's bytes.
func TestSideBySideManySides(t *testing.T) {
	const k = 300
	weights := make([]float64, k)
	for i := range weights {
		weights[i] = float64(1 + i%17)
	}
	p := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	r := &rng{s: 7}
	var ts []TensorData
	for _, dt := range []objects.DType{objects.F32, objects.BF16} {
		base := randTensor(r, dt, 2500, 1)
		td := TensorData{Name: "w." + string(dt), DType: dt, Base: base}
		for j := 0; j < k; j++ {
			s := perturb(r, dt, base, 0.01)
			copy(s[:64], base[:64]) // elements every side leaves alone
			td.Sides = append(td.Sides, s)
		}
		ts = append(ts, td)
	}
	for _, o := range []Options{
		{Strategy: FedAvg, Weights: weights},
		{Strategy: MultiKrum, Weights: weights, Params: p("f", "20", "m", "200")},
		{Strategy: TaskArith, Weights: weights, HasBase: true},
		{Strategy: DareLinear, HasBase: true, Params: p("density", "0.3", "seed", "3")},
		{Strategy: FedAdam, Weights: weights, HasBase: true},
	} {
		t.Run(o.Strategy, func(t *testing.T) {
			sameAsReference(t, o, ts, 1000*4)
		})
	}
}

// Exact mode reports the same first error in element order as the
// reference: a side's unquantisable value, or an unrepresentable mean at
// an earlier element.
func TestSideBySideExactErrors(t *testing.T) {
	big := float32(1 << 20) // beyond int32 once scaled by 2^16
	exact := Options{Params: map[string]string{"exact": "true"}}
	cases := map[string][][]byte{
		"lower side later element": {f32b(1, 2, 3, big), f32b(1, 2, big, 3), f32b(1, 2, 3, 4)},
		"higher side earlier":      {f32b(1, 2, 3, big), f32b(1, 2, 3, 4), f32b(1, big, 3, 4)},
		"two sides one element":    {f32b(1, 2, 3, 4), f32b(1, float32(math.NaN()), 3, 4), f32b(1, big, 3, 4)},
	}
	for name, sides := range cases {
		t.Run(name, func(t *testing.T) {
			ts := one("w", objects.F32, nil, sides...)
			sameAsReference(t, exact, ts, 1<<20)
			_, _, err := mergeSideBySide(exact, ts, 1<<20)
			if !errors.Is(err, ErrRange) {
				t.Fatalf("error %v, want ErrRange", err)
			}
		})
	}
	// a mean F16 cannot hold, before a value that does not quantise
	f16 := func(vs ...float64) []byte { return f16b(vs...) }
	ts := one("h", objects.F16, nil, f16(1, 1, 65504), f16(1+0x1p-10, 1, 65504))
	sameAsReference(t, exact, ts, 1<<20)
	if _, _, err := mergeSideBySide(exact, ts, 1<<20); err == nil || !strings.Contains(err.Error(), "element 0") {
		t.Fatalf("error %v, want the unrepresentable mean at element 0", err)
	}
}

func TestSideBySideCallOrder(t *testing.T) {
	sides := [][]byte{f32b(1, 2), f32b(3, 4), f32b(5, 6)}
	m, err := New(Options{}, 3)
	if err != nil {
		t.Fatal(err)
	}
	tn, err := m.Tensor("w", objects.F32, 4)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]byte, 8)
	s, err := tn.StartSum(0, nil, out)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tn.StartSum(0, nil, out); !errors.Is(err, ErrOrder) {
		t.Errorf("second StartSum before Finish: %v", err)
	}
	if err := s.Add(1, sides[1]); !errors.Is(err, ErrOrder) {
		t.Errorf("side 1 first: %v", err)
	}
	if err := s.Add(0, sides[0][:4]); !errors.Is(err, ErrShapeMismatch) {
		t.Errorf("short side: %v", err)
	}
	if err := s.Add(0, sides[0]); err != nil {
		t.Fatal(err)
	}
	if err := s.Finish(nil, nil); !errors.Is(err, ErrOrder) {
		t.Errorf("Finish after one of three sides: %v", err)
	}
	// the failed Finish abandoned the piece: it starts again
	if s, err = tn.StartSum(0, nil, out); err != nil {
		t.Fatal(err)
	}
	for j := range sides {
		if err := s.Add(j, sides[j]); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Add(2, sides[2]); !errors.Is(err, ErrOrder) {
		t.Errorf("a side too many: %v", err)
	}
	if err := s.Finish(nil, nil); err != nil {
		t.Fatal(err)
	}
	if got := asF32(out); got[0] != 3 || got[1] != 4 {
		t.Errorf("merged %v, want [3 4]", got)
	}
	if err := s.Add(0, sides[0]); !errors.Is(err, ErrOrder) {
		t.Errorf("Add after Finish: %v", err)
	}
	if _, err := tn.StartSum(0, nil, out); !errors.Is(err, ErrOrder) {
		t.Errorf("piece 0 again: %v", err)
	}
	med, err := New(Options{Strategy: Median}, 3)
	if err != nil {
		t.Fatal(err)
	}
	if med.SideBySide(objects.F32) {
		t.Error("median merges side by side")
	}
	mt, _ := med.Tensor("w", objects.F32, 2)
	if _, err := mt.StartSum(0, nil, out); !errors.Is(err, ErrOrder) {
		t.Errorf("median StartSum: %v", err)
	}
	if m.SideBySide(objects.I64) {
		t.Error("integer tensors merge side by side")
	}
}

// TestSideBySideNoAllocation: a piece merged side by side allocates
// nothing once the accumulators have grown.
func TestSideBySideNoAllocation(t *testing.T) {
	const n = 1 << 16
	r := &rng{s: 3}
	sides := [][]byte{randTensor(r, objects.F32, n, 1), randTensor(r, objects.F32, n, 1), randTensor(r, objects.F32, n, 1)}
	m, err := New(Options{Workers: 1}, 3)
	if err != nil {
		t.Fatal(err)
	}
	tn, err := m.Tensor("w", objects.F32, 1<<40)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]byte, 4*n)
	piece := 0
	step := func() {
		s, err := tn.StartSum(piece, nil, out)
		if err != nil {
			t.Fatal(err)
		}
		for j := range sides {
			if err := s.Add(j, sides[j]); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Finish(nil, nil); err != nil {
			t.Fatal(err)
		}
		piece++
	}
	step()
	if allocs := testing.AllocsPerRun(10, step); allocs > 0 {
		t.Errorf("%v allocations per piece", allocs)
	}
}

// TestSortPairsMatchesInsertionSort: past sortLarge sides the order
// statistics sort by packed keys (or a general sort for F64); the
// permutation is insertion sort's, ties, −0, +0 and NaN payloads
// included.
func TestSortPairsMatchesInsertionSort(t *testing.T) {
	r := &rng{s: 11}
	w := &scratch{}
	pool32 := []float64{0, math.Copysign(0, -1), math.Inf(1), math.Inf(-1), math.NaN(), math.Float64frombits(0x7ff8000000000123),
		float64(math.Float32frombits(1)), -float64(math.Float32frombits(1)), 1, -1, 0.5}
	for _, k := range []int{33, 64, 257, 1000} {
		keys := make([]uint64, k)
		for it := 0; it < 200; it++ {
			// distinct keys, many equal high halves (ties by side), sorted
			// and reversed runs (the pivot's bad cases)
			for a := range keys {
				keys[a] = (r.next()%8)<<32 | uint64(a)
				if it%3 == 1 {
					keys[a] = uint64(a)
				} else if it%3 == 2 {
					keys[a] = uint64(k - a)
				}
			}
			want := append([]uint64(nil), keys...)
			slices.Sort(want)
			rank := int(r.next() % uint64(k))
			selectKey(keys, rank)
			if keys[rank] != want[rank] {
				t.Fatalf("k=%d: selectKey rank %d gave %x, want %x", k, rank, keys[rank], want[rank])
			}
			for a := range keys {
				if a < rank && keys[a] > keys[rank] || a > rank && keys[a] < keys[rank] {
					t.Fatalf("k=%d rank %d: position %d holds %x on the wrong side of %x", k, rank, a, keys[a], keys[rank])
				}
			}
		}
		for it := 0; it < 50; it++ {
			for _, narrow := range []bool{true, false} {
				vals := make([]float64, k)
				sides := make([]int, k)
				for a := range vals {
					switch r.next() % 3 {
					case 0:
						vals[a] = pool32[r.next()%uint64(len(pool32))]
					case 1:
						vals[a] = float64(float32(r.norm(1)))
					default:
						vals[a] = r.norm(1)
						if narrow {
							vals[a] = float64(float32(vals[a]))
						}
					}
					sides[a] = a * 3 // ascending, not positions
				}
				wantV, wantS := append([]float64(nil), vals...), append([]int(nil), sides...)
				sortVS(wantV, wantS)
				sortPairs(w, vals, sides, narrow)
				for a := range vals {
					if math.Float64bits(vals[a]) != math.Float64bits(wantV[a]) || sides[a] != wantS[a] {
						t.Fatalf("k=%d narrow=%v: position %d: (%v, side %d), insertion sort (%v, side %d)", k, narrow, a, vals[a], sides[a], wantV[a], wantS[a])
					}
				}
			}
		}
	}
}

// TestOrderRulesManySides: median, trimmed-mean and bulyan of 100 sides
// (past sortLarge) against a per-element reference built on sort.Slice.
func TestOrderRulesManySides(t *testing.T) {
	const k, n = 100, 300
	r := &rng{s: 5}
	for _, dt := range []objects.DType{objects.F32, objects.F64, objects.BF16} {
		var sides [][]byte
		for j := 0; j < k; j++ {
			s := randTensor(r, dt, n, 1)
			copy(s[:elemSize(dt)*8], specials(dt)) // ±0, ±Inf, NaNs
			sides = append(sides, s)
		}
		for _, st := range []string{Median, TrimmedMean} {
			res, rep := run(t, Options{Strategy: st}, one("w", dt, nil, sides...), 1<<20)
			sz := elemSize(dt)
			disc := make([]uint64, k)
			for i := 0; i < n; i++ {
				type p struct {
					v float64
					s int
				}
				ps := make([]p, k)
				for j := range ps {
					ps[j] = p{decodeOne(dt, sides[j][i*sz:]), j}
				}
				sort.Slice(ps, func(a, b int) bool { return lessVS(ps[a].v, ps[a].s, ps[b].v, ps[b].s) })
				var want float64
				if st == Median {
					want = (ps[k/2-1].v + ps[k/2].v) * 0.5
					for a, p := range ps {
						if a < k/2-1 || a > k/2 {
							disc[p.s]++
						}
					}
				} else {
					b := int(math.Floor(0.2 * k))
					want = ps[b].v
					for a := b + 1; a <= k-1-b; a++ {
						want += ps[a].v
					}
					want /= float64(k - 2*b)
				}
				wb := make([]byte, sz)
				encodeFloat(dt, want, wb)
				same := true
				for j := 1; j < k; j++ {
					if string(sides[j][i*sz:(i+1)*sz]) != string(sides[0][i*sz:(i+1)*sz]) {
						same = false
					}
				}
				if !same && string(res[0].Data[i*sz:(i+1)*sz]) != string(wb) {
					t.Fatalf("%s %s element %d: %x, want %x", st, dt, i, res[0].Data[i*sz:(i+1)*sz], wb)
				}
			}
			if st == Median {
				for j := range disc {
					if rep.Sides[j].Discarded != disc[j] {
						t.Fatalf("median %s side %d: %d discarded, want %d", dt, j, rep.Sides[j].Discarded, disc[j])
					}
				}
			}
		}
	}
}
