package pgstore

import (
	"context"
	"errors"
	"fmt"
	"maps"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/repometa"
	"github.com/jackc/pgx/v5"
)

// Meta is a repository's repometa.Store in the tables fed_repos (the
// settings), fed_zk, fed_pushlog and fed_ids (doc/design.md §20).
type Meta struct {
	r *Repo
}

var _ repometa.Store = (*Meta)(nil)

const settingsColumns = `owner, public, protected, collaborators, nft, created_at`

func scanSettings(row pgx.Row) (repometa.Settings, error) {
	var s repometa.Settings
	err := row.Scan(&s.Owner, &s.Public, &s.Protected, &s.Collaborators, &s.NFT, &s.Created)
	s.Created = s.Created.UTC()
	s.Normalize()
	return s, err
}

func (m *Meta) notFound(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("pgstore: %w: %s", repometa.ErrNotFound, m.r.name)
	}
	return err
}

// Settings implements repometa.Store.
func (m *Meta) Settings(ctx context.Context) (repometa.Settings, error) {
	if err := ctx.Err(); err != nil {
		return repometa.Settings{}, fmt.Errorf("settings of %s: %w", m.r.name, err)
	}
	var s repometa.Settings
	err := m.r.db.do(ctx, func() (err error) {
		s, err = scanSettings(m.r.db.pool.QueryRow(ctx, `SELECT `+settingsColumns+` FROM fed_repos WHERE id = $1`, m.r.id))
		return err
	})
	if err != nil {
		return repometa.Settings{}, failed(ctx, "settings of "+m.r.name, m.notFound(err))
	}
	return s, nil
}

// UpdateSettings implements repometa.Store: one transaction reads the
// settings FOR UPDATE (so changes at any replica apply one after the
// other), calls change once, and writes what it leaves.
func (m *Meta) UpdateSettings(ctx context.Context, change func(*repometa.Settings) error) (repometa.Settings, error) {
	if err := ctx.Err(); err != nil {
		return repometa.Settings{}, fmt.Errorf("update settings of %s: %w", m.r.name, err)
	}
	var out repometa.Settings
	var refused error
	err := m.r.db.tx(ctx, func(tx pgx.Tx) error {
		s, err := scanSettings(tx.QueryRow(ctx, `SELECT `+settingsColumns+` FROM fed_repos WHERE id = $1 FOR UPDATE`, m.r.id))
		if err != nil {
			return m.notFound(err)
		}
		if refused = change(&s); refused != nil {
			return refused
		}
		s.Normalize()
		if _, err := tx.Exec(ctx, `UPDATE fed_repos SET owner = $2, public = $3, protected = $4, collaborators = $5, nft = $6, created_at = $7 WHERE id = $1`,
			m.r.id, s.Owner, s.Public, s.Protected, s.Collaborators, s.NFT, s.Created); err != nil {
			return err
		}
		out = s.Clone()
		return nil
	})
	if refused != nil {
		return repometa.Settings{}, refused
	}
	if err != nil {
		return repometa.Settings{}, failed(ctx, "update settings of "+m.r.name, err)
	}
	return out, nil
}

func (m *Meta) readZK(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}) (map[string]string, error) {
	rows, err := q.Query(ctx, `SELECT key, value FROM fed_zk WHERE repo = $1`, m.r.id)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	var k, v string
	_, err = pgx.ForEachRow(rows, []any{&k, &v}, func() error { out[k] = v; return nil })
	return out, err
}

// ZK implements repometa.Store.
func (m *Meta) ZK(ctx context.Context) (map[string]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("zk settings of %s: %w", m.r.name, err)
	}
	var out map[string]string
	err := m.r.db.do(ctx, func() (err error) {
		out, err = m.readZK(ctx, m.r.db.pool)
		return err
	})
	if err != nil {
		return nil, failed(ctx, "zk settings of "+m.r.name, err)
	}
	return out, nil
}

