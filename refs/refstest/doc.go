// Package refstest holds the conformance suite of refs.Backend: Run, the
// one set of tests every ref store passes (the ref files of package refs,
// a database's tables, and every backend added later), so that a server
// behaves the same on each.
//
// Left to others: the bytes a backend keeps (the file store's layout is
// tested in package refs, a database's schema beside its code), HEAD
// updates and pseudo-refs (only the local file store has them), and tests
// with several processes or machines; a backend's own tests add those.
//
// Invariants the suite checks, on top of the refs.Backend documentation:
//   - Apply is all or nothing and compare-and-swap on every ref, and of
//     concurrent Applies expecting the same value exactly one wins;
//   - a lost compare is a *refs.StaleError naming the ref and the value
//     found, a name conflict wraps refs.ErrConflict, an absent ref wraps
//     refs.ErrNotFound, and an unavailable store gives an error
//     refs.Retryable reports (when the backend can be made unavailable);
//   - the reflog records every change with its author, message and time,
//     and goes with a deleted ref;
//   - a cancelled context changes nothing.
//
// Nothing here is imported by non-test code.
package refstest
