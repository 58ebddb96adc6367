// Package testpg starts a real PostgreSQL server for tests: Debian's
// PostgreSQL binaries (/usr/lib/postgresql/<version>/bin, the newest
// version present), a cluster made by initdb in the test's temporary
// directory, served by pg_ctl on 127.0.0.1 on a free port with its unix
// socket in the temporary directory too.
//
// When the test runs as root, the cluster's files belong to the postgres
// user and its programs run as that user (PostgreSQL refuses to run as
// root). A started cluster stops when the test ends (t.Cleanup) and, if
// the test binary dies first, through a watchdog: a shell running as the
// cluster's user that waits for its stdin, a pipe from the test binary,
// to close, and then stops the cluster.
//
// Tests that need PostgreSQL skip only when its binaries are missing, and
// say so (.ci/run installs postgresql-15).
//
// Left to others: talking to the server (package remote/server/pgstore
// owns the driver; testpg only hands out connection URLs and runs the
// server's own tools), and the database's schema.
//
// Invariants: a cluster listens only on 127.0.0.1 and on its socket in
// the test's directory, trusts local connections as user postgres, never
// outlives the test process by more than the watchdog's stop, and runs
// with fsync off (tests trade durability against a power loss for speed;
// a stop or restart through pg_ctl loses nothing).
package testpg