// UpdateZK implements repometa.Store: under the repository's row lock,
// read, merge, check, write.
func (m *Meta) UpdateZK(ctx context.Context, set map[string]string, check func(map[string]string) error) (map[string]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("update zk settings of %s: %w", m.r.name, err)
	}
	var out map[string]string
	var refused error
	err := m.r.db.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT 1 FROM fed_repos WHERE id = $1 FOR UPDATE`, m.r.id); err != nil {
			return err
		}
		cur, err := m.readZK(ctx, tx)
		if err != nil {
			return err
		}
		next := maps.Clone(cur)
		for k, v := range set {
			if v == "" {
				delete(next, k)
			} else {
				next[k] = v
			}
		}
		if check != nil {
			if refused = check(maps.Clone(next)); refused != nil {
				return refused
			}
		}
		for k := range cur {
			if _, ok := next[k]; !ok {
				if _, err := tx.Exec(ctx, `DELETE FROM fed_zk WHERE repo = $1 AND key = $2`, m.r.id, k); err != nil {
					return err
				}
			}
		}
		for k, v := range next {
			if cur[k] == v {
				continue
			}
			if _, err := tx.Exec(ctx, `INSERT INTO fed_zk (repo, key, value) VALUES ($1, $2, $3)
				ON CONFLICT (repo, key) DO UPDATE SET value = EXCLUDED.value`, m.r.id, k, v); err != nil {
				return err
			}
		}
		out = next
		return nil
	})
	if refused != nil {
		return nil, refused
	}
	if err != nil {
		return nil, failed(ctx, "update zk settings of "+m.r.name, err)
	}
	return out, nil
}

// AppendPushLog implements repometa.Store (committed, so durable, before
// it returns).
func (m *Meta) AppendPushLog(ctx context.Context, entry []byte) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("append to the push log of %s: %w", m.r.name, err)
	}
	if _, err := m.r.db.exec(ctx, `INSERT INTO fed_pushlog (repo, entry) VALUES ($1, $2)`, m.r.id, entry); err != nil {
		return failed(ctx, "append to the push log of "+m.r.name, err)
	}
	return nil
}

// PushLog implements repometa.Store.
func (m *Meta) PushLog(ctx context.Context) ([][]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("push log of %s: %w", m.r.name, err)
	}
	var out [][]byte
	var e []byte
	err := m.r.db.query(ctx, `SELECT entry FROM fed_pushlog WHERE repo = $1 ORDER BY seq`, []any{m.r.id}, []any{&e}, func() error {
		out = append(out, e)
		return nil
	})
	if err != nil {
		return nil, failed(ctx, "push log of "+m.r.name, err)
	}
	return out, nil
}

func checkList(l repometa.IDList) error {
	if l != repometa.Withheld && l != repometa.Private {
		return fmt.Errorf("pgstore: no id list %q (want %s or %s)", l, repometa.Withheld, repometa.Private)
	}
	return nil
}

// AddIDs implements repometa.Store.
func (m *Meta) AddIDs(ctx context.Context, list repometa.IDList, ids []objects.ID) error {
	if err := checkList(list); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("add to the %s list of %s: %w", list, m.r.name, err)
	}
	bs := make([][]byte, len(ids))
	for i := range ids {
		bs[i] = ids[i][:]
	}
	if _, err := m.r.db.exec(ctx, `INSERT INTO fed_ids (repo, list, id) SELECT $1, $2, unnest($3::bytea[]) ON CONFLICT DO NOTHING`, m.r.id, string(list), bs); err != nil {
		return failed(ctx, fmt.Sprintf("add to the %s list of %s", list, m.r.name), err)
	}
	return nil
}

// IDs implements repometa.Store.
func (m *Meta) IDs(ctx context.Context, list repometa.IDList) (map[objects.ID]bool, error) {
	if err := checkList(list); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s list of %s: %w", list, m.r.name, err)
	}
	out := map[objects.ID]bool{}
	var b []byte
	err := m.r.db.query(ctx, `SELECT id FROM fed_ids WHERE repo = $1 AND list = $2`, []any{m.r.id, string(list)}, []any{&b}, func() error {
		id, err := idOf(b)
		out[id] = true
		return err
	})
	if err != nil {
		return nil, failed(ctx, fmt.Sprintf("%s list of %s", list, m.r.name), err)
	}
	return out, nil
}
