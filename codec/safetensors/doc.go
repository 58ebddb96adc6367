// Package safetensors parses and writes the safetensors model format of
// Hugging Face, as a codec.Layout for fed's storage layer.
//
// File layout (all integers little-endian):
//
//	offset 0      8-byte unsigned N, the header length
//	offset 8      N bytes: a UTF-8 JSON object, then padding (the
//	              reference writer pads with spaces to a multiple of 8)
//	offset 8+N    data region: the tensors' bytes, back to back
//
// The JSON object maps each tensor name to
// {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, with the
// offsets relative to the start of the data region; the optional key
// "__metadata__" holds an object of string values.
//
// Parse reads only the 8-byte prefix and the header, never the data, so it
// works on files of any size with memory bounded by the header (at most
// 100,000,000 bytes). It is strict: the data_offsets must tile the data
// region exactly and every tensor of a known dtype must have exactly
// shape × element-size bytes. Its layout has one raw segment for
// [0, 8+N) and then one segment per tensor, in data-offset order.
//
// Write lays a file out as the reference Python/Rust library does, so that
// Write(Parse(x)) reproduces x for files that library wrote (with at most
// one metadata entry; see Write). fed never needs Write to check out a file:
// the stored header segment is kept verbatim.
//
// Importing this package registers its parser with codec.Register.
package safetensors
