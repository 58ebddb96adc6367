// Package objects is the bottom floor of fed: content-addressed objects
// and the stores that keep them.
//
// An object is one of eight kinds — chunk, tensor, blob, model, tree,
// commit, tag, proof — with one canonical encoding (a kind byte, then
// fields with varint lengths, doc/design.md §3–§4); its ID is the SHA-256
// of that encoding, so equal content has one name. Tensors are split into
// pieces of at most 4 MiB, so an unchanged piece is stored once. Commits
// and tags are signed with ed25519 keys, which are Solana wallet keys
// (Keypair, PublicKey, Base58).
//
// A Store keeps objects by id (DiskStore under a repository's
// .fed/objects, MemStore for tests and scratch work). A store writes each
// object once (temporary file, fsync, rename, fsync of the directory),
// in a stored form that may be a zstd-compressed, byte-grouped XOR delta
// against a base object, and verifies what it reads: a read returns the
// object's canonical bytes or a *CorruptError / *NotFoundError, never
// damaged data. Batch defers the durability of many writes to one flush.
// Fsck and GC walk the object graph of a store.
//
// Left to others: names for objects (package refs), what a model file's
// bytes mean (package codec), arithmetic on tensors (package merge),
// transport (package remote). Only the standard library and
// klauspost/compress are imported here.
package objects
