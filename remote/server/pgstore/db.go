package pgstore

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultMaxConns is how many connections a DB opens at most, unless the
// URL says otherwise (pool_max_conns=N).
const DefaultMaxConns = 20

// DB is an open fed database: a pool of connections to one PostgreSQL
// database. It is safe for concurrent use.
type DB struct {
	pool *pgxpool.Pool
	// where names the database in errors, without a password.
	where string
}

// Open returns a pool on the database of url (postgres://…; pgx's
// parameters such as pool_max_conns apply). It does not connect yet, and
// it neither reads nor changes the schema: call Migrate.
func Open(ctx context.Context, rawURL string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(rawURL)
	if err != nil {
		return nil, fmt.Errorf("pgstore: database URL %s: %w", redact(rawURL), err)
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	// pgx's default is the number of CPUs (at least 4): too few for a
	// server whose prover and collector each hold a connection while
	// requests need theirs.
	if !strings.Contains(rawURL, "pool_max_conns") {
		cfg.MaxConns = DefaultMaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgstore: %s: %w", redact(rawURL), err)
	}
	return &DB{pool: pool, where: redact(rawURL)}, nil
}

// Close closes every connection.
func (db *DB) Close() { db.pool.Close() }

// String names the database (host, port and database; never a password).
func (db *DB) String() string { return db.where }

// Ping checks that the database answers (for /readyz).
func (db *DB) Ping(ctx context.Context) error {
	if err := db.pool.Ping(ctx); err != nil {
		return fmt.Errorf("pgstore: %s: %w", db.where, err)
	}
	return nil
}

// redact returns the URL without its password, for messages and logs.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return "(unparsable database URL)"
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// ErrSchemaNewer reports a database whose schema a newer fed wrote.
var ErrSchemaNewer = errors.New("pgstore: database schema is newer than this fed")

// ErrSchemaOlder reports a database whose schema needs migrations this
// fed has (fed serve --migrate).
var ErrSchemaOlder = errors.New("pgstore: database schema is older than this fed")

// do runs f, a read or a single statement, and runs it once more on new
// connections when it failed because its connection was lost before the
// statement ran: a restarted server leaves the pool's idle connections
// dead, and each fails its first use.
func (db *DB) do(ctx context.Context, f func() error) error {
	err := f()
	if err == nil || ctx.Err() != nil || !lostBeforeRun(err) {
		return err
	}
	db.pool.Reset()
	return f()
}

// tx runs fn in a transaction and commits it. When the transaction fails
// because the database became unavailable before the commit was sent,
// nothing was committed, and it runs fn once more on new connections; fn
// must be safe to run again. A failed commit is not retried: whether it
// took effect is unknown.
func (db *DB) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	attempt := func() error {
		tx, err := db.pool.Begin(ctx)
		if err != nil {
			return err
		}
		if err := fn(tx); err != nil {
			_ = tx.Rollback(ctx)
			return err
		}
		if err := tx.Commit(ctx); err != nil {
			return &commitError{err}
		}
		return nil
	}
	err := attempt()
	var ce *commitError
	if err == nil || ctx.Err() != nil || errors.As(err, &ce) || !unavailable(err) {
		return err
	}
	db.pool.Reset()
	return attempt()
}

// commitError is a failed COMMIT.
type commitError struct{ err error }

func (e *commitError) Error() string { return "commit: " + e.err.Error() }
func (e *commitError) Unwrap() error { return e.err }

// lostBeforeRun reports whether err says the connection was lost before a
// statement ran: nothing was sent, or the server ended the session
// (administrator command, crash shutdown, starting up) instead of
// running it.
func lostBeforeRun(err error) bool {
	if pgconn.SafeToRetry(err) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "57P01", "57P02", "57P03":
			return true
		}
	}
	return false
}

// exec runs one statement (do).
func (db *DB) exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	var tag pgconn.CommandTag
	err := db.do(ctx, func() (err error) {
		tag, err = db.pool.Exec(ctx, sql, args...)
		return err
	})
	return tag, err
}

// queryRow runs a query of one row into dest (do).
func (db *DB) queryRow(ctx context.Context, sql string, args []any, dest ...any) error {
	return db.do(ctx, func() error { return db.pool.QueryRow(ctx, sql, args...).Scan(dest...) })
}

// query runs a query and calls each after scanning each row into dest; it
// is run again (do) only when it failed before the first row.
func (db *DB) query(ctx context.Context, sql string, args []any, dest []any, each func() error) error {
	rowsSeen := false
	return db.do(ctx, func() error {
		if rowsSeen {
			return errAgain
		}
		rows, err := db.pool.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		_, err = pgx.ForEachRow(rows, dest, func() error {
			rowsSeen = true
			return each()
		})
		return err
	})
}

// errAgain stops a retry of a query that had returned rows already.
var errAgain = errors.New("pgstore: connection lost in the middle of a query")
