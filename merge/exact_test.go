package merge

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/fed-vcs/fed/objects"
)

func f16b(vs ...float64) []byte {
	b := make([]byte, 2*len(vs))
	for i, v := range vs {
		binary.LittleEndian.PutUint16(b[2*i:], Float64ToF16(v))
	}
	return b
}

// TestExactModeRepresentable checks that an exact merge either stores
// Dequantize(FixedMean) bit for bit or fails with ErrRange naming the
// tensor, so that every exact merge that succeeds can be proven.
func TestExactModeRepresentable(t *testing.T) {
	exact := map[string]string{"exact": "true"}
	tests := []struct {
		name  string
		ts    []TensorData
		fails bool // with ErrRange
		want  float64
	}{
		// 1 and 1+2^-10 are F16 values; their mean 1+2^-11 is not.
		{"f16 mean off the f16 grid", one("h", objects.F16, nil, f16b(1), f16b(1+0x1p-10)), true, 0},
		{"f16 mean on the f16 grid", one("h", objects.F16, nil, f16b(1), f16b(1+0x1p-9)), false, 1 + 0x1p-10},
		// F32 spacing at 300 is 2^-15: the mean 300+2^-16 needs one bit more.
		{"f32 above 256", one("big", objects.F32, nil, f32b(300), f32b(300+0x1p-15)), true, 0},
		{"f32 below 256", one("small", objects.F32, nil, f32b(200), f32b(200+0x1p-15)), false, 200 + 0x1p-16},
		{"f64 above 256", one("d", objects.F64, nil, f64b(300), f64b(300+0x1p-15)), false, 300 + 0x1p-16},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, _, err := MergeTensors(Options{Params: exact}, tt.ts, 4)
			if tt.fails {
				if !errors.Is(err, ErrRange) || !strings.Contains(err.Error(), "tensor "+tt.ts[0].Name+" element 0") {
					t.Fatalf("err = %v, want ErrRange naming tensor %s element 0", err, tt.ts[0].Name)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := decodeOne(tt.ts[0].DType, res[0].Data)
			if got != tt.want {
				t.Errorf("merged %v, want %v", got, tt.want)
			}
			// Quantising the stored value gives back the fixed-point mean.
			var q []int32
			for _, s := range tt.ts[0].Sides {
				v, err := Quantize(decodeOne(tt.ts[0].DType, s))
				if err != nil {
					t.Fatal(err)
				}
				q = append(q, v)
			}
			m, err := FixedMean(q, []uint64{1, 1})
			if err != nil {
				t.Fatal(err)
			}
			if back, _ := Quantize(got); back != m {
				t.Errorf("Quantize(stored) = %d, FixedMean = %d", back, m)
			}
		})
	}
}
