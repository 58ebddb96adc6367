package zk

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/fed-vcs/fed/merge"
	"github.com/fed-vcs/fed/objects"
)

// TestQuantizeDTypes: every float dtype is decoded exactly (through
// merge.DecodeFloats) across more than one block of quantBlock elements,
// and an element out of range is named by its index in the tensor.
func TestQuantizeDTypes(t *testing.T) {
	const n = quantBlock + 904
	for _, dt := range []objects.DType{objects.F16, objects.BF16, objects.F32, objects.F64} {
		sz, _ := dt.Size()
		data := make([]byte, n*sz)
		put := func(i int, x float64) {
			switch dt {
			case objects.F16:
				binary.LittleEndian.PutUint16(data[2*i:], merge.Float64ToF16(x))
			case objects.BF16:
				binary.LittleEndian.PutUint16(data[2*i:], merge.Float64ToBF16(x))
			case objects.F32:
				binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(float32(x)))
			case objects.F64:
				binary.LittleEndian.PutUint64(data[8*i:], math.Float64bits(x))
			}
		}
		for i := 0; i < n; i++ {
			put(i, float64(i%256-128)/32) // exact in every float dtype
		}
		m := &Model{Tensors: []Tensor{{Path: "m.safetensors", Name: "w", DType: dt, Shape: []uint64{n}, Data: data}}}
		v, err := Quantize(m)
		if err != nil {
			t.Fatalf("%s: %v", dt, err)
		}
		if len(v.Q) != n {
			t.Fatalf("%s: %d values for %d elements", dt, len(v.Q), n)
		}
		for i, q := range v.Q {
			if want := int32(i%256-128) * 2048; q != want {
				t.Fatalf("%s: element %d quantised to %d, want %d", dt, i, q, want)
			}
		}
		put(quantBlock+3, math.Inf(-1))
		_, err = Quantize(m)
		if !errors.Is(err, ErrRange) || !strings.Contains(err.Error(), fmt.Sprintf("element %d", quantBlock+3)) {
			t.Errorf("%s: -Inf at element %d: %v", dt, quantBlock+3, err)
		}
	}
}
