package server

import (
	"context"
	"sync"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/refs"
	"github.com/fed-vcs/fed/remote"
)

// Background proving (Options.Prove, fed serve --prove): accepted pushes
// queue their new commits; one goroutine (RunProver) proves them one at a
// time, oldest first within a push. The queue is bounded and lives in
// memory: commits queued when the server stops are not proven (a later
// `fed prove` by anyone holding the weights covers them).

// proveJob is one commit to prove.
type proveJob struct {
	repo   string
	commit objects.ID
}

// prover is the queue of proving jobs.
type prover struct {
	mu     sync.Mutex
	queue  []proveJob
	queued map[proveJob]bool // in queue or running
	wake   chan struct{}     // signalled when a job is queued
}

// enqueueProofs queues the commits of a push for proving, skipping those
// whose weights are withheld (the server cannot prove them).
func (s *Server) enqueueProofs(repo string, commits, withheld []objects.ID) {
	if s.opts.Prove == nil || len(commits) == 0 {
		return
	}
	skip := make(map[objects.ID]bool, len(withheld))
	for _, id := range withheld {
		skip[id] = true
	}
	p := &s.prover
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, id := range commits {
		j := proveJob{repo, id}
		if skip[id] || p.queued[j] {
			continue
		}
		if len(p.queue) >= s.opts.ProveQueue {
			s.opts.ErrorLog("prove: queue full (%d jobs); not proving %s of %s", len(p.queue), id.Short(), repo)
			continue
		}
		p.queue = append(p.queue, j)
		p.queued[j] = true
	}
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// ProveQueueLen returns how many proving jobs wait or run.
func (s *Server) ProveQueueLen() int {
	s.prover.mu.Lock()
	defer s.prover.mu.Unlock()
	return len(s.prover.queued)
}

// RunProver proves queued commits with Options.Prove, one at a time,
// until ctx ends (Serve runs it; a caller of New that wants background
// proving runs it itself). A commit that got a proof meanwhile is
// skipped; errors go to ErrorLog.
func (s *Server) RunProver(ctx context.Context) {
	if s.opts.Prove == nil {
		return
	}
	p := &s.prover
	for {
		p.mu.Lock()
		var j proveJob
		ok := len(p.queue) > 0
		if ok {
			j = p.queue[0]
			p.queue = p.queue[1:]
		}
		p.mu.Unlock()
		if !ok {
			select {
			case <-ctx.Done():
				return
			case <-p.wake:
				continue
			}
		}
		s.proveJob(ctx, j)
		p.mu.Lock()
		delete(p.queued, j)
		p.mu.Unlock()
		if ctx.Err() != nil {
			return
		}
	}
}

func (s *Server) proveJob(ctx context.Context, j proveJob) {
	rp, err := s.open(j.repo, nil)
	if err != nil {
		s.opts.ErrorLog("prove %s of %s: %v", j.commit.Short(), j.repo, err)
		return
	}
	if _, err := rp.refs.Read(refs.Name(remote.ProofsPrefix + j.commit.String())); err == nil {
		return // proven meanwhile (pushed by someone)
	}
	if err := s.opts.Prove(ctx, j.repo, j.commit); err != nil && ctx.Err() == nil {
		s.opts.ErrorLog("prove %s of %s: %v", j.commit.Short(), j.repo, err)
	}
}
