package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/fed-vcs/fed/refs"
	"github.com/fed-vcs/fed/repometa"
	"github.com/jackc/pgx/v5"
)

// Repo is one hosted repository's rows: its refs (Refs) and its records
// (Meta). It holds no connection of its own.
type Repo struct {
	db   *DB
	id   int64
	name string
}

// Name is the repository's name.
func (r *Repo) Name() string { return r.name }

// Refs returns the repository's ref store.
func (r *Repo) Refs() refs.Backend { return &Refs{r: r} }

// Meta returns the repository's settings, zk settings, push log and id
// lists.
func (r *Repo) Meta() repometa.Store { return &Meta{r: r} }

// CreateRepo creates repository name with settings s (normalised), HEAD
// naming refs/heads/main and no refs, in one statement; when it exists
// already (another replica created it meanwhile) it returns that one,
// unchanged, and created false.
func (db *DB) CreateRepo(ctx context.Context, name string, s repometa.Settings) (r *Repo, created bool, err error) {
	s = s.Clone()
	s.Normalize()
	var id int64
	err = db.queryRow(ctx, `INSERT INTO fed_repos (name, owner, public, protected, collaborators, nft, created_at, head)
		VALUES ($1, $2, $3, $4, $5, $6, $7, 'refs/heads/main') ON CONFLICT (name) DO NOTHING RETURNING id`,
		[]any{name, s.Owner, s.Public, s.Protected, s.Collaborators, s.NFT, s.Created}, &id)
	if errors.Is(err, pgx.ErrNoRows) {
		r, err := db.OpenRepo(ctx, name)
		return r, false, err
	}
	if err != nil {
		return nil, false, failed(ctx, "create repository "+name, err)
	}
	return &Repo{db: db, id: id, name: name}, true, nil
}

// OpenRepo returns repository name, or an error wrapping
// repometa.ErrNotFound.
func (db *DB) OpenRepo(ctx context.Context, name string) (*Repo, error) {
	var id int64
	err := db.queryRow(ctx, `SELECT id FROM fed_repos WHERE name = $1`, []any{name}, &id)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("pgstore: %w: %s", repometa.ErrNotFound, name)
	}
	if err != nil {
		return nil, failed(ctx, "open repository "+name, err)
	}
	return &Repo{db: db, id: id, name: name}, nil
}

// RepoNames lists the repositories, sorted.
func (db *DB) RepoNames(ctx context.Context) ([]string, error) {
	var names []string
	var name string
	err := db.query(ctx, `SELECT name FROM fed_repos ORDER BY name`, nil, []any{&name}, func() error {
		names = append(names, name)
		return nil
	})
	if err != nil {
		return nil, failed(ctx, "list repositories", err)
	}
	return names, nil
}
