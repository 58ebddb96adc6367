package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// A migration takes the schema from Version-1 to Version. Migrations are
// never edited once released: a change is a new migration.
type migration struct {
	Version     int
	Description string
	SQL         string
}

// migrations lists every migration in order; doc/design.md §20 specifies
// the tables they make.
var migrations = []migration{
	{1, "sign-in nonces and login sessions", `
CREATE TABLE fed_nonces (
	nonce      text PRIMARY KEY,
	address    text NOT NULL,
	message    text NOT NULL,
	expires_at timestamptz NOT NULL
);
CREATE INDEX fed_nonces_expires ON fed_nonces (expires_at);
CREATE TABLE fed_sessions (
	token_sha256 bytea PRIMARY KEY CHECK (length(token_sha256) = 32),
	key          text NOT NULL,
	expires_at   timestamptz NOT NULL
);
CREATE INDEX fed_sessions_expires ON fed_sessions (expires_at);
`},
	{2, "repositories: settings, refs, ref logs, zk settings, push logs, id lists", `
CREATE TABLE fed_repos (
	id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name          text COLLATE "C" NOT NULL UNIQUE,
	owner         text NOT NULL,
	public        boolean NOT NULL,
	protected     text[] NOT NULL,
	collaborators text[] NOT NULL,
	nft           text NOT NULL,
	created_at    timestamptz NOT NULL,
	head          text COLLATE "C" NOT NULL
);
CREATE TABLE fed_refs (
	repo  bigint NOT NULL REFERENCES fed_repos (id) ON DELETE CASCADE,
	name  text COLLATE "C" NOT NULL,
	value bytea NOT NULL CHECK (length(value) = 32),
	PRIMARY KEY (repo, name)
);
CREATE TABLE fed_reflog (
	repo    bigint NOT NULL REFERENCES fed_repos (id) ON DELETE CASCADE,
	name    text COLLATE "C" NOT NULL,
	seq     bigint GENERATED ALWAYS AS IDENTITY,
	old     bytea NOT NULL CHECK (length(old) = 32),
	new     bytea NOT NULL CHECK (length(new) = 32),
	at      timestamptz NOT NULL,
	author  text NOT NULL,
	message text NOT NULL,
	PRIMARY KEY (repo, name, seq)
);
CREATE TABLE fed_zk (
	repo  bigint NOT NULL REFERENCES fed_repos (id) ON DELETE CASCADE,
	key   text COLLATE "C" NOT NULL,
	value text NOT NULL CHECK (value <> ''),
	PRIMARY KEY (repo, key)
);
CREATE TABLE fed_pushlog (
	repo  bigint NOT NULL REFERENCES fed_repos (id) ON DELETE CASCADE,
	seq   bigint GENERATED ALWAYS AS IDENTITY,
	entry bytea NOT NULL,
	PRIMARY KEY (repo, seq)
);
CREATE TABLE fed_ids (
	repo bigint NOT NULL REFERENCES fed_repos (id) ON DELETE CASCADE,
	list text NOT NULL CHECK (list IN ('withheld', 'private')),
	id   bytea NOT NULL CHECK (length(id) = 32),
	PRIMARY KEY (repo, list, id)
);
`},
	{3, "counters of collections and unpublishing updates shared by replicas", `
ALTER TABLE fed_repos
	ADD COLUMN collected   bigint NOT NULL DEFAULT 0,
	ADD COLUMN unpublished bigint NOT NULL DEFAULT 0;
`},
	{4, "the proving queue shared by replicas", `
CREATE TABLE fed_prove_jobs (
	id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	repo      text COLLATE "C" NOT NULL,
	commit    bytea NOT NULL CHECK (length(commit) = 32),
	queued_at timestamptz NOT NULL DEFAULT now(),
	UNIQUE (repo, commit)
);
`},
	{5, "leases of objects in-flight pushes rely on, and sweeps of objects in shared storage", `
ALTER TABLE fed_repos ADD COLUMN sweeping boolean NOT NULL DEFAULT false;
CREATE TABLE fed_leases (
	repo       bigint NOT NULL REFERENCES fed_repos (id) ON DELETE CASCADE,
	id         bytea NOT NULL CHECK (length(id) = 32),
	expires_at timestamptz NOT NULL,
	PRIMARY KEY (repo, id)
);
`},
}

// Latest is the schema version this fed writes and reads.
func Latest() int { return migrations[len(migrations)-1].Version }

// schemaLock is the key of the advisory lock migrations hold ("fed_sch").
const schemaLock int64 = 0x6665645f736368

const createSchemaTable = `CREATE TABLE IF NOT EXISTS fed_schema (
	version     integer PRIMARY KEY,
	description text NOT NULL,
	applied_at  timestamptz NOT NULL DEFAULT now()
)`

// Migrate brings the schema to Latest in one transaction under an
// advisory lock, so that replicas starting together apply each migration
// once; it returns the versions before and after. A database at a newer
// version than Latest is refused (ErrSchemaNewer) and left alone.
func (db *DB) Migrate(ctx context.Context) (from, to int, err error) {
	err = db.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, schemaLock); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, createSchemaTable); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM fed_schema`).Scan(&from); err != nil {
			return err
		}
		to = from
		if from > Latest() {
			return fmt.Errorf("%w: %s is at version %d, this fed knows up to %d; use a newer fed release", ErrSchemaNewer, db.where, from, Latest())
		}
		for _, m := range migrations[from:] {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return fmt.Errorf("migration %d (%s): %w", m.Version, m.Description, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO fed_schema (version, description) VALUES ($1, $2)`, m.Version, m.Description); err != nil {
				return fmt.Errorf("migration %d: %w", m.Version, err)
			}
			to = m.Version
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, ErrSchemaNewer) {
			return from, from, err
		}
		return from, from, fmt.Errorf("pgstore: migrate %s: %w", db.where, err)
	}
	return from, to, nil
}

// Version returns the database's schema version (0: none).
func (db *DB) Version(ctx context.Context) (int, error) {
	var v int
	err := db.queryRow(ctx, `SELECT coalesce(max(version), 0) FROM fed_schema`, nil, &v)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "42P01" { // undefined_table
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("pgstore: schema version of %s: %w", db.where, err)
	}
	return v, nil
}

// CheckSchema returns nil when the database is at Latest, and otherwise
// an error saying what to do.
func (db *DB) CheckSchema(ctx context.Context) error {
	v, err := db.Version(ctx)
	if err != nil {
		return err
	}
	switch {
	case v > Latest():
		return fmt.Errorf("%w: %s is at version %d, this fed knows up to %d; use a newer fed release", ErrSchemaNewer, db.where, v, Latest())
	case v < Latest():
		return fmt.Errorf("%w: %s is at version %d, this fed needs %d; run fed serve --migrate", ErrSchemaOlder, db.where, v, Latest())
	}
	return nil
}
