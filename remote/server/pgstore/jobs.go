package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/fed-vcs/fed/remote/server"
	"github.com/jackc/pgx/v5"
)

// Jobs is a server.JobQueue in the table fed_prove_jobs: Add inserts, Take
// holds the oldest job no one holds by a transaction that keeps it locked
// (SELECT … FOR UPDATE SKIP LOCKED) while the job runs, and done deletes
// it and commits (finished) or rolls back (not finished). A replica that
// dies takes its connection with it: the database rolls the transaction
// back and the job is free for the next taker.
type Jobs struct {
	db *DB
}

var _ server.JobQueue = (*Jobs)(nil)

// Jobs returns the database's proving queue.
func (db *DB) Jobs() *Jobs { return &Jobs{db: db} }

// Add implements server.JobQueue.
func (q *Jobs) Add(ctx context.Context, jobs []server.ProveJob) error {
	repos := make([]string, len(jobs))
	commits := make([][]byte, len(jobs))
	for i, j := range jobs {
		repos[i] = j.Repo
		commits[i] = j.Commit[:]
	}
	_, err := q.db.exec(ctx, `INSERT INTO fed_prove_jobs (repo, commit)
		SELECT * FROM unnest($1::text[], $2::bytea[]) ON CONFLICT (repo, commit) DO NOTHING`, repos, commits)
	if err != nil {
		return failed(ctx, "queue proving jobs", err)
	}
	return nil
}

// Take implements server.JobQueue.
func (q *Jobs) Take(ctx context.Context) (server.ProveJob, func(bool) error, bool, error) {
	var job server.ProveJob
	var tx pgx.Tx
	var id int64
	err := q.db.do(ctx, func() error {
		var err error
		if tx, err = q.db.pool.Begin(ctx); err != nil {
			return err
		}
		var commit []byte
		err = tx.QueryRow(ctx, `SELECT id, repo, commit FROM fed_prove_jobs ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1`).Scan(&id, &job.Repo, &commit)
		if err == nil {
			job.Commit, err = idOf(commit)
		}
		if err != nil {
			_ = tx.Rollback(context.Background())
		}
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return server.ProveJob{}, nil, false, nil
	}
	if err != nil {
		return server.ProveJob{}, nil, false, failed(ctx, "take a proving job", err)
	}
	done := func(finished bool) error {
		// the job's own context may have ended: finish it regardless
		bg := context.Background()
		if !finished {
			return tx.Rollback(bg)
		}
		if _, err := tx.Exec(bg, `DELETE FROM fed_prove_jobs WHERE id = $1`, id); err != nil {
			_ = tx.Rollback(bg)
			return fmt.Errorf("pgstore: finish proving job %s of %s: %w", job.Commit.Short(), job.Repo, err)
		}
		if err := tx.Commit(bg); err != nil {
			return fmt.Errorf("pgstore: finish proving job %s of %s: %w", job.Commit.Short(), job.Repo, err)
		}
		return nil
	}
	return job, done, true, nil
}

// Len implements server.JobQueue.
func (q *Jobs) Len(ctx context.Context) (int, error) {
	var n int
	if err := q.db.queryRow(ctx, `SELECT count(*) FROM fed_prove_jobs`, nil, &n); err != nil {
		return 0, failed(ctx, "count proving jobs", err)
	}
	return n, nil
}
