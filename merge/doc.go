// Package merge is the numerics of `fed merge`: pure, deterministic merging
// of weight tensors by a federated or model-merging strategy (fedavg,
// median, trimmed-mean, krum, multi-krum, bulyan, fedavgm, fedadam, fedyogi,
// fedadagrad, linear, task-arithmetic, ties, dare-linear, dare-ties, slerp,
// model-stock) and the fixed-point "verifiable" fedavg shared with zk.
//
// It knows nothing about refs, branches, files or object stores. The caller
// streams each tensor's raw little-endian bytes in pieces (any whole number
// of elements; package mergeexec uses 4 MiB) through a Merger, in passes:
//
//	m, err := merge.New(opts, k)           // validates everything up front
//	if m.NeedsModelPass() {                // krum, multi-krum, bulyan
//		// every float tensor in increasing name order, every piece in order:
//		m.ObserveModel(name, dtype, piece, sides)
//	}
//	m.Plan()                               // selects sides, fills the report
//	for each tensor in name order {
//		t, _ := m.Tensor(name, dtype, elements)
//		for r := 0; r < t.Rounds(); r++ { // ties: 2; slerp, model-stock: 1
//			t.Observe(r, piece, base, sides) // every piece in order
//		}
//		t.MergePiece(piece, base, sides, state, out, newState) // every piece
//	}
//	rep := m.Report()
//
// Strategies whose result is a weighted sum over the sides (SideBySide)
// can also take a piece one side at a time, holding one accumulator per
// element instead of every side's piece:
//
//	s, _ := t.StartSum(piece, base, out)
//	for _, j := range m.Contributing(dtype) { s.Add(j, sides[j]) }
//	s.Finish(state, newState)
//
// MergeTensors is the same loop over in-memory tensors. Revert is the
// arithmetic of `fed revert` (head − (commit − parent)), and DecodeFloats
// the one float decoding every computation on tensors uses.
//
// Invariants:
//   - Output bytes depend only on the inputs, the options and the tensor
//     names: not on piece size, worker count, GOAMD64 level or scheduling.
//     Sums run in float64 in a fixed side order with every product rounded
//     explicitly (no FMA); streamed statistics use fixed 65536-element
//     blocks; dare draws are counter-based per (seed, tensor, side, index).
//   - Every float result is rounded once to the tensor's dtype (nearest,
//     ties to even; F16/BF16 directly from float64). Where all contributing
//     sides hold the same bits (value strategies), or the update is zero
//     (base strategies), the input bits are copied: merge(x, x, …) == x.
//   - Integer tensors are never merged as floats: each strategy applies
//     its own selection (median, trimmed, bulyan's closest to the median,
//     krum's side), else the weighted mean; the mean is exact, rounded half
//     to even. Other dtypes merge only when all sides are identical, else
//     *ConflictError.
//   - Memory is bounded by a few pieces per side plus per-tensor histograms
//     (ties: 512 KiB per side), never by model size; side by side, by the
//     accumulators of one piece (8 bytes an element, 16 for exact=true).
//     The results of StartSum/Add/Finish are MergePiece's, bit for bit.
//   - Every option error is reported by New/Validate before any output.
//
// See doc/design.md, "Merge numerics", for the formulas.
package merge
