package merge

import (
	"fmt"

	"github.com/fed-vcs/fed/objects"
)

// revertBlock is how many elements Revert decodes at a time.
const revertBlock = 1024

// Revert computes the tensor arithmetic of `fed revert`: out = head −
// (commit − parent), element by element, for tensors of one float dtype
// dt given as little-endian bytes of equal length (any whole number of
// elements: a stream may be cut into pieces anywhere between elements).
// Each element is computed in float64 as head − float64(commit − parent),
// the difference rounded explicitly (no fused multiply-add), and the
// result rounded once to dt, to nearest with ties to even. A NaN result
// keeps its sign and the payload bits dt can hold (merge results, unlike
// it, write the canonical NaN). Integer and other dtypes are refused:
// they cannot be reverted by arithmetic.
func Revert(dt objects.DType, head, commit, parent, out []byte) error {
	if classOf(dt) != classFloat {
		return fmt.Errorf("revert: %s tensors cannot be computed: %w", dt, ErrInvalidOptions)
	}
	sz := elemSize(dt)
	if len(commit) != len(head) || len(parent) != len(head) || len(out) != len(head) || len(head)%sz != 0 {
		return fmt.Errorf("revert: %d, %d and %d input bytes for %d output bytes of %s: %w", len(head), len(commit), len(parent), len(out), dt, ErrShapeMismatch)
	}
	var vh, vc, vp [revertBlock]float64
	n := len(head) / sz
	for lo := 0; lo < n; lo += revertBlock {
		hi := min(lo+revertBlock, n)
		m := hi - lo
		decodeFloats(dt, head[lo*sz:hi*sz], vh[:m])
		decodeFloats(dt, commit[lo*sz:hi*sz], vc[:m])
		decodeFloats(dt, parent[lo*sz:hi*sz], vp[:m])
		for i := 0; i < m; i++ {
			putFloat(dt, vh[i]-float64(vc[i]-vp[i]), out[(lo+i)*sz:], false)
		}
	}
	return nil
}
