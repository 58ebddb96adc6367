package onnx

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/fed-vcs/fed/codec"
	"github.com/fed-vcs/fed/objects"
)

// ErrInvalid is wrapped by every *FormatError: the file is a damaged ONNX
// model.
var ErrInvalid = errors.New("onnx: invalid model")

// MaxDepth bounds the nesting of subgraphs followed.
const MaxDepth = 64

// maxName bounds the names read (node, tensor, attribute, output).
const maxName = 64 << 10

// FormatError reports why a file is not a valid ONNX model.
type FormatError struct {
	File string // file name as given to Parse
	Msg  string
}

func (e *FormatError) Error() string { return "onnx: " + e.File + ": " + e.Msg }

// Unwrap returns ErrInvalid.
func (e *FormatError) Unwrap() error { return ErrInvalid }

// Skipped is a tensor of the model kept as raw bytes, and why.
type Skipped struct {
	Name   string
	Reason string // e.g. "typed field float_data, not raw_data"
}

// Model is what Parse learned about a model beyond its layout.
type Model struct {
	// Skipped lists the tensors whose data is not a tensor segment:
	// typed fields (float_data, int64_data, …), external data, dtypes
	// fed does not store, mismatched lengths. Diff reports them as raw.
	Skipped []Skipped
}

// Field numbers of onnx.proto (IR version 8).
const (
	modelGraph = 7

	graphNode        = 1
	graphInitializer = 5

	nodeInput     = 1
	nodeOutput    = 2
	nodeName      = 3
	nodeOpType    = 4
	nodeAttribute = 5

	attrName    = 1
	attrT       = 5
	attrG       = 6
	attrTensors = 10
	attrGraphs  = 11

	tensorDims         = 1
	tensorDataType     = 2
	tensorSegment      = 3
	tensorName         = 8
	tensorRawData      = 9
	tensorExternalData = 13
	tensorDataLocation = 14
)

// typedFields are TensorProto's typed data fields, by number.
var typedFields = map[protowire.Number]string{
	4: "float_data", 5: "int32_data", 6: "string_data", 7: "int64_data", 10: "double_data", 11: "uint64_data",
}

// dataTypes maps TensorProto.DataType to fed's dtypes. Types not listed
// (STRING, COMPLEX128, the FNUZ float8s, 4-bit types, …) stay raw.
var dataTypes = map[uint64]objects.DType{
	1: objects.F32, 2: objects.U8, 3: objects.I8, 4: objects.U16, 5: objects.I16, 6: objects.I32,
	7: objects.I64, 9: objects.Bool, 10: objects.F16, 11: objects.F64, 12: objects.U32, 13: objects.U64,
	14: objects.C64, 16: objects.BF16, 17: objects.F8E4M3, 19: objects.F8E5M2,
}

// modelFields lists ModelProto's field numbers and wire types, for
// content detection.
var modelFields = map[protowire.Number]protowire.Type{
	1: protowire.VarintType, 2: protowire.BytesType, 3: protowire.BytesType, 4: protowire.BytesType,
	5: protowire.VarintType, 6: protowire.BytesType, 7: protowire.BytesType, 8: protowire.BytesType,
	14: protowire.BytesType, 20: protowire.BytesType, 25: protowire.BytesType,
}

// isONNXHead recognises the start of a serialized ModelProto: ir_version
// (field 1, between 1 and 100) first, as every ONNX writer puts it, then
// only ModelProto fields with their wire types as far as head reaches.
func isONNXHead(head []byte) bool {
	b := head
	first := true
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return !first && len(b) < 10 // a tag cut by the end of head
		}
		if want, ok := modelFields[num]; !ok || want != typ || first && num != 1 {
			return false
		}
		b = b[n:]
		m := protowire.ConsumeFieldValue(num, typ, b)
		if first {
			v, k := protowire.ConsumeVarint(b)
			if k < 0 || v < 1 || v > 100 {
				return false
			}
		}
		if m < 0 {
			return !first // value runs past head
		}
		b, first = b[m:], false
	}
	return !first
}

// Parser is the codec.Parser of ONNX models.
type Parser struct{}

var _ codec.Parser = Parser{}

func init() {
	codec.Register(codec.FormatONNX, Parser{})
	codec.RegisterDetector(codec.FormatONNX, codec.Detector{Content: isONNXHead, Suffixes: []string{".onnx"}})
}

