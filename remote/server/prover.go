package server

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/fed-vcs/fed/internal/fsys"
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/refs"
	"github.com/fed-vcs/fed/remote"
)

// Background proving (Repository.Prove, fed serve --prove): accepted pushes
// queue their new commits; one goroutine (RunProver) proves them one at a
// time, oldest first within a push. The queue is bounded and kept in
// <root>/prove-queue (every change rewrites it atomically): jobs queued or
// running when the server stops are proven after it restarts.

// proveJob is one commit to prove.
type proveJob struct {
	repo   string
	commit objects.ID
}

// prover is the queue of proving jobs.
type prover struct {
	mu      sync.Mutex
	queue   []proveJob
	running *proveJob
	queued  map[proveJob]bool // in queue or running
	wake    chan struct{}     // signalled when a job is queued
}

// proveQueueFile holds the jobs of a server root, one per line:
// "<commit id, 64 hex digits> <repository name>\n", the running job first.
const proveQueueFile = "prove-queue"

// saveQueueLocked rewrites the queue file (temporary file, fsync,
// rename); p.mu is held. Errors go to ErrorLog: the queue in memory stays
// right, only a restart would lose jobs.
func (s *Server) saveQueueLocked() {
	p := &s.prover
	var b bytes.Buffer
	jobs := p.queue
	if p.running != nil {
		jobs = append([]proveJob{*p.running}, jobs...)
	}
	for _, j := range jobs {
		fmt.Fprintf(&b, "%s %s\n", j.commit, j.repo)
	}
	path := filepath.Join(s.opts.Root, proveQueueFile)
	if err := fsys.WriteFile(path, 0o600, b.Bytes()); err != nil {
		s.opts.ErrorLog("prove: save queue: %v", err)
	}
}

// loadQueue queues the jobs a previous run left in the queue file.
func (s *Server) loadQueue() error {
	path := filepath.Join(s.opts.Root, proveQueueFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("server: prove queue: %w", err)
	}
	byRepo := map[string][]objects.ID{}
	var order []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		id, name, ok := strings.Cut(sc.Text(), " ")
		cid, err := objects.ParseID(id)
		if !ok || err != nil || remote.ValidateRepoName(name) != nil {
			s.opts.ErrorLog("prove: %s line %d: not \"<commit> <repository>\": skipped", path, n)
			continue
		}
		if _, seen := byRepo[name]; !seen {
			order = append(order, name)
		}
		byRepo[name] = append(byRepo[name], cid)
	}
	for _, name := range order {
		s.enqueueProofs(name, byRepo[name], nil)
	}
	return nil
}

// enqueueProofs queues the commits of a push for proving, skipping those
// whose weights are withheld (the server cannot prove them).
func (s *Server) enqueueProofs(repo string, commits, withheld []objects.ID) {
	if !s.features.Prove || len(commits) == 0 {
		return
	}
	skip := make(map[objects.ID]bool, len(withheld))
	for _, id := range withheld {
		skip[id] = true
	}
	if s.opts.Jobs != nil {
		s.addJobs(repo, commits, skip)
		return
	}
	p := &s.prover
	p.mu.Lock()
	defer p.mu.Unlock()
	added := false
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
		added = true
	}
	if !added {
		return
	}
	s.saveQueueLocked()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// ProveQueueLen returns how many proving jobs wait or run.
func (s *Server) ProveQueueLen() int {
	if s.opts.Jobs != nil {
		return s.jobsLen()
	}
	s.prover.mu.Lock()
	defer s.prover.mu.Unlock()
	return len(s.prover.queued)
}

// RunProver proves queued commits with Repository.Prove, one at a time,
// until ctx ends (Serve runs it; a caller of New that wants background
// proving runs it itself). A commit that got a proof meanwhile is
// skipped; errors go to ErrorLog.
func (s *Server) RunProver(ctx context.Context) {
	if !s.features.Prove {
		return
	}
	if s.opts.Jobs != nil {
		s.runJobs(ctx)
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
			p.running = &j
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
		if ctx.Err() != nil {
			return // the job stays in the queue file for the next run
		}
		p.mu.Lock()
		delete(p.queued, j)
		p.running = nil
		s.saveQueueLocked()
		p.mu.Unlock()
	}
}

func (s *Server) proveJob(ctx context.Context, j proveJob) {
	rp, err := s.open(ctx, j.repo, nil)
	if err != nil {
		s.opts.ErrorLog("prove %s of %s: %v", j.commit.Short(), j.repo, err)
		return
	}
	if _, err := rp.refs.Read(ctx, refs.Name(remote.ProofsPrefix+j.commit.String())); err == nil {
		return // proven meanwhile (pushed by someone)
	}
	if err := rp.hosted.Prove(ctx, j.commit); err != nil && ctx.Err() == nil {
		s.opts.ErrorLog("prove %s of %s: %v", j.commit.Short(), j.repo, err)
	}
}
