// Package npy parses NumPy's .npy and .npz files as codec.Layouts.
//
// An .npy file is the magic "\x93NUMPY", a version (1.0, 2.0 or 3.0), a
// little-endian header length (2 bytes for 1.0, 4 otherwise), a Python
// dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// padded with spaces and a newline, and the array's bytes. Its layout is
// the header as raw bytes and the data as one tensor named ArrayName
// (any bytes after the data stay raw). A C-order array keeps its shape;
// a Fortran-order array's bytes are not its row-major data, so it is
// stored under its element count as a 1-d shape (merges and diffs are
// element-wise, so they stay correct, and the bytes round-trip).
//
// The dtypes stored as tensors are the little-endian (or single-byte)
// bool, int8–64, uint8–64, float16/32/64 and complex64. Others (big-endian,
// strings, datetimes, structured, complex128, object arrays, which hold
// pickles that are never read) make an .npy file opaque
// (*codec.OpaqueError); in an .npz archive their members stay raw.
//
// An .npz file is a zip of .npy members (np.savez stores them
// uncompressed). Its layout keeps the zip structure and each member's
// header raw and makes the data of member "<name>.npy" a tensor named
// "<name>". Archives with compressed members (np.savez_compressed) are
// opaque: a deflated member's bytes are not its array's. Zip structure is
// checked as the torch codec does (no overlapping entries, no unsafe
// names, nothing decompressed), and the zip CRC-32 fixer is registered so
// that codec.Patch writes a valid archive.
//
// The header literal is parsed by a small reader of Python literals
// (dicts, tuples, lists, strings, integers, True, False, None), never
// evaluated. Damaged files that carry the magic give a *FormatError
// wrapping ErrInvalid.
//
// Importing this package registers both formats with codec: .npy by its
// magic or the name *.npy, .npz by a zip whose first entry ends in .npy or
// the name *.npz.
package npy