// Parse implements codec.Parser.
func (Parser) Parse(r io.ReaderAt, size int64, name string) (*codec.Layout, error) {
	l, _, err := Parse(r, size, name)
	return l, err
}

// Parse reads the ModelProto r of size bytes and returns its layout: the
// raw_data payload of every tensor it finds (graph initializers, Constant
// nodes, tensor attributes, and the same inside subgraphs) whose dtype
// fed stores is a tensor segment; everything else, the graph included,
// is raw. A malformed file named *.onnx gives a *FormatError; one that
// was recognised from content only gives a *codec.OpaqueError, as it may
// be some other protobuf. Read errors are wrapped.
func Parse(r io.ReaderAt, size int64, name string) (*codec.Layout, *Model, error) {
	p := &parser{src: src{r: r, size: size}, model: &Model{}, names: map[string]int{}}
	err := p.message(0, size, func(f field) error {
		if f.num == modelGraph && f.typ == protowire.BytesType {
			return p.graph(f.off, f.end(), "", 0)
		}
		return nil
	})
	if err != nil {
		var ioe *ioError
		switch {
		case errors.As(err, &ioe):
			return nil, nil, fmt.Errorf("onnx: read %s: %w", name, ioe.err)
		case strings.HasSuffix(strings.ToLower(name), ".onnx"):
			return nil, nil, &FormatError{File: name, Msg: err.Error()}
		default:
			return nil, nil, &codec.OpaqueError{File: name, Format: codec.FormatONNX, Reason: "not a valid ONNX model: " + err.Error()}
		}
	}
	slices.SortFunc(p.tensors, func(a, b codec.Segment) int { return cmp.Compare(a.Offset, b.Offset) })
	l := &codec.Layout{Format: codec.FormatONNX, Size: size}
	var pos int64
	for _, t := range p.tensors {
		if t.Offset < pos {
			return nil, nil, &FormatError{File: name, Msg: fmt.Sprintf("tensor %q overlaps another", t.Tensor.Name)}
		}
		if t.Offset > pos {
			l.Segments = append(l.Segments, codec.Segment{Offset: pos, Length: t.Offset - pos})
		}
		l.Segments = append(l.Segments, t)
		pos = t.Offset + t.Length
	}
	if pos < size {
		l.Segments = append(l.Segments, codec.Segment{Offset: pos, Length: size - pos})
	}
	if err := l.Validate(); err != nil {
		return nil, nil, &FormatError{File: name, Msg: err.Error()}
	}
	return l, p.model, nil
}

type parser struct {
	src
	model   *Model
	tensors []codec.Segment
	names   map[string]int // tensor names used, for de-duplication
}

// unique returns name, or name#2, name#3, … if it was taken.
func (p *parser) unique(name string) string {
	p.names[name]++
	n := p.names[name]
	if n == 1 {
		return name
	}
	for {
		c := name + "#" + strconv.Itoa(n)
		if p.names[c] == 0 {
			p.names[c] = 1
			return c
		}
		n++
	}
}

// graph walks a GraphProto: its initializers and its nodes.
func (p *parser) graph(off, end int64, prefix string, depth int) error {
	if depth > MaxDepth {
		return fmt.Errorf("subgraphs nested deeper than %d", MaxDepth)
	}
	inits, nodes := 0, 0
	return p.message(off, end, func(f field) error {
		switch {
		case f.num == graphInitializer && f.typ == protowire.BytesType:
			inits++
			return p.tensor(f.off, f.end(), func(tname string) string {
				if tname == "" {
					tname = "initializer#" + strconv.Itoa(inits-1)
				}
				return prefix + tname
			})
		case f.num == graphNode && f.typ == protowire.BytesType:
			nodes++
			return p.node(f.off, f.end(), prefix, nodes-1, depth)
		}
		return nil
	})
}

// node walks a NodeProto's tensor and graph attributes.
func (p *parser) node(off, end int64, prefix string, index, depth int) error {
	var name, opType, output string
	var attrs []field
	err := p.message(off, end, func(f field) error {
		if f.typ != protowire.BytesType {
			return nil
		}
		var err error
		switch f.num {
		case nodeName:
			name, err = p.str(f)
		case nodeOpType:
			opType, err = p.str(f)
		case nodeOutput:
			if output == "" {
				output, err = p.str(f)
			}
		case nodeAttribute:
			attrs = append(attrs, f)
		case nodeInput:
		}
		return err
	})
	if err != nil {
		return err
	}
	label := name
	if label == "" {
		label = output
	}
	if label == "" {
		label = "#" + strconv.Itoa(index)
	}
	for _, a := range attrs {
		if err := p.attribute(a.off, a.end(), prefix, label, opType == "Constant", output, depth); err != nil {
			return err
		}
	}
	return nil
}

