package safetensors

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/fed-vcs/fed/codec"
	"github.com/fed-vcs/fed/objects"
)

// WriteTensor is a tensor to write: its description, and Len bytes of data
// read from Data.
type WriteTensor struct {
	Info codec.TensorInfo
	Data io.Reader
	Len  int64
}

// dtypeRank is the position of each dtype in the reference library's Dtype
// enum (safetensors 0.6–0.8), which its writer sorts by, descending, as a
// stand-in for alignment. Dtypes not listed (unknown to the reference) rank
// below all of them.
var dtypeRank = map[objects.DType]int{
	"BOOL": 0, "F4": 1, "F6_E2M3": 2, "F6_E3M2": 3, "U8": 4, "I8": 5,
	"F8_E5M2": 6, "F8_E4M3": 7, "F8_E8M0": 8, "F8_E4M3FNUZ": 9, "F8_E5M2FNUZ": 10,
	"I16": 11, "U16": 12, "F16": 13, "BF16": 14, "I32": 15, "U32": 16, "F32": 17,
	"C64": 18, "F64": 19, "I64": 20, "U64": 21,
}

func rank(d objects.DType) int {
	if r, ok := dtypeRank[d]; ok {
		return r
	}
	return -1
}

// Write writes a safetensors file laid out as the reference library lays
// it out: tensors sorted by dtype (in the reference's enum order,
// descending: U64, I64, F64, C64, F32, …, BOOL; unknown dtypes last), then
// by name; data back to back in that order; header JSON compact, with
// "__metadata__" first when metadata is not nil (an empty, non-nil map
// writes "__metadata__":{}), then the tensors in data order, each as
// {"dtype":…,"shape":[…],"data_offsets":[b,e]}; padded with spaces to a
// multiple of 8 bytes. Metadata keys are written in sorted order (the
// reference writes them in hash-map order, so files with two or more
// metadata keys may differ from it in key order only).
//
// Write reads exactly Len bytes from each tensor's Data; Len must equal the
// tensor's byte length when its dtype has a known size.
func Write(w io.Writer, metadata map[string]string, tensors []WriteTensor) error {
	header, order, err := plan(metadata, tensors)
	if err != nil {
		return err
	}
	if _, err := w.Write(header); err != nil {
		return fmt.Errorf("safetensors: write header: %w", err)
	}
	for _, i := range order {
		t := tensors[i]
		if t.Len == 0 {
			continue
		}
		if t.Data == nil {
			return fmt.Errorf("safetensors: write tensor %q: no data reader", t.Info.Name)
		}
		n, err := io.CopyN(w, t.Data, t.Len)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return fmt.Errorf("safetensors: write tensor %q: data has %d bytes, want %d: %w",
					t.Info.Name, n, t.Len, io.ErrUnexpectedEOF)
			}
			return fmt.Errorf("safetensors: write tensor %q: %w", t.Info.Name, err)
		}
	}
	return nil
}

// HeaderBytes returns the header region Write writes for these metadata
// and tensors: the 8-byte length, the JSON and its padding. The Data of
// the tensors is not used.
func HeaderBytes(metadata map[string]string, tensors []WriteTensor) ([]byte, error) {
	header, _, err := plan(metadata, tensors)
	return header, err
}

