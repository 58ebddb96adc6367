// Package onnx parses ONNX models (a serialized onnx.ModelProto) as
// codec.Layouts, reading the protobuf wire format with protowire.
//
// The tensors of a model are TensorProto messages in the graph's
// initializers, in node attributes (the value of a Constant node, any
// attribute of type TENSOR or TENSORS) and, recursively, in the subgraphs
// of attributes of type GRAPH or GRAPHS (If, Loop, Scan). A tensor whose
// data is in raw_data, whose data_type has a fed dtype and whose payload
// has exactly the length its dims need becomes a tensor segment: the
// payload bytes only, so the tag, the length and every other field stay in
// the surrounding raw bytes, and the graph is kept as it is. Other tensors
// (typed fields float_data, int64_data…, external data, strings,
// complex128, mismatched lengths) stay raw; Model.Skipped lists them with
// the reason, for diff to report.
//
// Names: an initializer keeps its own name; a Constant node's value is
// named after the node's first output (the name the graph uses); other
// tensor attributes are "<node>/<attribute>" and "<node>/<attribute>/<i>",
// where <node> is the node's name, else its first output, else "#<index>";
// tensors inside a subgraph get the prefix "<node>/<attribute>/" (and
// "<i>/" for GRAPHS). A name already taken gets "#2", "#3", … in file order.
//
// Replacing a tensor's payload with bytes of the same length leaves the
// protobuf valid, so codec.Patch writes a merged model without any fixup.
//
// Content detection: a file whose first field is ir_version (1 to 100)
// followed by ModelProto fields of the right wire types, or a name ending
// in .onnx. A malformed file named *.onnx gives a *FormatError wrapping
// ErrInvalid; one detected from content only gives a *codec.OpaqueError,
// since it may be another protobuf. Parse reads fields through a 64 KiB
// window and skips tensor payloads, so memory does not grow with the
// weights. Subgraph nesting is limited to MaxDepth.
package onnx
