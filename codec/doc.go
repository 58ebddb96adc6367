// Package codec describes the byte layout of model files independently of
// their format, so that the storage layer can keep every tensor as its own
// object and everything else (headers, padding, container structure) as raw
// bytes, and rebuild the file byte for byte.
//
// A Layout is a list of Segments that tile the file: they start at offset 0,
// follow each other without gap or overlap, in file order, and end at Size.
// A Segment whose Tensor is nil holds raw bytes; otherwise its bytes are the
// little-endian, row-major data of that tensor. Concatenating the segments'
// bytes in order reproduces the file exactly; this is the only way fed
// rebuilds a model file, so no format's writer is needed to check out.
//
// Formats are recognised from content by Detect and parsed by a Parser that
// each format package registers (from its init function) with Register; a
// program that wants a format parsed imports its package, for instance
//
//	import _ "github.com/fed-vcs/fed/codec/safetensors"
//
// codec itself reads nothing but the first bytes of a file. It leaves to the
// format packages the parsing and validation of their headers, and to the
// storage layer the reading, hashing and storing of segment bytes.
//
// Invariants of a Layout that passed Validate: segments are contiguous and
// ordered and cover [0, Size); tensor names are unique within the file; a
// tensor segment's Length equals the byte length of its dtype and shape
// whenever the dtype has a known element size (objects.ByteLen). Tensors of
// dtypes fed does not know are carried as opaque bytes of any length.
package codec
