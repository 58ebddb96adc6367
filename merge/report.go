package merge

import "fmt"

// Report says what a merge did, for the caller to print and record in the
// merge commit. It is deterministic (no timings, no map-order effects in
// its JSON encoding).
type Report struct {
	Strategy string            `json:"strategy"`
	Params   map[string]string `json:"params"`
	Sides    []SideReport      `json:"sides"`
	// Selected lists the sides a model-level selection kept, in the order
	// chosen (krum, multi-krum: by score; bulyan: by repeated krum).
	Selected []int `json:"selected,omitempty"`
	// Elements counts the float elements merged.
	Elements uint64 `json:"elements"`
	// Tensors holds per-tensor statistics of strategies that compute them:
	// ties "threshold.<side>"; slerp "cos", "lerp", "s0", "s1";
	// model-stock "cos", "t".
	Tensors []TensorReport `json:"tensors,omitempty"`
}

// SideReport describes one side's part in the merge.
type SideReport struct {
	Weight float64 `json:"weight"` // normalised weight
	// Score is the krum score (sum of the K−f−2 smallest squared
	// distances to the others over the whole model; +Inf or NaN are
	// reported as MaxFloat64). Zero for other strategies.
	Score float64 `json:"score,omitempty"`
	// Selected is false when a model-level selection dropped the side.
	Selected bool `json:"selected"`
	// Discarded counts float elements whose value from this side did not
	// enter the result: trimmed (trimmed-mean), not the middle (median),
	// not among the closest to the median (bulyan), trimmed by magnitude or
	// against the elected sign (ties), dropped at random (dare).
	Discarded uint64 `json:"discarded"`
	Reason    string `json:"reason,omitempty"`
}

// TensorReport holds named statistics of one tensor.
type TensorReport struct {
	Name  string             `json:"name"`
	Stats map[string]float64 `json:"stats"`
}

// Report returns the report so far; call it after the last tensor.
func (m *Merger) Report() *Report {
	r := m.report
	r.Sides = append([]SideReport(nil), m.report.Sides...)
	why := map[string]string{
		Median:      "value not the median (or one of the middle two)",
		TrimmedMean: "value among the lowest or highest trimmed",
		Bulyan:      "value not among the K-4f closest to the median",
		Ties:        "task-vector entry below the magnitude threshold or against the elected sign",
		DareTies:    "task-vector entry dropped at random or against the elected sign",
		DareLinear:  "task-vector entry dropped at random",
	}[m.c.strategy]
	for i := range r.Sides {
		s := &r.Sides[i]
		if s.Discarded > 0 && s.Reason == "" && why != "" {
			s.Reason = fmt.Sprintf("%s at %d of %d elements", why, s.Discarded, r.Elements)
		}
	}
	return &r
}
