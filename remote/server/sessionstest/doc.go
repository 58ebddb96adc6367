// Package sessionstest is the conformance suite of server.SessionStore:
// Run checks a store's nonces (single use, at most one of concurrent
// takers wins, expiry by the caller's clock) and sessions (found until
// they expire, by any user of the same store). Every store runs it:
// server.MemorySessions in package server's tests, the PostgreSQL store
// in pgstore's, against a real server.
//
// Left to others: the sign-in protocol around the store (package server's
// tests), and starting the store's backing server.
//
// Invariants: the suite uses only the interface, and each of its
// subtests asks the factory for a fresh pair of handles; both handles of a
// pair see one store (for PostgreSQL: two pools on one database, standing
// for two replicas).
package sessionstest
