// Package zk proves, with Groth16 zero-knowledge proofs on BN254 (gnark),
// that a model version was derived legitimately from its parents: that an
// ordinary commit changed every weight by at most a public bound and the
// whole model by at most a public squared L2 budget, and that a merge is
// exactly the integer-weighted floor average of its parents. It is the only
// package that imports gnark.
//
// # Pipeline
//
//  1. Quantise: the float tensors of a model (F16, BF16, F32, F64), ordered
//     by file path, then tensor name, are flattened into one vector of
//     fixed-point integers q = round-half-even(x·2^16) (merge.Quantize);
//     every value must satisfy |q| < 2^29 (|x| < 8192).
//  2. Chunk: the vector is cut into chunks of ChunkSize values; the last one
//     is padded with zeros.
//  3. Commit: each chunk is hashed with a Poseidon2 sponge (width 16, rate
//     15, gnark-crypto's BN254 t=16 constants) over the values packed eight
//     per field element as 31-bit digits d = q + 2^30. The chunk
//     commitments, the layout digest (which tensors, dtypes and sizes) and
//     the extras digest (everything the circuits do not cover) hash with
//     SHA-256 into the model's root.
//  4. Prove, per chunk and in parallel, one of three circuits: the
//     commitment circuit (root commits), the bounded-update circuit (one
//     parent) or the merge circuit (K parents).
//
// Integer, boolean and other non-float tensors and files that are not
// models are outside every proven statement: the commitment covers them
// only natively, through their object ids in the extras digest.
//
// # What it leaves to others
//
// Reading weights out of a repository, storing proof objects and refs,
// signatures and the per-commit verification report are the repo
// package's; the fixed-point definition of a verifiable merge is the merge
// package's (Quantize, FixedMean), which this package follows exactly.
//
// # Invariants
//
// Every proof body records its format version and circuit version;
// decoders refuse unknown versions. Key files carry their circuit shape
// and origin (development or ceremony); a verifying key is named by the
// SHA-256 of its key file, which is what repositories pin. No function
// panics on malformed proofs or keys.
//
// Commitment and merge proofs prove their own values in the committed
// range; update proofs (circuit version 2) bound only the change, so a
// verifier establishes an update's range through Body.Drift (recomputed
// weights, or a commitment or merge proof within MaxDrift of it).
//
// See doc/design.md §15 for the exact statements, public inputs,
// soundness argument and byte layouts.
package zk
