package zk

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sort"

	"github.com/fed-vcs/fed/merge"
	"github.com/fed-vcs/fed/objects"
)

// Fixed-point and packing parameters of circuit version 2 (commitment
// format 1).
const (
	// CircuitVersion is recorded in every proof and key; verifiers refuse
	// other versions. Version 2 (same commitment as version 1, cheaper
	// circuits) replaced version 1.
	CircuitVersion = 2
	// commitVersion is the commitment format (sponge tag, packing); it
	// changes only when chunk commitments change.
	commitVersion = 1
	// ScaleShift is the binary point: q = round-half-even(x·2^16), the
	// definition of merge.Quantize.
	ScaleShift = merge.FixedShift
	// ValueBits bounds committed values: |q| < 2^29, i.e. |x| < 8192.
	ValueBits = 29
	// digitOffset turns q into the packed digit d = q + 2^30, so committed
	// digits lie in [2^29, 3·2^29) and a child digit d + δ with |δ| < 2^29
	// stays in [0, 2^31).
	digitOffset = 1 << 30
	digitBits   = 31
	// PerElement is the number of digits packed into one field element:
	// 8·31 = 248 bits, below the 254-bit BN254 scalar field.
	PerElement = 8
	// DefaultChunk is the production chunk size (values per proof).
	DefaultChunk = 8192
	// MaxChunk bounds ChunkSize.
	MaxChunk = 1 << 20
	// MinChunk is the smallest ChunkSize (one packed element).
	MinChunk = PerElement
)

// Tensor is one float tensor of a model: little-endian elements of DType
// (F16, BF16, F32 or F64).
type Tensor struct {
	Path  string // file path in the repository
	Name  string // tensor name in the file
	DType objects.DType
	Shape []uint64
	Data  []byte
}

// Extra is something the circuits do not cover (a non-float tensor, a file
// that is not a model): it enters the commitment root by object id only.
type Extra struct {
	Path string
	Name string // tensor name, "" for a whole file
	ID   objects.ID
}

// Model is the input of Quantize.
type Model struct {
	Tensors []Tensor
	Extras  []Extra
}

// Values is a quantised model: q for every covered element in canonical
// order, and the digests of its layout and extras.
type Values struct {
	Q      []int32
	Layout [32]byte
	Extras [32]byte
	// Names maps element ranges back to tensors for error messages:
	// Starts[i] is the first element of tensor Names[i].
	Names  []string
	Starts []int
}

// Where names the tensor and element index of flat element i.
func (v *Values) Where(i int) string {
	k := sort.Search(len(v.Starts), func(k int) bool { return v.Starts[k] > i }) - 1
	if k < 0 {
		return fmt.Sprintf("element %d", i)
	}
	return fmt.Sprintf("%s element %d", v.Names[k], i-v.Starts[k])
}

// Quantize orders m's tensors by path then name, quantises every element
// and computes the layout and extras digests. It fails (matching ErrRange)
// on a non-finite value or one with |q| ≥ 2^29.
func Quantize(m *Model) (*Values, error) {
	ts := append([]Tensor(nil), m.Tensors...)
	sort.Slice(ts, func(i, j int) bool {
		if ts[i].Path != ts[j].Path {
			return ts[i].Path < ts[j].Path
		}
		return ts[i].Name < ts[j].Name
	})
	lh := sha256.New()
	lh.Write([]byte("fed-zk layout v1\x00"))
	total := 0
	for i, t := range ts {
		if i > 0 && ts[i-1].Path == t.Path && ts[i-1].Name == t.Name {
			return nil, fmt.Errorf("zk: quantize: tensor %s:%s twice", t.Path, t.Name)
		}
		if !t.DType.IsFloat() {
			return nil, fmt.Errorf("zk: quantize: tensor %s:%s has dtype %s, not a float", t.Path, t.Name, t.DType)
		}
		n, err := objects.NumElements(t.Shape)
		if err != nil {
			return nil, fmt.Errorf("zk: quantize: tensor %s:%s: %w", t.Path, t.Name, err)
		}
		sz, _ := t.DType.Size()
		if uint64(len(t.Data)) != n*uint64(sz) {
			return nil, fmt.Errorf("zk: quantize: tensor %s:%s: %d bytes for %d elements of %s", t.Path, t.Name, len(t.Data), n, t.DType)
		}
		writeStr(lh, t.Path)
		writeStr(lh, t.Name)
		writeStr(lh, string(t.DType))
		writeUvarint(lh, n)
		total += int(n)
	}
	v := &Values{Q: make([]int32, 0, total)}
	copy(v.Layout[:], lh.Sum(nil))
	for _, t := range ts {
		v.Names = append(v.Names, t.Path+":"+t.Name)
		v.Starts = append(v.Starts, len(v.Q))
		sz, _ := t.DType.Size()
		var xs []float64
		for lo := 0; lo < len(t.Data); lo += quantBlock * sz {
			xs = merge.DecodeFloats(t.DType, t.Data[lo:min(lo+quantBlock*sz, len(t.Data))], xs)
			for i, x := range xs {
				q, err := quantize(x)
				if err != nil {
					return nil, fmt.Errorf("zk: quantize: tensor %s:%s element %d: %w", t.Path, t.Name, lo/sz+i, err)
				}
				v.Q = append(v.Q, q)
			}
		}
	}
	ex := append([]Extra(nil), m.Extras...)
	sort.Slice(ex, func(i, j int) bool {
		if ex[i].Path != ex[j].Path {
			return ex[i].Path < ex[j].Path
		}
		return ex[i].Name < ex[j].Name
	})
	eh := sha256.New()
	eh.Write([]byte("fed-zk extras v1\x00"))
	for _, e := range ex {
		writeStr(eh, e.Path)
		writeStr(eh, e.Name)
		eh.Write(e.ID[:])
	}
	copy(v.Extras[:], eh.Sum(nil))
	return v, nil
}

// quantBlock is how many elements Quantize decodes at a time.
const quantBlock = 4096

// quantize is merge.Quantize restricted to the committed range.
func quantize(x float64) (int32, error) {
	q, err := merge.Quantize(x)
	if err != nil || q >= 1<<ValueBits || q <= -(1<<ValueBits) {
		return 0, fmt.Errorf("%w: %v (|x| must be below %d)", ErrRange, x, 1<<(ValueBits-ScaleShift))
	}
	return q, nil
}

type byteWriter interface{ Write([]byte) (int, error) }

func writeUvarint(w byteWriter, x uint64) {
	var b [binary.MaxVarintLen64]byte
	w.Write(b[:binary.PutUvarint(b[:], x)])
}

func writeStr(w byteWriter, s string) {
	writeUvarint(w, uint64(len(s)))
	w.Write([]byte(s))
}
