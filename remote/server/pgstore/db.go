package pgstore

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

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
