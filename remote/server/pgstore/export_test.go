package pgstore

import (
	"context"

	"github.com/jackc/pgx/v5/pgconn"
)

// Migration is a migration, for tests.
type Migration = migration

// Migrations returns the migrations in order.
func Migrations() []Migration { return migrations }

// Exec runs a statement (tests that set up odd states).
func (db *DB) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	return db.pool.Exec(ctx, sql, args...)
}

// Rows returns every row of table as text (tests that look at what is
// stored).
func (db *DB) Rows(ctx context.Context, table string) ([]string, error) {
	rows, err := db.pool.Query(ctx, `SELECT t::text FROM `+table+` t`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// MaxConns is the pool's bound.
func (db *DB) MaxConns() int32 { return db.pool.Config().MaxConns }
