package merge

import (
	"fmt"
	"sort"

	"github.com/fed-vcs/fed/objects"
)

// TensorData is one in-memory tensor for MergeTensors.
type TensorData struct {
	Name  string
	DType objects.DType
	Base  []byte   // merge base θ₀; nil when there is none
	Sides [][]byte // one per side, all the same length
	State [][]byte // optimiser state in StateNames order; nil entries are zeros
}

// TensorResult is one merged tensor.
type TensorResult struct {
	Name  string
	Data  []byte
	State [][]byte // new optimiser state (HasState tensors only)
}

// MergeTensors runs every pass of a merge over in-memory tensors, cutting
// each into pieces of pieceSize bytes (rounded down to whole elements, at
// least one element), the way a store-backed caller streams them. Tensors
// are processed in name order; results come back in that order. It is the
// reference driver: a streaming caller must make the same calls.
func MergeTensors(opts Options, tensors []TensorData, pieceSize int) ([]TensorResult, *Report, error) {
	if len(tensors) == 0 {
		return nil, nil, fmt.Errorf("merge: no tensors: %w", ErrShapeMismatch)
	}
	m, err := New(opts, len(tensors[0].Sides))
	if err != nil {
		return nil, nil, err
	}
	ts := append([]TensorData(nil), tensors...)
	sort.Slice(ts, func(i, j int) bool { return ts[i].Name < ts[j].Name })
	for i := 1; i < len(ts); i++ {
		if ts[i].Name == ts[i-1].Name {
			return nil, nil, fmt.Errorf("merge: tensor %s given twice: %w", ts[i].Name, ErrShapeMismatch)
		}
	}
	pieces := func(td TensorData, fn func(i int, base []byte, sides [][]byte, lo, hi int) error) error {
		sz := elemSize(td.DType)
		ps := max(sz, pieceSize/sz*sz)
		n := len(td.Sides[0])
		sides := make([][]byte, len(td.Sides))
		for i, lo := 0, 0; lo < n; i, lo = i+1, lo+ps {
			hi := min(lo+ps, n)
			for j, s := range td.Sides {
				if len(s) != n {
					return &ShapeError{Tensor: td.Name, Want: uint64(n), Got: uint64(len(s))}
				}
				sides[j] = s[lo:hi]
			}
			var base []byte
			if td.Base != nil {
				if len(td.Base) != n {
					return &ShapeError{Tensor: td.Name, Want: uint64(n), Got: uint64(len(td.Base))}
				}
				base = td.Base[lo:hi]
			}
			if err := fn(i, base, sides, lo, hi); err != nil {
				return err
			}
		}
		return nil
	}
	if m.NeedsModelPass() {
		for _, td := range ts {
			err := pieces(td, func(i int, _ []byte, sides [][]byte, _, _ int) error {
				return m.ObserveModel(td.Name, td.DType, i, sides)
			})
			if err != nil {
				return nil, nil, err
			}
		}
	}
	if err := m.Plan(); err != nil {
		return nil, nil, err
	}
	out := make([]TensorResult, 0, len(ts))
	for _, td := range ts {
		if len(td.Sides) != m.k {
			return nil, nil, fmt.Errorf("merge: tensor %s: %d sides, want %d: %w", td.Name, len(td.Sides), m.k, ErrShapeMismatch)
		}
		n := len(td.Sides[0])
		t, err := m.Tensor(td.Name, td.DType, uint64(n/elemSize(td.DType)))
		if err != nil {
			return nil, nil, err
		}
		for r := 0; r < t.Rounds(); r++ {
			err := pieces(td, func(i int, base []byte, sides [][]byte, _, _ int) error {
				return t.Observe(r, i, base, sides)
			})
			if err != nil {
				return nil, nil, err
			}
		}
		res := TensorResult{Name: td.Name, Data: make([]byte, n)}
		var state, newState [][]byte
		if t.HasState() {
			names := m.StateNames()
			state, newState = make([][]byte, len(names)), make([][]byte, len(names))
			res.State = make([][]byte, len(names))
			for i := range names {
				res.State[i] = make([]byte, n)
			}
		}
		err = pieces(td, func(i int, base []byte, sides [][]byte, lo, hi int) error {
			for j := range state {
				state[j] = nil
				if j < len(td.State) && td.State[j] != nil {
					if len(td.State[j]) != n {
						return &ShapeError{Tensor: td.Name + " state", Want: uint64(n), Got: uint64(len(td.State[j]))}
					}
					state[j] = td.State[j][lo:hi]
				}
				newState[j] = res.State[j][lo:hi]
			}
			return t.MergePiece(i, base, sides, state, res.Data[lo:hi], newState)
		})
		if err != nil {
			return nil, nil, err
		}
		if !t.Done() {
			return nil, nil, fmt.Errorf("merge: tensor %s: incomplete: %w", td.Name, ErrOrder)
		}
		out = append(out, res)
	}
	return out, m.Report(), nil
}
