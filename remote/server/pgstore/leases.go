package pgstore

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/refs"
	"github.com/fed-vcs/fed/remote/server"
	"github.com/jackc/pgx/v5"
)

// Leases of objects and sweeps (doc/design.md §20, "Collecting objects in
// shared storage"): table fed_leases and column fed_repos.sweeping of
// migration 5, and the advisory lock sweepLock, which leasing and ref
// updates take shared (for one transaction) and a sweep exclusively (on
// its own connection).

var _ server.Leases = (*Refs)(nil)

// sweepLock is the advisory lock key of repository id's sweeps and
// leases: "fel" in the top bytes, the id below.
func sweepLock(id int64) int64 { return 0x66656c<<40 | id }

// Lease implements server.Leases: in one transaction holding the sweep
// lock shared, an INSERT of every id (sorted, without repeats, so that
// two leases of the same ids lock their rows in one order) that keeps
// the later expiry of a row already there.
func (s *Refs) Lease(ctx context.Context, ids []objects.ID, d time.Duration) error {
	if len(ids) == 0 {
		return nil
	}
	sorted := slices.Clone(ids)
	slices.SortFunc(sorted, func(a, b objects.ID) int { return bytes.Compare(a[:], b[:]) })
	sorted = slices.Compact(sorted)
	arr := make([][]byte, len(sorted))
	for i := range sorted {
		arr[i] = sorted[i][:]
	}
	err := s.r.db.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock_shared($1)`, sweepLock(s.r.id)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO fed_leases (repo, id, expires_at)
			SELECT $1, i, now() + make_interval(secs => $3) FROM unnest($2::bytea[]) AS i
			ON CONFLICT (repo, id) DO UPDATE SET expires_at = greatest(fed_leases.expires_at, excluded.expires_at)`,
			s.r.id, arr, d.Seconds())
		return err
	})
	if err != nil {
		return failed(ctx, fmt.Sprintf("lease %d objects of %s", len(sorted), s.r.name), err)
	}
	return nil
}

// Leased implements server.Leases: one SELECT.
func (s *Refs) Leased(ctx context.Context, ids []objects.ID) (map[objects.ID]bool, error) {
	arr := make([][]byte, len(ids))
	for i := range ids {
		arr[i] = ids[i][:]
	}
	out := map[objects.ID]bool{}
	var b []byte
	err := s.r.db.query(ctx, `SELECT id FROM fed_leases WHERE repo = $1 AND id = ANY($2::bytea[])`, []any{s.r.id, arr}, []any{&b}, func() error {
		id, err := idOf(b)
		out[id] = true
		return err
	})
	if err != nil {
		return nil, failed(ctx, "leases of "+s.r.name, err)
	}
	return out, nil
}

// Mark implements server.Leases: one UPDATE … RETURNING now().
func (s *Refs) Mark(ctx context.Context) (time.Time, error) {
	var at time.Time
	if err := s.r.db.queryRow(ctx, `UPDATE fed_repos SET collected = collected + 1 WHERE id = $1 RETURNING now()`, []any{s.r.id}, &at); err != nil {
		return time.Time{}, failed(ctx, "mark a collection of "+s.r.name, err)
	}
	return at.UTC(), nil
}

// Sweep implements server.Leases, on one connection of its own: the
// session lock (pg_advisory_lock, waiting for the leases and ref updates
// holding it shared), the UPDATE marking the sweep, the refs, the live
// leases among candidates, del, the UPDATE marking it done, the unlock.
func (s *Refs) Sweep(ctx context.Context, candidates []objects.ID, del func(ctx context.Context, current []refs.Ref, victims []objects.ID) error) (int, error) {
	op := "sweep objects of " + s.r.name
	conn, err := s.r.db.pool.Acquire(ctx)
	if err != nil {
		return 0, failed(ctx, op, err)
	}
	key := sweepLock(s.r.id)
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, key); err != nil {
		conn.Release()
		return 0, failed(ctx, op, err)
	}
	// The end runs even when ctx ended: a sweep left marked refuses the
	// next push (once), a lock left held would stop every push until the
	// connection closes.
	end, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	defer func() {
		if _, err := conn.Exec(end, `SELECT pg_advisory_unlock($1)`, key); err != nil {
			_ = conn.Conn().Close(end) // never back to the pool holding the lock
		}
		conn.Release()
	}()
	if _, err := conn.Exec(ctx, `UPDATE fed_repos SET collected = collected + 1, sweeping = true WHERE id = $1`, s.r.id); err != nil {
		return 0, failed(ctx, op, err)
	}
	spared, err := s.sweep(ctx, conn.Conn(), candidates, del)
	if _, derr := conn.Exec(end, `UPDATE fed_repos SET collected = collected + 1, sweeping = false WHERE id = $1`, s.r.id); derr != nil && err == nil {
		err = failed(end, op, derr)
	}
	return spared, err
}

// sweep is Sweep's middle: the refs, the leases, del.
func (s *Refs) sweep(ctx context.Context, conn *pgx.Conn, candidates []objects.ID, del func(ctx context.Context, current []refs.Ref, victims []objects.ID) error) (int, error) {
	op := "sweep objects of " + s.r.name
	rows, err := conn.Query(ctx, `SELECT name, value FROM fed_refs WHERE repo = $1 ORDER BY name`, s.r.id)
	if err != nil {
		return 0, failed(ctx, op, err)
	}
	var current []refs.Ref
	var name string
	var b []byte
	if _, err := pgx.ForEachRow(rows, []any{&name, &b}, func() error {
		id, err := idOf(b)
		current = append(current, refs.Ref{Name: refs.Name(name), ID: id})
		return err
	}); err != nil {
		return 0, failed(ctx, op, err)
	}
	arr := make([][]byte, len(candidates))
	for i := range candidates {
		arr[i] = candidates[i][:]
	}
	rows, err = conn.Query(ctx, `SELECT id FROM fed_leases WHERE repo = $1 AND id = ANY($2::bytea[]) AND expires_at > now()`, s.r.id, arr)
	if err != nil {
		return 0, failed(ctx, op, err)
	}
	live := map[objects.ID]bool{}
	if _, err := pgx.ForEachRow(rows, []any{&b}, func() error {
		id, err := idOf(b)
		live[id] = true
		return err
	}); err != nil {
		return 0, failed(ctx, op, err)
	}
	victims := make([]objects.ID, 0, len(candidates))
	for _, id := range candidates {
		if !live[id] {
			victims = append(victims, id)
		}
	}
	if len(victims) == 0 {
		return len(live), nil
	}
	return len(live), del(ctx, current, victims)
}

// Forget implements server.Leases: one DELETE.
func (s *Refs) Forget(ctx context.Context, age time.Duration) error {
	if _, err := s.r.db.exec(ctx, `DELETE FROM fed_leases WHERE repo = $1 AND expires_at < now() - make_interval(secs => $2)`, s.r.id, age.Seconds()); err != nil {
		return failed(ctx, "forget leases of "+s.r.name, err)
	}
	return nil
}
