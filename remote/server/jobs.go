package server

import (
	"context"
	"time"

	"github.com/fed-vcs/fed/objects"
)

// ProveJob is one commit of a repository to prove.
type ProveJob struct {
	Repo   string
	Commit objects.ID
}

// JobQueue keeps the proving jobs of servers that share their
// repositories (replicas on one database; Options.Jobs): any of them may
// take a job, and a job taken by a process that dies before it is done
// goes back to the queue for another. The default, without a JobQueue,
// is one process's queue in <root>/prove-queue.
type JobQueue interface {
	// Add queues jobs; a job queued and not done is not added again.
	Add(ctx context.Context, jobs []ProveJob) error
	// Take holds the oldest job no other taker holds; ok is false when
	// there is none. The job stays held until done is called: done(true)
	// removes it, done(false) puts it back for any taker. A taker that
	// dies holding a job releases it.
	Take(ctx context.Context) (job ProveJob, done func(finished bool) error, ok bool, err error)
	// Len returns how many jobs are queued, held ones included.
	Len(ctx context.Context) (int, error)
}

// jobPoll is how often RunProver asks a JobQueue for work when it has
// none: other processes add jobs without telling this one.
const jobPoll = 2 * time.Second

// addJobs queues the commits of a push in the shared queue.
func (s *Server) addJobs(repo string, commits []objects.ID, skip map[objects.ID]bool) {
	var jobs []ProveJob
	for _, id := range commits {
		if !skip[id] {
			jobs = append(jobs, ProveJob{Repo: repo, Commit: id})
		}
	}
	if len(jobs) == 0 {
		return
	}
	// the push is answered already: its request's context may be gone
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.opts.Jobs.Add(ctx, jobs); err != nil {
		s.opts.ErrorLog("prove: queue %d commits of %s: %v", len(jobs), repo, err)
		return
	}
	select {
	case s.prover.wake <- struct{}{}:
	default:
	}
}

// runJobs is RunProver over the shared queue.
func (s *Server) runJobs(ctx context.Context) {
	for ctx.Err() == nil {
		j, done, ok, err := s.opts.Jobs.Take(ctx)
		if err != nil && ctx.Err() == nil {
			s.opts.ErrorLog("prove: take a job: %v", err)
		}
		if !ok {
			t := time.NewTimer(jobPoll)
			select {
			case <-ctx.Done():
			case <-s.prover.wake:
			case <-t.C:
			}
			t.Stop()
			continue
		}
		s.proveJob(ctx, proveJob{repo: j.Repo, commit: j.Commit})
		// stopped in the middle: the job goes back for another process
		if err := done(ctx.Err() == nil); err != nil {
			s.opts.ErrorLog("prove %s of %s: %v", j.Commit.Short(), j.Repo, err)
		}
	}
}

// jobsLen is the shared queue's length for the metric (-1: unknown).
func (s *Server) jobsLen() int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	n, err := s.opts.Jobs.Len(ctx)
	if err != nil {
		return -1
	}
	return n
}
