// Package pgstore keeps fed serve's shared state in PostgreSQL, so that
// several replicas (fed serve --db postgres://…) serve the same users and
// repositories: sign-in nonces and login sessions (Sessions, a
// server.SessionStore), and per repository (Repo) its refs and ref logs
// (Refs, a refs.Backend) and its settings, collaborators, zk settings,
// push log and id lists (Meta, a repometa.Store); the proving queue
// (Jobs, a server.JobQueue), the counters replicas share
// (server.SharedState, on Refs) and, for objects in S3, the leases of
// in-flight pushes and the sweeps of collections (server.Leases, on
// Refs; leases.go). Hosting puts these
// together with object stores (DiskObjects: a directory shared by the
// replicas) into a server.Hosting. It is the only importer of the
// PostgreSQL driver (github.com/jackc/pgx/v5).
//
// Schema: numbered migrations compiled into the binary (migrate.go),
// applied in order by Migrate in one transaction under an advisory lock
// and recorded in the table fed_schema; a database at a newer version
// than this fed knows is refused, naming both versions. doc/design.md §20
// specifies every table and what each transaction does.
//
// Left to others: objects (an objects.Store, on disk or S3), what a
// request may do (package server), reading flags and environment (fed
// serve), and starting PostgreSQL (the operator; tests: internal/testpg).
//
// Invariants: a nonce is removed by the statement that reads it, so it is
// used at most once across every replica; tokens are stored only as
// their SHA-256; a push's ref updates are one transaction under the
// repository's row lock, each a compare-and-swap (UPDATE … WHERE value =
// old), all applied or none, and never while a sweep deletes objects
// (the sweep lock, held shared by ref updates and leases, exclusively by
// a sweep; a sweep bumps the collection counter before and after its
// deletions, so a push checked before them is refused); every other
// change that must be atomic is
// one transaction too. A statement is repeated only when the database
// closed its connection before running it (db.go: do, tx); any other
// failure to reach the database is returned wrapping
// objects.ErrUnavailable, and the server answers it 503 with Retry-After.
package pgstore
