package pgstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/refs"
	"github.com/fed-vcs/fed/remote/server"
	"github.com/jackc/pgx/v5"
)

// Refs is a repository's refs.Backend in the tables fed_refs and
// fed_reflog (doc/design.md §20). An Apply is one transaction that locks
// the repository's row, so that Applies of one repository (at any
// replica) run one after the other, checks every compare, then writes
// with UPDATE … WHERE value = old; listings see every Apply whole or not
// at all.
type Refs struct {
	r *Repo
}

var (
	_ refs.Backend       = (*Refs)(nil)
	_ server.SharedState = (*Refs)(nil)
)

// Generations implements server.SharedState: the repository's counters.
func (s *Refs) Generations(ctx context.Context) (collected, unpublished uint64, err error) {
	var c, u int64
	if err := s.r.db.queryRow(ctx, `SELECT collected, unpublished FROM fed_repos WHERE id = $1`, []any{s.r.id}, &c, &u); err != nil {
		return 0, 0, failed(ctx, "counters of "+s.r.name, err)
	}
	return uint64(c), uint64(u), nil
}

// collectLock is the advisory lock key of repository id's collection:
// "fed" in the top bytes, the id below.
func collectLock(id int64) int64 { return 0x666564<<40 | id }

// Collecting implements server.SharedState: a session advisory lock on a
// connection held until release (pg_try_advisory_lock); a replica that
// dies closes the connection and the lock goes with it.
func (s *Refs) Collecting(ctx context.Context) (func(), bool, error) {
	conn, err := s.r.db.pool.Acquire(ctx)
	if err != nil {
		return nil, false, failed(ctx, "collection lock of "+s.r.name, err)
	}
	key := collectLock(s.r.id)
	var ok bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&ok); err != nil {
		conn.Release()
		return nil, false, failed(ctx, "collection lock of "+s.r.name, err)
	}
	if !ok {
		conn.Release()
		return nil, false, nil
	}
	release := func() {
		if _, err := conn.Exec(context.Background(), `SELECT pg_advisory_unlock($1)`, key); err != nil {
			// a connection that cannot unlock must not go back to the pool
			// holding the lock
			_ = conn.Conn().Close(context.Background())
		}
		conn.Release()
	}
	return release, true, nil
}

// Bump implements server.SharedState: one UPDATE.
func (s *Refs) Bump(ctx context.Context, collected, unpublished bool) error {
	c, u := 0, 0
	if collected {
		c = 1
	}
	if unpublished {
		u = 1
	}
	if _, err := s.r.db.exec(ctx, `UPDATE fed_repos SET collected = collected + $2, unpublished = unpublished + $3 WHERE id = $1`, s.r.id, c, u); err != nil {
		return failed(ctx, "counters of "+s.r.name, err)
	}
	return nil
}

func idOf(b []byte) (objects.ID, error) {
	var id objects.ID
	if len(b) != len(id) {
		return id, fmt.Errorf("pgstore: stored id of %d bytes", len(b))
	}
	copy(id[:], b)
	return id, nil
}

// Read implements refs.Backend.
func (s *Refs) Read(ctx context.Context, name refs.Name) (objects.ID, error) {
	if err := refs.ValidateName(string(name)); err != nil {
		return objects.ZeroID, fmt.Errorf("read ref: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return objects.ZeroID, fmt.Errorf("read ref %s: %w", name, err)
	}
	var b []byte
	err := s.r.db.queryRow(ctx, `SELECT value FROM fed_refs WHERE repo = $1 AND name = $2`, []any{s.r.id, string(name)}, &b)
	if errors.Is(err, pgx.ErrNoRows) {
		return objects.ZeroID, fmt.Errorf("read ref %s of %s: %w", name, s.r.name, refs.ErrNotFound)
	}
	if err != nil {
		return objects.ZeroID, failed(ctx, fmt.Sprintf("read ref %s of %s", name, s.r.name), err)
	}
	return idOf(b)
}

// Head implements refs.Backend: HEAD is symbolic, naming the repository's
// head column.
func (s *Refs) Head(ctx context.Context) (refs.Head, error) {
	if err := ctx.Err(); err != nil {
		return refs.Head{}, fmt.Errorf("read HEAD: %w", err)
	}
	var head string
	var b []byte
	err := s.r.db.queryRow(ctx, `SELECT r.head, f.value FROM fed_repos r
		LEFT JOIN fed_refs f ON f.repo = r.id AND f.name = r.head WHERE r.id = $1`, []any{s.r.id}, &head, &b)
	if err != nil {
		return refs.Head{}, failed(ctx, "read HEAD of "+s.r.name, err)
	}
	h := refs.Head{Symbolic: refs.Name(head)}
	if b != nil {
		if h.ID, err = idOf(b); err != nil {
			return refs.Head{}, err
		}
	}
	return h, nil
}

// List implements refs.Backend: one statement, so one snapshot.
func (s *Refs) List(ctx context.Context, prefix string) ([]refs.Ref, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list refs %q: %w", prefix, err)
	}
	var out []refs.Ref
	var name string
	var b []byte
	err := s.r.db.query(ctx, `SELECT name, value FROM fed_refs WHERE repo = $1 AND starts_with(name, $2) ORDER BY name`, []any{s.r.id, prefix}, []any{&name, &b}, func() error {
		id, err := idOf(b)
		out = append(out, refs.Ref{Name: refs.Name(name), ID: id})
		return err
	})
	if err != nil {
		return nil, failed(ctx, "list refs of "+s.r.name, err)
	}
	return out, nil
}

