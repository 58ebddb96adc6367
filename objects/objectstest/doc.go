// Package objectstest holds test helpers for objects.Store
// implementations: Run, one conformance suite that every store (disk,
// memory, and every backend added later) must pass, and Faulty, a Store
// wrapper that injects failures so that callers (objects.Writer, Fsck,
// GC, the remote layer) can be shown to handle them.
//
// Left to others: tests of one store's private layout (the disk store's
// files, temporary-file clean-up after a crash), multi-process tests and
// the tests of the object encoding itself; those live next to the code
// they test.
//
// Invariants the suite checks, on top of the objects.Store documentation:
//   - Get returns the canonical bytes of id or an error, never other bytes:
//     *objects.NotFoundError (errors.Is ErrNotFound) naming the id when
//     absent, *objects.CorruptError naming the id when the stored bytes
//     are damaged, including when a delta base they depend on is damaged;
//   - Put validates the header and the size limit, is idempotent, and its
//     PutOptions hints never change what Get returns, whatever the hint
//     (absent, wrong-length or corrupt delta bases, odd element sizes);
//   - Get, Put and List honour a cancelled context;
//   - every method is safe for concurrent use.
//
// Nothing here is imported by non-test code.
package objectstest