// plan validates the tensors, orders them and encodes the header region.
func plan(metadata map[string]string, tensors []WriteTensor) ([]byte, []int, error) {
	names := make(map[string]struct{}, len(tensors))
	var total int64
	for _, t := range tensors {
		name := t.Info.Name
		switch {
		case name == metadataKey:
			return nil, nil, fmt.Errorf("safetensors: tensor name %q is reserved", name)
		case !utf8.ValidString(name):
			return nil, nil, fmt.Errorf("safetensors: tensor name %q is not valid UTF-8", name)
		case t.Info.DType == objects.Unknown:
			return nil, nil, fmt.Errorf("safetensors: tensor %q has no dtype", name)
		case !utf8.ValidString(string(t.Info.DType)):
			return nil, nil, fmt.Errorf("safetensors: tensor %q: dtype %q is not valid UTF-8", name, t.Info.DType)
		case t.Len < 0:
			return nil, nil, fmt.Errorf("safetensors: tensor %q has negative length %d", name, t.Len)
		}
		if total += t.Len; total < 0 {
			return nil, nil, fmt.Errorf("safetensors: tensor %q: data region overflows", name)
		}
		if _, dup := names[name]; dup {
			return nil, nil, fmt.Errorf("safetensors: duplicate tensor %q", name)
		}
		names[name] = struct{}{}
		n, known, err := t.Info.ByteLen()
		if err != nil {
			return nil, nil, fmt.Errorf("safetensors: tensor %q: %w", name, err)
		}
		if known && n != t.Len {
			return nil, nil, fmt.Errorf("safetensors: tensor %q: %s of shape %v has %d bytes, Len is %d",
				name, t.Info.DType, t.Info.Shape, n, t.Len)
		}
	}
	for k, v := range metadata {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return nil, nil, fmt.Errorf("safetensors: metadata entry %q is not valid UTF-8", k)
		}
	}

	order := make([]int, len(tensors))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		ta, tb := tensors[a].Info, tensors[b].Info
		return cmp.Or(cmp.Compare(rank(tb.DType), rank(ta.DType)), cmp.Compare(ta.Name, tb.Name))
	})

	buf := make([]byte, 8, 256)
	buf = append(buf, '{')
	first := true
	if metadata != nil {
		buf = appendMetadata(buf, metadata)
		first = false
	}
	var off uint64
	for _, i := range order {
		t := tensors[i]
		if !first {
			buf = append(buf, ',')
		}
		first = false
		buf = appendEntry(buf, t.Info, off, off+uint64(t.Len))
		off += uint64(t.Len)
	}
	buf, err := finishHeader(buf)
	if err != nil {
		return nil, nil, err
	}
	return buf, order, nil
}

// appendMetadata appends the "__metadata__" member, keys sorted.
func appendMetadata(buf []byte, metadata map[string]string) []byte {
	buf = appendString(buf, metadataKey)
	buf = append(buf, ":{"...)
	keys := make([]string, 0, len(metadata))
	for k := range metadata {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for i, k := range keys {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendString(buf, k)
		buf = append(buf, ':')
		buf = appendString(buf, metadata[k])
	}
	return append(buf, '}')
}

// appendEntry appends the header member of one tensor.
func appendEntry(buf []byte, t codec.TensorInfo, begin, end uint64) []byte {
	buf = appendString(buf, t.Name)
	buf = append(buf, `:{"dtype":`...)
	buf = appendString(buf, string(t.DType))
	buf = append(buf, `,"shape":[`...)
	for j, d := range t.Shape {
		if j > 0 {
			buf = append(buf, ',')
		}
		buf = strconv.AppendUint(buf, d, 10)
	}
	buf = append(buf, `],"data_offsets":[`...)
	buf = strconv.AppendUint(buf, begin, 10)
	buf = append(buf, ',')
	buf = strconv.AppendUint(buf, end, 10)
	return append(buf, "]}"...)
}

// finishHeader closes the JSON object that buf holds after 8 bytes left
// for its length, pads it with spaces to a multiple of 8 and writes the
// length.
func finishHeader(buf []byte) ([]byte, error) {
	buf = append(buf, '}')
	for (len(buf)-8)%8 != 0 {
		buf = append(buf, ' ')
	}
	n := len(buf) - 8
	if n > MaxHeaderLen {
		return nil, fmt.Errorf("safetensors: header of %d bytes exceeds the limit of %d", n, MaxHeaderLen)
	}
	binary.LittleEndian.PutUint64(buf[:8], uint64(n))
	return buf, nil
}

// appendString appends s as a JSON string the way serde_json writes it:
// '"' and '\\' escaped, the control characters \b \t \n \f \r by name and
// the other ones below 0x20 as \u00xx (lowercase hex), everything else,
// including non-ASCII, '<', '>', '&', U+2028 and U+2029, verbatim.
func appendString(buf []byte, s string) []byte {
	const hex = "0123456789abcdef"
	buf = append(buf, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			buf = append(buf, '\\', c)
		case c == '\b':
			buf = append(buf, '\\', 'b')
		case c == '\t':
			buf = append(buf, '\\', 't')
		case c == '\n':
			buf = append(buf, '\\', 'n')
		case c == '\f':
			buf = append(buf, '\\', 'f')
		case c == '\r':
			buf = append(buf, '\\', 'r')
		case c < 0x20:
			buf = append(buf, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			buf = append(buf, c)
		}
	}
	return append(buf, '"')
}

// Plan returns what Write would write before the data: the header region,
// and the order (indexes into tensors) in which the tensors' data follow
// it. Callers that assemble a file from stored tensors use it.
func Plan(metadata map[string]string, tensors []WriteTensor) (header []byte, order []int, err error) {
	return plan(metadata, tensors)
}