// Reflog implements refs.Backend.
func (s *Refs) Reflog(ctx context.Context, name refs.Name) ([]refs.LogEntry, error) {
	if err := refs.ValidateName(string(name)); err != nil {
		return nil, fmt.Errorf("read reflog: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("read reflog %s: %w", name, err)
	}
	var out []refs.LogEntry
	var old, new []byte
	var e refs.LogEntry
	err := s.r.db.query(ctx, `SELECT old, new, at, author, message FROM fed_reflog WHERE repo = $1 AND name = $2 ORDER BY seq`, []any{s.r.id, string(name)}, []any{&old, &new, &e.Time, &e.Author, &e.Message}, func() error {
		var err1, err2 error
		e.Old, err1 = idOf(old)
		e.New, err2 = idOf(new)
		e.Time = e.Time.UTC()
		out = append(out, e)
		return errors.Join(err1, err2)
	})
	if err != nil {
		return nil, failed(ctx, fmt.Sprintf("read reflog %s of %s", name, s.r.name), err)
	}
	return out, nil
}

// Apply implements refs.Backend. In one transaction: lock the
// repository's row and read the current values of the updated refs (one
// SELECT … FOR UPDATE OF r), check each compare in the order given (a
// *refs.StaleError for the first that fails) and the name conflicts
// against the other refs, then, in one batch, delete (with their
// reflogs), UPDATE … WHERE value = old, or INSERT each ref and append
// one reflog row per changed ref. Four round trips: BEGIN, the SELECT,
// the batch, COMMIT (and the conflict check when refs are created).
func (s *Refs) Apply(ctx context.Context, updates []refs.Update, msg refs.Entry) error {
	return s.apply(ctx, updates, msg, nil)
}

// ApplyCollected implements server.SharedState: Apply, refused (wrapping
// objects.ErrUnavailable, nothing changed) when the repository's
// collected counter, read under its row lock, is no longer collected.
func (s *Refs) ApplyCollected(ctx context.Context, collected uint64, updates []refs.Update, msg refs.Entry) error {
	return s.apply(ctx, updates, msg, &collected)
}

func (s *Refs) apply(ctx context.Context, updates []refs.Update, msg refs.Entry, collected *uint64) error {
	what := describe(updates)
	seen := make(map[refs.Name]bool, len(updates))
	for _, u := range updates {
		if err := refs.ValidateName(string(u.Name)); err != nil {
			return fmt.Errorf("update refs %s: %w", what, err)
		}
		if !strings.HasPrefix(string(u.Name), "refs/") {
			return fmt.Errorf("update refs %s: %w %q: only refs under refs/ are updated here", what, refs.ErrBadName, u.Name)
		}
		if seen[u.Name] {
			return fmt.Errorf("update refs %s: %s is updated twice", what, u.Name)
		}
		seen[u.Name] = true
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("update refs %s: %w", what, err)
	}
	at := msg.Time
	if at.IsZero() {
		at = time.Now()
	}
	at = at.UTC().Truncate(time.Second)
	op := fmt.Sprintf("update refs %s of %s", what, s.r.name)
	var refused error  // a lost compare or a conflict: rolled back, returned as is
	var abandoned bool // a sweep left half done: cleared and committed, the updates refused
	err := s.r.db.tx(ctx, func(tx pgx.Tx) error {
		abandoned = false
		names := make([]string, len(updates))
		for i, u := range updates {
			names[i] = string(u.Name)
		}
		// No ref moves while a sweep deletes objects (leases.go): the
		// sweep holds this lock exclusively. Taken before the row lock,
		// which a sweep takes while holding it.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock_shared($1)`, sweepLock(s.r.id)); err != nil {
			return err
		}
		// The repository's row lock and the current values, in one round
		// trip (a row with a NULL name when none of the refs exists).
		cur := map[refs.Name]objects.ID{}
		rows, err := tx.Query(ctx, `SELECT r.collected, r.sweeping, f.name, f.value FROM fed_repos r
			LEFT JOIN fed_refs f ON f.repo = r.id AND f.name = ANY($2)
			WHERE r.id = $1 FOR UPDATE OF r`, s.r.id, names)
		if err != nil {
			return err
		}
		var gen int64
		var sweeping bool
		var name *string
		var b []byte
		if _, err := pgx.ForEachRow(rows, []any{&gen, &sweeping, &name, &b}, func() error {
			if name == nil {
				return nil
			}
			id, err := idOf(b)
			cur[refs.Name(*name)] = id
			return err
		}); err != nil {
			return err
		}
		if collected != nil && sweeping {
			// Under the sweep lock, so the replica that set it died in
			// the middle of a sweep: what this push checked may be gone.
			// Say so to every replica (collected) and refuse; the retry
			// checks anew.
			if _, err := tx.Exec(ctx, `UPDATE fed_repos SET sweeping = false, collected = collected + 1 WHERE id = $1`, s.r.id); err != nil {
				return err
			}
			abandoned = true
			return nil
		}
		if collected != nil && uint64(gen) != *collected {
			refused = fmt.Errorf("%w: repository %s was collected since the push was checked; retry", objects.ErrUnavailable, s.r.name)
			return refused
		}
		for _, u := range updates {
			if got := cur[u.Name]; !u.Force && got != u.Old {
				refused = &refs.StaleError{Name: u.Name, Want: u.Old, Got: got}
				return refused
			}
		}
		if refused, err = s.conflicts(ctx, tx, updates, cur); refused != nil || err != nil {
			return errors.Join(refused, err)
		}
		// Every write in one round trip; each UPDATE must change its row.
		batch := &pgx.Batch{}
		var casOf []refs.Name // the ref of each queued statement whose row count is checked ("" : not checked)
		for _, u := range updates {
			old := cur[u.Name]
			switch {
			case u.New == old:
				continue
			case u.New.IsZero():
				batch.Queue(`DELETE FROM fed_refs WHERE repo = $1 AND name = $2 AND value = $3`, s.r.id, string(u.Name), old[:])
				batch.Queue(`DELETE FROM fed_reflog WHERE repo = $1 AND name = $2`, s.r.id, string(u.Name))
				casOf = append(casOf, u.Name, "")
				continue
			case old.IsZero():
				batch.Queue(`INSERT INTO fed_refs (repo, name, value) VALUES ($1, $2, $3)`, s.r.id, string(u.Name), u.New[:])
			default:
				batch.Queue(`UPDATE fed_refs SET value = $4 WHERE repo = $1 AND name = $2 AND value = $3`, s.r.id, string(u.Name), old[:], u.New[:])
			}
			batch.Queue(`INSERT INTO fed_reflog (repo, name, old, new, at, author, message) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
				s.r.id, string(u.Name), old[:], u.New[:], at, msg.Author, msg.Message)
			casOf = append(casOf, u.Name, "")
		}
		if batch.Len() == 0 {
			return nil
		}
		br := tx.SendBatch(ctx, batch)
		for _, n := range casOf {
			t, err := br.Exec()
			if err != nil {
				br.Close()
				return err
			}
			if n != "" && t.RowsAffected() != 1 { // cannot happen under the row lock; never write blindly
				br.Close()
				refused = &refs.StaleError{Name: n, Want: cur[n]}
				return refused
			}
		}
		if err := br.Close(); err != nil {
			return err
		}
		return nil
	})
	if refused != nil {
		return fmt.Errorf("update refs of %s: %w", s.r.name, refused)
	}
	if err != nil {
		return failed(ctx, op, err)
	}
	if abandoned {
		return fmt.Errorf("update refs of %s: %w: a collection stopped half-way; retry", s.r.name, objects.ErrUnavailable)
	}
	return nil
}

// conflicts returns an error wrapping refs.ErrConflict when a ref the
// updates create would be a directory prefix of another ref, or have one,
// counting the refs as they will be after the updates.
func (s *Refs) conflicts(ctx context.Context, tx pgx.Tx, updates []refs.Update, cur map[refs.Name]objects.ID) (conflict, err error) {
	deleted := map[string]bool{}
	var created []string
	for _, u := range updates {
		switch {
		case u.New.IsZero():
			deleted[string(u.Name)] = true
		case cur[u.Name].IsZero():
			created = append(created, string(u.Name))
		}
	}
	for i, a := range created {
		for _, b := range created[i+1:] {
			if strings.HasPrefix(a, b+"/") || strings.HasPrefix(b, a+"/") {
				return fmt.Errorf("create ref %s: %w %s", a, refs.ErrConflict, b), nil
			}
		}
	}
	if len(created) == 0 {
		return nil, nil
	}
	rows, err := tx.Query(ctx, `SELECT c, f.name FROM unnest($2::text[]) AS c
		JOIN fed_refs f ON f.repo = $1 AND (starts_with(f.name, c || '/') OR starts_with(c, f.name || '/'))`, s.r.id, created)
	if err != nil {
		return nil, err
	}
	var c, other string
	var found error
	if _, err := pgx.ForEachRow(rows, []any{&c, &other}, func() error {
		if found == nil && !deleted[other] {
			found = fmt.Errorf("create ref %s: %w %s", c, refs.ErrConflict, other)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	return found, nil
}

func describe(updates []refs.Update) string {
	names := make([]string, len(updates))
	for i, u := range updates {
		names[i] = string(u.Name)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}
