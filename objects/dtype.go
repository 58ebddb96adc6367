package objects

import "fmt"

// DType names the element type of a tensor. The names are those of the
// safetensors specification; other formats map their types onto them.
// A name this release does not know is still carried through byte for byte
// (its element size is then 1 and no arithmetic is done on it).
type DType string

// The dtypes of the safetensors specification.
const (
	Bool    DType = "BOOL"
	U8      DType = "U8"
	I8      DType = "I8"
	F8E5M2  DType = "F8_E5M2"
	F8E4M3  DType = "F8_E4M3"
	I16     DType = "I16"
	U16     DType = "U16"
	F16     DType = "F16"
	BF16    DType = "BF16"
	I32     DType = "I32"
	U32     DType = "U32"
	F32     DType = "F32"
	F64     DType = "F64"
	I64     DType = "I64"
	U64     DType = "U64"
	C64     DType = "C64"
	F8E8M0  DType = "F8_E8M0"
	F6E2M3  DType = "F6_E2M3"
	F6E3M2  DType = "F6_E3M2"
	F4      DType = "F4"
	Unknown DType = ""
)

var dtypeSize = map[DType]int{
	Bool: 1, U8: 1, I8: 1, F8E5M2: 1, F8E4M3: 1, F8E8M0: 1,
	I16: 2, U16: 2, F16: 2, BF16: 2,
	I32: 4, U32: 4, F32: 4,
	F64: 8, I64: 8, U64: 8, C64: 8,
}

// Size returns the size of one element in bytes, and false for dtypes
// whose elements are not whole bytes (F4, F6_*) or that this release does
// not know.
func (d DType) Size() (int, bool) {
	n, ok := dtypeSize[d]
	return n, ok
}

// IsFloat reports whether d is an IEEE-style floating point type on which
// fed does arithmetic (merge, diff statistics): F16, BF16, F32, F64.
func (d DType) IsFloat() bool {
	switch d {
	case F16, BF16, F32, F64:
		return true
	}
	return false
}

// IsInt reports whether d is a signed or unsigned integer type (or BOOL).
func (d DType) IsInt() bool {
	switch d {
	case Bool, U8, I8, I16, U16, I32, U32, I64, U64:
		return true
	}
	return false
}

// NumElements multiplies out a shape; an empty shape is a 0-d tensor of
// one element. It reports overflow beyond 2^62 as an error.
func NumElements(shape []uint64) (uint64, error) {
	n := uint64(1)
	for _, d := range shape {
		if d != 0 && n > (1<<62)/d {
			return 0, fmt.Errorf("objects: shape %v overflows", shape)
		}
		n *= d
	}
	return n, nil
}

// ByteLen returns the number of bytes of a tensor of dtype d and shape,
// when d has a whole-byte element size.
func ByteLen(d DType, shape []uint64) (uint64, error) {
	n, err := NumElements(shape)
	if err != nil {
		return 0, err
	}
	sz, ok := d.Size()
	if !ok {
		switch d {
		case F4:
			if n%2 != 0 {
				return 0, fmt.Errorf("objects: %s tensor of %d elements is not whole bytes", d, n)
			}
			return n / 2, nil
		case F6E2M3, F6E3M2:
			if (n*6)%8 != 0 {
				return 0, fmt.Errorf("objects: %s tensor of %d elements is not whole bytes", d, n)
			}
			return n * 6 / 8, nil
		}
		return 0, fmt.Errorf("objects: dtype %q has no known element size", string(d))
	}
	if n > (1<<62)/uint64(sz) {
		return 0, fmt.Errorf("objects: shape %v of %s overflows", shape, d)
	}
	return n * uint64(sz), nil
}