// attribute walks an AttributeProto: t, tensors, g, graphs.
func (p *parser) attribute(off, end int64, prefix, label string, constant bool, output string, depth int) error {
	var name string
	var fields []field
	err := p.message(off, end, func(f field) error {
		if f.typ != protowire.BytesType {
			return nil
		}
		switch f.num {
		case attrName:
			var err error
			name, err = p.str(f)
			return err
		case attrT, attrG, attrTensors, attrGraphs:
			fields = append(fields, f)
		}
		return nil
	})
	if err != nil {
		return err
	}
	base := prefix + label + "/" + name
	nt, ng := 0, 0
	for _, f := range fields {
		var err error
		switch f.num {
		case attrT:
			err = p.tensor(f.off, f.end(), func(string) string {
				// A Constant's value is known to the graph by its output.
				if constant && name == "value" && output != "" {
					return prefix + output
				}
				return base
			})
		case attrTensors:
			i := nt
			nt++
			err = p.tensor(f.off, f.end(), func(string) string { return base + "/" + strconv.Itoa(i) })
		case attrG:
			err = p.graph(f.off, f.end(), base+"/", depth+1)
		case attrGraphs:
			err = p.graph(f.off, f.end(), base+"/"+strconv.Itoa(ng)+"/", depth+1)
			ng++
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// tensor reads a TensorProto and records its raw_data as a tensor
// segment, or why not in Model.Skipped. naming turns the proto's own name
// into the segment name.
func (p *parser) tensor(off, end int64, naming func(string) string) error {
	var (
		dims            []uint64
		dt              uint64
		hasDT           bool
		tname           string
		raw             []field
		reason          string
		external, typed bool
	)
	err := p.message(off, end, func(f field) error {
		switch {
		case f.num == tensorDims && f.typ == protowire.VarintType:
			dims = append(dims, f.v)
		case f.num == tensorDims && f.typ == protowire.BytesType:
			b, err := p.bytes(f, maxName)
			if err != nil {
				return err
			}
			for len(b) > 0 {
				v, n := protowire.ConsumeVarint(b)
				if n < 0 {
					return fmt.Errorf("bad packed dims at %d", f.off)
				}
				dims, b = append(dims, v), b[n:]
			}
		case f.num == tensorDataType && f.typ == protowire.VarintType:
			dt, hasDT = f.v, true
		case f.num == tensorName && f.typ == protowire.BytesType:
			var err error
			tname, err = p.str(f)
			return err
		case f.num == tensorRawData && f.typ == protowire.BytesType:
			raw = append(raw, f)
		case f.num == tensorSegment:
			reason = "segmented tensor"
		case f.num == tensorExternalData, f.num == tensorDataLocation && f.v == 1:
			external = true
		default:
			if _, ok := typedFields[f.num]; ok {
				typed = true
				if reason == "" {
					reason = "typed field " + typedFields[f.num] + ", not raw_data"
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	name := naming(tname)
	dtype, known := dataTypes[dt]
	switch {
	case reason != "":
	case external:
		reason = "external data"
	case len(raw) == 0:
		reason = "no raw_data"
	case len(raw) > 1 || typed:
		reason = "several data fields"
	case !hasDT || !known:
		reason = "data_type " + strconv.FormatUint(dt, 10) + " has no fed dtype"
	}
	if reason == "" {
		info := codec.TensorInfo{DType: dtype, Shape: dims}
		if n, _, err := info.ByteLen(); err != nil || n != raw[0].n {
			reason = fmt.Sprintf("raw_data has %d bytes, dims %v of %s need %d", raw[0].n, dims, dtype, n)
		}
	}
	if reason != "" {
		p.model.Skipped = append(p.model.Skipped, Skipped{Name: name, Reason: reason})
		return nil
	}
	if dims == nil {
		dims = []uint64{}
	}
	p.tensors = append(p.tensors, codec.Segment{Offset: raw[0].off, Length: raw[0].n,
		Tensor: &codec.TensorInfo{Name: p.unique(name), DType: dtype, Shape: dims}})
	return nil
}
