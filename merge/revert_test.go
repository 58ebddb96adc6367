package merge

import (
	"encoding/binary"
	"errors"
	"math"
	"testing"

	"github.com/fed-vcs/fed/objects"
)

func f32Bytes(vs ...float32) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}

// TestRevertF32 checks h − (c − p) against the formula in float64,
// rounded once, and the cases a revert must get exactly: an element the
// commit did not change keeps HEAD's bits, signed zeros included.
func TestRevertF32(t *testing.T) {
	h := []float32{3, float32(math.Copysign(0, -1)), 1e-30, 7.25, 16777216, float32(math.Inf(1))}
	c := []float32{2, 5, 1e-30, 7.5, 1, 1}
	p := []float32{1, 5, 3e-30, 0.25, 0.5, 1}
	out := make([]byte, 4*len(h))
	if err := Revert(objects.F32, f32Bytes(h...), f32Bytes(c...), f32Bytes(p...), out); err != nil {
		t.Fatal(err)
	}
	for i := range h {
		want := math.Float32bits(float32(float64(h[i]) - (float64(c[i]) - float64(p[i]))))
		if got := binary.LittleEndian.Uint32(out[4*i:]); got != want {
			t.Errorf("element %d: %#x, want %#x", i, got, want)
		}
	}
	// -0 − (5 − 5) is −0: the sign of HEAD's zero is kept
	if got := binary.LittleEndian.Uint32(out[4:]); got != 0x80000000 {
		t.Errorf("−0 with an unchanged element became %#x", got)
	}
}

// TestRevertHalfRoundsOnce: for F16 and BF16 the result is rounded once,
// from float64, and the output does not depend on where a stream is cut.
func TestRevertHalfRoundsOnce(t *testing.T) {
	for _, f := range halfFormats {
		t.Run(f.name, func(t *testing.T) {
			dt := objects.DType(f.name)
			r := &rng{s: 7}
			const n = 3000 // more than one block of revertBlock
			var h, c, p []byte
			for i := 0; i < n; i++ {
				h = binary.LittleEndian.AppendUint16(h, f.fromF64(r.norm(4)))
				c = binary.LittleEndian.AppendUint16(c, f.fromF64(r.norm(4)))
				p = binary.LittleEndian.AppendUint16(p, f.fromF64(r.norm(4)))
			}
			whole := make([]byte, len(h))
			if err := Revert(dt, h, c, p, whole); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < n; i++ {
				x := f.toF64(binary.LittleEndian.Uint16(h[2*i:])) - (f.toF64(binary.LittleEndian.Uint16(c[2*i:])) - f.toF64(binary.LittleEndian.Uint16(p[2*i:])))
				if got, want := binary.LittleEndian.Uint16(whole[2*i:]), f.fromF64(x); got != want {
					t.Fatalf("element %d: %#04x, want %#04x", i, got, want)
				}
			}
			cut := make([]byte, len(h))
			for lo := 0; lo < len(h); lo += 2 * 333 {
				hi := min(lo+2*333, len(h))
				if err := Revert(dt, h[lo:hi], c[lo:hi], p[lo:hi], cut[lo:hi]); err != nil {
					t.Fatal(err)
				}
			}
			if string(cut) != string(whole) {
				t.Error("the result depends on where the stream is cut")
			}
		})
	}
}

// TestRevertNaNKeepsPayload: a NaN result is not canonicalised (revert
// has always written what float64 arithmetic gives).
func TestRevertNaNKeepsPayload(t *testing.T) {
	nan := math.Float32frombits(0xffc00001) // negative quiet NaN with a payload
	out := make([]byte, 4)
	if err := Revert(objects.F32, f32Bytes(nan), f32Bytes(1), f32Bytes(1), out); err != nil {
		t.Fatal(err)
	}
	if got := binary.LittleEndian.Uint32(out); got != 0xffc00001 {
		t.Errorf("NaN − 0 = %#x, want the input NaN 0xffc00001", got)
	}
}

func TestRevertRefuses(t *testing.T) {
	one := []byte{1, 0, 0, 0}
	if err := Revert(objects.I32, one, one, one, make([]byte, 4)); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("I32: %v, want ErrInvalidOptions", err)
	}
	if err := Revert(objects.F32, one, one, one[:2], make([]byte, 4)); !errors.Is(err, ErrShapeMismatch) {
		t.Errorf("short parent: %v, want ErrShapeMismatch", err)
	}
	if err := Revert(objects.F32, one[:3], one[:3], one[:3], make([]byte, 3)); !errors.Is(err, ErrShapeMismatch) {
		t.Errorf("a partial element: %v, want ErrShapeMismatch", err)
	}
}

func TestDecodeFloats(t *testing.T) {
	got := DecodeFloats(objects.F32, f32Bytes(1.5, -2, 0), make([]float64, 1))
	if len(got) != 3 || got[0] != 1.5 || got[1] != -2 || got[2] != 0 {
		t.Errorf("F32: %v", got)
	}
	if got := DecodeFloats(objects.I32, f32Bytes(1), nil); len(got) != 0 {
		t.Errorf("I32 gave %v, want nothing", got)
	}
	b := binary.LittleEndian.AppendUint16(nil, 0x3c00) // 1.0
	if got := DecodeFloats(objects.BF16, b, nil); len(got) != 1 || got[0] != BF16ToFloat64(0x3c00) {
		t.Errorf("BF16: %v", got)
	}
}
