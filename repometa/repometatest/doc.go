// Package repometatest holds the conformance suite of repometa.Store: Run,
// the one set of tests every backend of a hosted repository's records
// passes (the files of package repometa, a database's tables, and every
// backend added later).
//
// Left to others: the bytes a backend keeps (tested beside it), and tests
// with several processes or machines.
//
// Invariants the suite checks, on top of the repometa.Store documentation:
// settings come back in normal form and as copies; concurrent updates all
// apply; a refused change stores nothing; zk changes see the merged
// result before it is stored; push log entries come back byte for byte in
// order; id lists only grow and never repeat an id; what was stored is
// there after reopening; a cancelled context changes nothing.
//
// Nothing here is imported by non-test code.
package repometatest
