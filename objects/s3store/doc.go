// Package s3store keeps fed objects in S3-compatible object storage
// (Amazon S3, versitygw, MinIO, Ceph RGW…): the production layout of
// `fed serve --objects s3://BUCKET/PREFIX`, where several server replicas
// share one object store. It is the only importer of an S3 SDK
// (github.com/minio/minio-go/v7).
//
// A Store implements objects.Store and the stored-form transfer methods
// the server uses (StoredInfo, GetStored, PutStored, OpenStored, Touch).
// Object id is kept under the key PREFIX + hex[0:2] + "/" + hex[2:64] —
// the disk store's fan-out — as a self-contained stored form
// (doc/design.md §6, without the local checksum: the wire form), so a
// fetch serves the bytes as they are and a range request maps to a
// ranged GET.
//
// Invariants (doc/design.md §6a):
//   - Write once: every put carries If-None-Match: *; the store refuses
//     to replace a key. A refusal (412) means an object with this id is
//     already there, which, the key being the id, is success.
//   - Checksums verified by the store on upload: every PUT (and every part
//     of a multipart upload) carries x-amz-checksum-sha256 of its bytes
//     and the signed payload hash; a body damaged on the way is refused.
//     Objects above Config.PartSize go up in parts, completed with the
//     same If-None-Match condition; a failed upload is aborted.
//   - Verified on read: Get decodes the stored form and checks that the
//     canonical bytes hash to the id (*objects.CorruptError otherwise).
//   - Errors are classified: an absent key is *objects.NotFoundError; a
//     refused connection, a timeout or a 5xx answer wraps
//     objects.ErrUnavailable (retry later); a cancelled context is the
//     context's error; any other answer (access denied, no such bucket) is
//     an *objects.RefusedError (objects.ErrRefused: the storage's fault,
//     not the data's) naming the bucket and key.
//   - No deltas: a delta form received by PutStored is decoded against
//     its base and stored self-contained, so every key stands alone and
//     deleting one never breaks another.
//
// Left to others: credentials and flags (cmd/fed reads them), refs and
// repository settings (the hosting layer), and garbage collection's
// safety across replicas — a Store has no modification times
// (objects.ModTimer), so objects.GC removes nothing from it.
package s3store
