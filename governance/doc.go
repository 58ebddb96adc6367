// Package governance holds the signed records a shared model is governed
// by (doc/design.md §19): reviews and attestations of a commit, the
// policy of a protected branch, and the name map that labels keys; and
// the rule that decides whether a commit satisfies a policy.
//
// Every record is a commit object (objects §4) over the empty tree,
// signed by its author like any commit, whose metadata says what it is
// (fed.gov=1, gov.kind) and what it is about. So records travel, are
// stored, verified, collected and published by the machinery commits
// already have, and a record's id, signer and time are its commit's.
// Reviews and attestations are named by refs under their own namespaces
// (ReviewRef, AttestationRef: the commit they are about, then their own
// id); a policy and the name map are chains (each record's one parent is
// the one it replaces) under PolicyRef and NamesRef.
//
// Left to others: which records a server takes and from whom
// (remote/server), pushing, fetching and signing them (repo), and the
// commands (cmd/fed).
//
// Invariants: Parse accepts exactly what Build writes for the value it
// returns (the record's commit re-encodes to the same bytes) and only
// records whose signature verifies against their author; Check is a pure
// function of the policy and the records it is given, and counts a key
// once however many records it signed.
package governance
