// Package torch parses PyTorch zip checkpoints (torch.save since 1.6:
// .pt, .pth, .bin, .ckpt) as a codec.Layout, so that fed stores, diffs and
// merges them tensor by tensor and checks them out byte for byte.
//
// A checkpoint is a zip archive (written by miniz: entries stored, data
// aligned to 64 bytes with an "FB" extra field, a data descriptor after
// each entry, zip64 end records) whose entries share a top directory P:
//
//	P/data.pkl     the pickled object (a state dict, or any nesting of
//	               dicts, lists and tuples holding tensors)
//	P/data/<key>   the bytes of storage <key>, little-endian
//	P/version, P/byteorder, …   small text entries
//
// The pickle names each storage with a persistent id
// ('storage', torch.<Type>Storage, key, location, numel) and rebuilds each
// tensor as a view of a storage: torch._utils._rebuild_tensor_v2(storage,
// offset, size, stride, …).
//
// # Layout
//
// Everything is raw bytes (zip headers, data.pkl, descriptors, central
// directory) except the data of the storages the pickle references, which
// are tensor segments. A storage's segment is named after its tensor when
// the mapping is 1:1, the common case of torch.save(model.state_dict()):
// exactly one tensor in the pickled object views the storage, at offset 0,
// row-major contiguous, covering all of it. The name is the tensor's path
// in the object: dict keys and list or tuple indices joined with "."
// ("fc1.weight", "optimizer.state.0.exp_avg"; RootName for a tensor saved
// on its own), its shape the tensor's. Otherwise (views, slices,
// transposes, storages shared by several tensors, tied weights, tensors
// inside sets) the segment is the whole storage, named StoragePrefix+key
// ("data/3") with the storage's dtype and its element count as a 1-d
// shape, and Checkpoint.ByStorage lists the tensors viewing it. Two path
// names that collide also fall back to storage names. Storages the pickle
// does not reference stay raw. Because every segment is a range of the
// file, concatenating them reproduces it byte for byte.
//
// # What stays opaque, what is refused
//
// Parse never executes or imports anything. Its unpickler implements only
// the binary opcodes of protocols 2–5 that torch.save emits and resolves
// globals against a whitelist: collections.OrderedDict, the torch._utils
// tensor and parameter rebuilders, torch.<Type>Storage of the dtypes fed
// knows, torch.Size, builtins set/frozenset and _codecs.encode (protocol
// 2 bytes). Anything else, and the other formats torch writes, make the
// file opaque with a *codec.OpaqueError giving the reason, which the CLI
// shows as a warning: legacy non-zip pickles, TorchScript archives
// (code/, constants.pkl), compressed entries, big-endian byte order, a
// pickle needing another class (numpy scalars, whole nn.Module objects),
// nesting deeper than 100. Damaged archives are refused with a
// *FormatError wrapping ErrInvalid: truncated or inconsistent zip
// structure, overlapping entries, entry names with "..", absolute paths or
// backslashes, a malformed pickle, a storage whose entry has the wrong
// length or a view that runs past its storage. Nothing is decompressed, so
// zip bombs have nothing to expand; data.pkl is read only up to
// MaxPickleLen.
//
// # Writing
//
// A merged checkpoint is the original file with tensor segments replaced
// by data of the same dtype and shape (codec.Patch or codec.Rewrite). The
// zip stores a CRC-32 of each entry in its central directory record and
// its data descriptor (or local header); the fixer this package registers
// recomputes them for the entries whose data changed, so torch.load
// accepts the result (an entry whose recorded CRC-32 was already wrong in
// the original gets the right one: a rewrite never copies a wrong checksum;
// checkout, which concatenates the stored segments, keeps the file as it
// was). The pickle is kept, so nested dicts, optimizer
// state and views of shared storages keep their structure.
//
// Importing this package registers its parser, its detector (a zip whose
// first entry is P/data.pkl or P/data/<key>, a legacy pickle's magic
// number, or the names *.pt and *.pth) and its fixer with codec.
package torch
