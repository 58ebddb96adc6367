package server

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/refs"
	"github.com/fed-vcs/fed/remote"
)

// call is one request to a repository endpoint.
type call struct {
	s    *Server
	w    http.ResponseWriter
	r    *http.Request
	name string
	key  *objects.PublicKey // nil: anonymous
	own  *ownership         // who owns the repository, once asked
	page bool               // a web page: Options.Pages answers problems
}

func (c *call) fail(p *remote.Problem) {
	if c.page {
		noteProblem(c.w, p.Code)
		c.s.opts.Pages.Problem(c.w, c.r, p)
		return
	}
	writeProblem(c.w, p)
}

func (c *call) internal(err error) {
	if c.r.Context().Err() != nil {
		return // the client went away
	}
	if errors.Is(err, objects.ErrUnavailable) {
		// storage that could not answer: the client retries
		c.s.opts.ErrorLog("%s %s: %v", c.r.Method, c.r.URL.Path, err)
		c.w.Header().Set("Retry-After", storageRetryAfter)
		c.fail(remote.NewProblem(503, remote.CodeUnavailable, "storage unavailable; retry later"))
		return
	}
	var re *objects.RefusedError
	if errors.As(err, &re) {
		// storage that answered no: the server's configuration, not the
		// client's request; the log names the key and bucket, the client
		// learns which storage and its answer only
		c.s.opts.ErrorLog("%s %s: %v", c.r.Method, c.r.URL.Path, err)
		c.fail(remote.NewProblem(502, remote.CodeStorageRefused, "the repository's object storage (%s) refused the server's request: %s; the server's administrator must fix its access", re.Storage, re.Reason))
		return
	}
	c.s.opts.ErrorLog("%s %s: %v", c.r.Method, c.r.URL.Path, err)
	c.fail(remote.NewProblem(500, remote.CodeInternal, "internal error"))
}

// storageRetryAfter is the Retry-After of a 503 caused by storage that
// could not answer (objects.ErrUnavailable).
const storageRetryAfter = "1"

// hookUnavailable is the answer when a proof hook could not reach the
// storage (an error wrapping objects.ErrUnavailable): 503 with
// Retry-After, as for any request the storage cannot answer, rather than
// a refusal of a proof that may be valid; nil for any other error, whose
// refusal stands. Either way nothing is taken.
func (c *call) hookUnavailable(err error) *remote.Problem {
	if !errors.Is(err, objects.ErrUnavailable) {
		return nil
	}
	c.s.opts.ErrorLog("%s %s: %v", c.r.Method, c.r.URL.Path, err)
	c.w.Header().Set("Retry-After", storageRetryAfter)
	return remote.NewProblem(503, remote.CodeUnavailable, "storage unavailable; retry later")
}

// readable opens the repository for reading, or answers with a problem.
// A private repository looks absent to those who may not read it.
func (c *call) readable() (*repository, bool) {
	rp, err := c.s.open(c.r.Context(), c.name, nil)
	if errors.Is(err, errNoRepo) {
		c.fail(remote.NewProblem(404, remote.CodeNotFound, "no repository %s", c.name))
		return nil, false
	}
	if err != nil {
		c.internal(err)
		return nil, false
	}
	m, err := rp.snapshotMeta(c.r.Context())
	if err != nil {
		c.internal(err)
		return nil, false
	}
	// A private repository stays indistinguishable from an absent one,
	// even when the chain cannot say whether the caller owns it.
	if !c.canRead(rp, &m) {
		if c.key == nil {
			c.fail(remote.NewProblem(401, remote.CodeUnauthenticated, "repository %s needs a login (or does not exist)", c.name))
		} else {
			c.fail(remote.NewProblem(404, remote.CodeNotFound, "no repository %s", c.name))
		}
		return nil, false
	}
	return rp, true
}

// writable opens the repository for writing, creating it for an
// authenticated key when it does not exist and the server allows it.
func (c *call) writable() (*repository, bool) {
	if c.key == nil {
		c.fail(remote.NewProblem(401, remote.CodeUnauthenticated, "pushing needs a login"))
		return nil, false
	}
	var create *objects.PublicKey
	if !c.s.opts.NoCreate {
		create = c.key
	}
	rp, err := c.s.open(c.r.Context(), c.name, create)
	if errors.Is(err, errNoRepo) {
		c.fail(remote.NewProblem(403, remote.CodeNoCreate, "no repository %s, and this server does not create repositories on push", c.name))
		return nil, false
	}
	if err != nil {
		c.internal(err)
		return nil, false
	}
	m, err := rp.snapshotMeta(c.r.Context())
	if err != nil {
		c.internal(err)
		return nil, false
	}
	if !c.canWrite(rp, &m) {
		if c.canRead(rp, &m) {
			c.deny(remote.NewProblem(403, remote.CodeForbidden, "%s may not push to %s (ask the owner %s: fed collab add)", c.key, c.name, c.ownership(rp, &m)))
		} else {
			c.fail(remote.NewProblem(404, remote.CodeNotFound, "no repository %s", c.name))
		}
		return nil, false
	}
	return rp, true
}

func (c *call) listRefs() {
	rp, ok := c.readable()
	if !ok {
		return
	}
	all, err := rp.refs.List(c.r.Context(), "refs/")
	if err != nil {
		c.internal(err)
		return
	}
	out := remote.RefList{Refs: []remote.Ref{}}
	if h, err := rp.refs.Head(c.r.Context()); err == nil {
		out.Head = string(h.Symbolic)
	}
	for _, r := range all {
		if remote.ValidateRefName(string(r.Name)) == nil {
			out.Refs = append(out.Refs, remote.Ref{Name: string(r.Name), ID: r.ID})
		}
	}
	writeJSON(c.w, 200, out)
}

func (c *call) jsonBody(limit int64) io.Reader {
	return http.MaxBytesReader(c.w, c.r.Body, limit)
}

func (c *call) missing() {
	req, err := remote.DecodeJSON[remote.IDList](c.jsonBody(c.s.opts.MaxJSONBytes), c.s.opts.MaxJSONBytes)
	if err != nil {
		c.fail(problemFor(err))
		return
	}
	rp, ok := c.writable()
	if !ok {
		return
	}
	// Touch what is there, so gc's grace period restarts for objects a
	// push is about to reference; in a store without modification times
	// (S3) lease them in the database first, which every replica's
	// collection respects (shared.go's Leases).
	if lz, ok := rp.leases(); ok {
		if err := lz.Lease(c.r.Context(), req.IDs, c.s.opts.GCGrace); err != nil {
			c.internal(err)
			return
		}
	}
	have, err := eachID(c.r.Context(), req.IDs, rp.store.Touch, rp.workers(len(req.IDs)))
	if err != nil {
		c.internal(err) // storage that cannot answer: 503, the client retries
		return
	}
	out := remote.IDList{IDs: []objects.ID{}}
	for i, id := range req.IDs {
		if !have[i] {
			out.IDs = append(out.IDs, id)
		}
	}
	writeJSON(c.w, 200, out)
}

// idWorkers bounds the store calls of one request in flight (eachID,
// storedInfos): a remote store answers each after a round trip, which
// they overlap.
const idWorkers = 16

// localCalls is how many calls of a request a DiskStore answers one after
// the other (repository.workers).
const localCalls = 64

// workers is how many store calls for n ids a request makes at once: a
// DiskStore answers a few from the local file system in microseconds,
// less than starting goroutines and waking threads for them costs; a
// remote store answers each after a round trip, which they overlap.
func (rp *repository) workers(n int) int {
	if rp.local() && n <= localCalls {
		return 1
	}
	return idWorkers
}

// local reports whether the repository's objects are a DiskStore.
func (rp *repository) local() bool {
	_, ok := rp.store.(*objects.DiskStore)
	return ok
}

// eachID calls fn (a store's Has or Touch) for every id, workers at a
// time, and returns the answers in the order of ids; it stops at the
// first error.
func eachID(ctx context.Context, ids []objects.ID, fn func(context.Context, objects.ID) (bool, error), workers int) ([]bool, error) {
	out := make([]bool, len(ids))
	err := parallelN(ctx, len(ids), workers, func(ctx context.Context, i int) error {
		ok, err := fn(ctx, ids[i])
		out[i] = ok
		return err
	})
	return out, err
}

// parallel calls fn(i) for i in [0, n), idWorkers at a time, and returns
// the first error (the calls after it see their context cancelled).
func parallel(ctx context.Context, n int, fn func(ctx context.Context, i int) error) error {
	return parallelN(ctx, n, idWorkers, fn)
}

// parallelN is parallel with workers at a time; with one (or one call) it
// calls fn in this goroutine, in order.
func parallelN(ctx context.Context, n, workers int, fn func(ctx context.Context, i int) error) error {
	if workers <= 1 || n <= 1 {
		for i := range n {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := fn(ctx, i); err != nil {
				return err
			}
		}
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		next  atomic.Int64
		once  sync.Once
		first error
	)
	for w := 0; w < min(workers, n); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := fn(ctx, i); err != nil {
					once.Do(func() { first = err; cancel() })
					return
				}
			}
		}()
	}
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		first = ctx.Err()
	}
	return first
}

func (c *call) upload() {
	if ct := c.r.Header.Get("Content-Type"); ct != remote.MediaObjects {
		c.fail(remote.NewProblem(415, remote.CodeBadRequest, "upload body must be %s, not %q", remote.MediaObjects, ct))
		return
	}
	rp, ok := c.writable()
	if !ok {
		return
	}
	ctx := c.r.Context()
	body := http.MaxBytesReader(c.w, c.r.Body, c.s.opts.MaxRequestBytes)
	fr := remote.NewFrameReader(body, c.s.opts.MaxObjectSize+storedSlack)
	var resp remote.UploadResponse
	// Frames are verified and written by up to uploadWorkers goroutines
	// while the next ones are read (hashing and fsync overlap with the
	// network); memory stays within the server's inflight bound.
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		sem      = make(chan struct{}, uploadWorkers)
	)
	setErr := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
	}
	failed := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return firstErr != nil
	}
	alloc := func(n int) ([]byte, error) {
		if err := c.s.inflight.acquire(ctx, int64(n)); err != nil {
			return nil, err
		}
		return remote.PayloadBuffer(n), nil
	}
	// One flush for the request's objects instead of an fsync per object;
	// they are durable before the response says they arrived.
	if b, ok := rp.store.(batcher); ok {
		b.BeginBatch()
	}
	store := func(f remote.Frame) {
		defer func() {
			c.s.inflight.release(int64(len(f.Payload)))
			remote.ReleasePayload(f.Payload)
		}()
		added, err := storeFrame(c.r, rp.store, f)
		if err != nil {
			setErr(err)
			return
		}
		if added {
			mu.Lock()
			resp.Added++
			mu.Unlock()
		}
	}
	// A small object goes to a DiskStore in this goroutine: hashing and
	// writing it costs less than a goroutine and a thread woken for it.
	local := rp.local()
	for !failed() {
		f, err := fr.Next(alloc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if f.Payload != nil {
				c.s.inflight.release(int64(len(f.Payload)))
			}
			setErr(problemFor(err))
			break
		}
		resp.Received++
		resp.Bytes += int64(len(f.Payload))
		if local && len(f.Payload) <= inlineFrame {
			store(f)
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() {
				<-sem
				wg.Done()
			}()
			store(f)
		}()
	}
	wg.Wait()
	if b, ok := rp.store.(batcher); ok {
		if err := b.EndBatch(); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	if firstErr != nil {
		if ctx.Err() != nil {
			return
		}
		if p, ok := firstErr.(*remote.Problem); ok {
			c.fail(p)
			return
		}
		c.internal(firstErr)
		return
	}
	c.s.metrics.objectsStored(resp.Added)
	writeJSON(c.w, 200, resp)
}

// uploadWorkers is how many objects of one upload are verified and
// written at once.
const uploadWorkers = 4

// inlineFrame is the largest stored form an upload writes to a DiskStore
// without a goroutine of its own.
const inlineFrame = 64 << 10

// storeFrame verifies and stores one uploaded object, mapping bad input
// to problems.
func storeFrame(r *http.Request, st ObjectStore, f remote.Frame) (bool, error) {
	ctx := r.Context()
	if f.Form == remote.FormCanonical {
		if got := objects.Sum(f.Payload); got != f.ID {
			return false, remote.NewProblem(422, remote.CodeHashMismatch, "object sent as %s hashes to %s", f.ID, got)
		}
		if _, err := objects.PeekKind(f.Payload); err != nil {
			return false, remote.NewProblem(422, remote.CodeBadObject, "object %s: %v", f.ID, err)
		}
		had, err := st.Has(ctx, f.ID)
		if err != nil {
			return false, err
		}
		if _, err := st.Put(ctx, f.Payload, objects.PutOptions{}); err != nil {
			if errors.Is(err, objects.ErrTooLarge) {
				return false, remote.NewProblem(413, remote.CodeTooLarge, "%v", err)
			}
			return false, err
		}
		return !had, nil
	}
	added, err := st.PutStored(ctx, f.ID, f.Payload)
	switch {
	case err == nil:
		return added, nil
	case errors.Is(err, objects.ErrMismatch):
		return false, remote.NewProblem(422, remote.CodeHashMismatch, "%v", err)
	case errors.Is(err, objects.ErrMissingBase):
		return false, remote.NewProblem(422, remote.CodeMissingBase, "%v", err)
	case ctx.Err() != nil:
		return false, ctx.Err()
	}
	var pe *os.PathError
	if errors.As(err, &pe) || errors.Is(err, objects.ErrUnavailable) || errors.Is(err, objects.ErrRefused) {
		return false, err // a storage problem (503 when retryable, 502 when refused), not the client's
	}
	return false, remote.NewProblem(422, remote.CodeBadObject, "%v", err)
}

func (c *call) updateRefs() {
	if c.key == nil {
		c.fail(remote.NewProblem(401, remote.CodeUnauthenticated, "pushing needs a login"))
		return
	}
	req, err := remote.DecodeJSON[remote.UpdateRequest](c.jsonBody(c.s.opts.MaxJSONBytes), c.s.opts.MaxJSONBytes)
	if err != nil {
		c.fail(problemFor(err))
		return
	}
	ctx := c.r.Context()
	now := c.s.opts.Now()
	if d := now.Sub(req.Time); d > c.s.opts.StatementSkew || d < -c.s.opts.StatementSkew {
		c.fail(remote.NewProblem(401, remote.CodeBadSignature, "push statement time %s is %v away from the server's clock", req.Time.UTC().Format(remote.TimeFormat), d.Round(time.Second)))
		return
	}
	text := remote.StatementPrivate(c.name, c.s.domain(c.r), *c.key, req.Time, req.Updates, req.Withheld, req.Private)
	sig, _ := remote.DecodeSignature(req.Signature)
	if !objects.Verify(*c.key, []byte(text), sig) {
		c.fail(remote.NewProblem(401, remote.CodeBadSignature, "push statement signature does not verify for %s", c.key))
		return
	}
	rp, ok := c.writable()
	if !ok {
		return
	}
	m, err := rp.snapshotMeta(ctx)
	if err != nil {
		c.internal(err)
		return
	}
	// The owner is asked for only when an update needs the owner's rights.
	owner := func() bool { return c.isOwner(rp, &m) }
	for _, u := range req.Updates {
		if isProtected(&m, u.Name) && !owner() {
			p := remote.NewProblem(403, remote.CodeProtected, "%s is protected: only the owner %s may push to it", u.Name, c.ownership(rp, &m))
			p.Ref = u.Name
			c.deny(p)
			return
		}
		if (u.Force || u.New.IsZero()) && !owner() {
			p := remote.NewProblem(403, remote.CodeForceDenied, "only the owner %s may force-push or delete %s", c.ownership(rp, &m), u.Name)
			p.Ref = u.Name
			c.deny(p)
			return
		}
		if u.New.IsZero() && !u.Force {
			p := remote.NewProblem(400, remote.CodeBadRequest, "deleting %s needs force", u.Name)
			p.Ref = u.Name
			c.fail(p)
			return
		}
		if p, err := c.checkPolicyPusher(ctx, rp, &m, u, owner); err != nil {
			c.internal(err)
			return
		} else if p != nil {
			c.deny(p)
			return
		}
	}
	// Ref updates wait for a running gc, and run one at a time.
	rp.gc.RLock()
	defer rp.gc.RUnlock()
	collected, err := rp.syncShared(ctx)
	if err != nil {
		c.internal(err)
		return
	}
	rp.mu.Lock()
	locked := true
	unlock := func() {
		if locked {
			rp.mu.Unlock()
			locked = false
		}
	}
	defer unlock()
	for _, u := range req.Updates {
		cur, err := rp.refs.Read(ctx, refs.Name(u.Name))
		if err != nil && !errors.Is(err, refs.ErrNotFound) {
			c.internal(err)
			return
		}
		if cur != u.Old {
			c.fail(staleProblem(u.Name, cur))
			return
		}
	}
	unlock() // the walks below read objects only; the transaction re-checks
	var news []objects.ID
	for _, u := range req.Updates {
		if !u.New.IsZero() {
			news = append(news, u.New)
		}
	}
	declared := make(map[objects.ID]bool, len(req.Withheld))
	for _, id := range req.Withheld {
		declared[id] = true
	}
	// Objects another upload still holds in its batch count as present
	// below: publish them first, so that no ref reaches a file a crash
	// could lose.
	if b, ok := rp.store.(batcher); ok {
		if err := b.Flush(); err != nil {
			c.internal(err)
			return
		}
	}
	cl, err := rp.checkComplete(ctx, news, 100, declared)
	if err != nil {
		var ce *objects.CorruptError
		if errors.As(err, &ce) || errors.Is(err, objects.ErrMalformed) {
			c.fail(remote.NewProblem(422, remote.CodeBadObject, "%v", err))
			return
		}
		c.internal(err)
		return
	}
	if len(cl.missing) > 0 {
		p := remote.NewProblem(422, remote.CodeIncomplete, "%d or more objects reachable from the new ids are missing; upload them first", len(cl.missing))
		if lz, ok := rp.leases(); ok {
			// objects a push announced (objects/missing) and a collection
			// removed once their lease ran out: the push's fault only in
			// being slow, and cured by sending them again
			leased, err := lz.Leased(ctx, cl.missing)
			if err != nil {
				c.internal(err)
				return
			}
			if len(leased) > 0 {
				p = remote.NewProblem(409, remote.CodeLeaseExpired, "%d of the objects this push announced were collected after their lease (%v) ran out; ask which objects are missing again, send them and update the refs again", len(leased), c.s.opts.GCGrace)
			}
		}
		p.Missing = cl.missing
		c.fail(p)
		return
	}
	if cl.badSig != nil {
		c.fail(remote.NewProblem(422, remote.CodeBadObjectSignature, "%v: every commit and tag object must be signed by the key in its author (tagger) field", cl.badSig))
		return
	}
	if cl.badName != nil {
		c.fail(remote.NewProblem(422, remote.CodeReservedName, "%v: no tree entry may name the repository directory %s in any spelling a file system maps to it (case, ignored code points, trailing dots or spaces, FED~1)", cl.badName, objects.RepoDirName))
		return
	}
	proofs := map[objects.ID]objects.ID{} // commit -> proof this request sets
	var gov govRequest                    // reviews and attestations this request sets
	var toProve []objects.ID              // new commits of branches and tags, oldest first
	for _, u := range req.Updates {
		if u.New.IsZero() {
			continue
		}
		k, err := kindOf(ctx, rp.store, u.New)
		if err != nil {
			c.internal(err)
			return
		}
		if u.Name == remote.SettingsRef {
			if p, deny := c.checkSettingsRef(ctx, rp, u, owner); deny {
				c.deny(p)
				return
			} else if p != nil {
				c.fail(p)
				return
			}
			continue
		}
		if remote.IsGovernanceRef(u.Name) {
			if p, deny := c.checkGovernanceRef(ctx, rp, u, owner, &gov); deny {
				c.deny(p)
				return
			} else if p != nil {
				c.fail(p)
				return
			}
			continue
		}
		if strings.HasPrefix(u.Name, remote.ProofsPrefix) {
			// a proof ref names the proof of the commit in its name;
			// checkProofRefs decides once the request's proofs are known
			o, err := objects.Read(ctx, rp.store, u.New, objects.KindProof)
			if err != nil || o.(*objects.Proof).Commit.String() != strings.TrimPrefix(u.Name, remote.ProofsPrefix) {
				c.fail(remote.NewProblem(422, remote.CodeBadObject, "%s must point to a proof of that commit", u.Name))
				return
			}
			proofs[o.(*objects.Proof).Commit] = u.New
			continue
		}
		if k != objects.KindCommit && !(k == objects.KindTag && strings.HasPrefix(u.Name, refs.TagsPrefix)) {
			c.fail(remote.NewProblem(422, remote.CodeBadObject, "%s would point to a %s", u.Name, k))
			return
		}
		if strings.HasPrefix(u.Name, refs.TagsPrefix) && !u.Old.IsZero() && !u.Force {
			// A tag names one value for good: moving it, even forward, or
			// replacing it by a tag object is a rewrite (force: the owner's).
			p := remote.NewProblem(409, remote.CodeTagExists, "%s exists (it names %s); moving or replacing a tag needs force, which only the owner has", u.Name, u.Old.Short())
			p.Ref = u.Name
			c.fail(p)
			return
		}
		if p, err := c.foreignAuthor(rp, u, owner); err != nil {
			c.internal(err)
			return
		} else if p != nil {
			c.deny(p)
			return
		}
		if k != objects.KindCommit {
			continue
		}
		var newCommits []objects.ID
		if !u.Old.IsZero() {
			ok, nc, err := rp.isAncestor(ctx, u.Old, u.New, 1000)
			if err != nil {
				c.internal(err)
				return
			}
			if !ok && !u.Force {
				p := remote.NewProblem(409, remote.CodeNonFastForward, "%s: %s is not an ancestor of %s; fetch and merge, or force", u.Name, u.Old.Short(), u.New.Short())
				p.Ref = u.Name
				c.fail(p)
				return
			}
			newCommits = nc
		} else {
			newCommits = []objects.ID{u.New}
		}
		if c.s.features.Prove {
			history := newCommits
			if u.Old.IsZero() {
				// a new branch or tag: its whole history may lack proofs
				if _, history, err = rp.isAncestor(ctx, objects.ZeroID, u.New, 1000); err != nil {
					c.internal(err)
					return
				}
			}
			for i := len(history) - 1; i >= 0; i-- {
				toProve = append(toProve, history[i])
			}
		}
		if isProtected(&m, u.Name) && c.s.features.RequireProofs {
			for _, id := range newCommits {
				if err := rp.hosted.RequireProofs(ctx, id); err != nil {
					if p := c.hookUnavailable(err); p != nil {
						c.fail(p)
						return
					}
					code := remote.CodeProofRequired
					if errors.Is(err, ErrSettingMissing) {
						code = remote.CodeZKSettingMissing
					}
					p := remote.NewProblem(422, code, "commit %s on %s: %v", id.Short(), u.Name, err)
					p.Ref = u.Name
					c.fail(p)
					return
				}
			}
		}
	}
	checked, p := c.checkProofRefs(rp, req.Updates, proofs, owner)
	if p != nil {
		c.deny(p)
		return
	}
	for _, u := range req.Updates {
		if u.New.IsZero() || !strings.HasPrefix(u.Name, refs.HeadsPrefix) {
			continue
		}
		if p, err := c.checkPolicy(ctx, rp, &m, u, &gov, proofs); err != nil {
			c.internal(err)
			return
		} else if p != nil {
			c.fail(p)
			return
		}
	}
	if !c.keepsRepoID(ctx, rp, &m, req.Updates) {
		return
	}
	// Commits whose weights are withheld must bind them: a signed zk root
	// and a proof (set by this request or already on the server).
	private, err := rp.weightsAbsent(ctx, cl.commits, declared)
	if err != nil {
		c.internal(err)
		return
	}
	for _, id := range private {
		if p := c.checkPrivate(rp, id, proofs, checked); p != nil {
			c.fail(p)
			return
		}
	}
	if p := checkPrivateMarks(ctx, rp.store, req.Private); p != nil {
		c.fail(p)
		return
	}
	rp.mu.Lock()
	locked = true
	if err := rp.recordPrivate(ctx, req.Private); err != nil {
		c.internal(err)
		return
	}
	// Listed before the refs that make them reachable: a crash between
	// the two leaves ids that are only "may be absent".
	if len(cl.absent) > 0 {
		if err := rp.recordWithheld(ctx, cl.absent); err != nil {
			c.internal(err)
			return
		}
	}
	ups := make([]refs.Update, len(req.Updates))
	for i, u := range req.Updates {
		ups[i] = refs.Update{Name: refs.Name(u.Name), Old: u.Old, New: u.New}
	}
	err = rp.apply(ctx, collected, ups, refs.Entry{Author: c.key.String(), Message: "push", Time: now})
	var se *refs.StaleError
	if errors.As(err, &se) {
		c.fail(staleProblem(string(se.Name), se.Got))
		return
	}
	for _, u := range req.Updates {
		// a branch moves without force only forward; anything else with an
		// old value may leave objects unreachable
		if !u.Old.IsZero() && (u.Force || u.New.IsZero() || !strings.HasPrefix(u.Name, refs.HeadsPrefix)) {
			rp.unpublish()
			if err == nil {
				if berr := rp.bumpShared(ctx, false, true); berr != nil {
					c.s.opts.ErrorLog("%v", berr)
				}
			}
			break
		}
	}
	if err != nil {
		c.internal(err)
		return
	}
	if err := rp.appendPushLog(ctx, remote.PushLogEntry{Time: req.Time.UTC(), Pusher: c.key.String(), Updates: req.Updates, Withheld: req.Withheld, Private: req.Private, Signature: req.Signature}); err != nil {
		c.s.opts.ErrorLog("push log of %s: %v", c.name, err)
	}
	unlock()
	rp.markComplete(ctx, append(cl.visited, news...))
	c.s.enqueueProofs(c.name, toProve, private)
	out := remote.UpdateResponse{}
	for _, u := range req.Updates {
		out.Refs = append(out.Refs, remote.Ref{Name: u.Name, ID: u.New})
	}
	writeJSON(c.w, 200, out)
}

// foreignAuthor applies the authorship rule (doc/protocol.md §6.5): a
// branch or tag moves to a commit or tag object signed by someone other
// than the pusher only when the pusher is the owner or the value is
// already reachable from a branch or tag. Commits of others below the
// pusher's own are vouched for by the pusher's signature over their ids.
func (c *call) foreignAuthor(rp *repository, u remote.RefUpdate, owner func() bool) (*remote.Problem, error) {
	ctx := c.r.Context()
	signer, ok, err := rp.signer(ctx, u.New)
	if err != nil || !ok || signer == *c.key {
		return nil, err
	}
	if pub, err := rp.published(ctx, u.New); err != nil || pub {
		return nil, err
	}
	if owner() {
		return nil, nil
	}
	p := remote.NewProblem(403, remote.CodeForeignAuthor, "%s would point to %s, signed by %s, which is not yet on any branch or tag here: only its signer may publish it (or the owner, or a commit of yours built on it)", u.Name, u.New.Short(), signer)
	p.Ref = u.Name
	return p, nil
}

// checkProofRefs applies the rules of proof refs (doc/protocol.md §7.1)
// to the request's updates of refs/proofs/<commit>; proofs maps each
// such commit to the proof the request sets. A server that verifies
// (CheckProof) takes any proof that verifies and refuses any other
// (invalid-proof); replacing a stored proof needs force unless the stored
// one does not verify. A server that cannot verify takes a proof only
// from its commit's author or the owner (foreign-proof), and replacing
// one needs force. It returns the commits whose proofs it verified.
func (c *call) checkProofRefs(rp *repository, updates []remote.RefUpdate, proofs map[objects.ID]objects.ID, owner func() bool) (map[objects.ID]bool, *remote.Problem) {
	ctx := c.r.Context()
	checked := map[objects.ID]bool{}
	for _, u := range updates {
		commit, err := objects.ParseID(strings.TrimPrefix(u.Name, remote.ProofsPrefix))
		if !strings.HasPrefix(u.Name, remote.ProofsPrefix) || u.New.IsZero() || err != nil {
			continue
		}
		refused := func(status int, code, format string, args ...any) (map[objects.ID]bool, *remote.Problem) {
			p := remote.NewProblem(status, code, format, args...)
			p.Ref = u.Name
			return nil, p
		}
		if c.s.features.CheckProof {
			check := rp.hosted.CheckProof
			if err := check(ctx, commit, proofs); err != nil {
				if p := c.hookUnavailable(err); p != nil {
					return nil, p
				}
				if errors.Is(err, ErrSettingMissing) {
					return refused(422, remote.CodeZKSettingMissing, "%s: %v", u.Name, err)
				}
				return refused(422, remote.CodeInvalidProof, "%s: proof %s does not verify with this repository's keys and settings: %v", u.Name, u.New.Short(), err)
			}
			checked[commit] = true
			if !u.Old.IsZero() && !u.Force {
				stored := maps.Clone(proofs)
				stored[commit] = u.Old
				err := check(ctx, commit, stored)
				if err == nil {
					return refused(409, remote.CodeNonFastForward, "%s holds a valid proof of that commit already; replacing it needs force", u.Name)
				}
				if p := c.hookUnavailable(err); p != nil {
					return nil, p
				}
			}
			continue
		}
		author, ok, err := rp.signer(ctx, commit)
		if err != nil || !ok {
			return refused(422, remote.CodeBadObject, "%s: %s is not a commit here", u.Name, commit.Short())
		}
		if author != *c.key && !owner() {
			return refused(403, remote.CodeForeignProof, "%s: this server cannot verify proofs, so it takes the proof of commit %s only from its author %s or the owner", u.Name, commit.Short(), author)
		}
		if !u.Old.IsZero() && !u.Force {
			return refused(409, remote.CodeNonFastForward, "%s holds a proof of that commit already; replacing it needs force", u.Name)
		}
	}
	return checked, nil
}

// checkPrivate checks a commit whose weights are withheld: it must record
// its zk root (signed with it, so the weights the proof commits to are
// the commit's) and have a proof, which CheckProof verifies when set
// (unless checked lists the commit: its proof ref was just verified).
func (c *call) checkPrivate(rp *repository, id objects.ID, proofs map[objects.ID]objects.ID, checked map[objects.ID]bool) *remote.Problem {
	ctx := c.r.Context()
	cm, err := objects.ReadCommit(ctx, rp.store, id)
	if err != nil {
		return remote.NewProblem(422, remote.CodeBadObject, "commit %s: %v", id.Short(), err)
	}
	if _, ok := cm.Value(remote.MetaZKRoot); !ok {
		return remote.NewProblem(422, remote.CodeProofRequired, "commit %s: its weights are withheld, but it records no %s to bind them (commit it in a repository with zk settings)", id.Short(), remote.MetaZKRoot)
	}
	proof, ok := proofs[id]
	if !ok {
		cur, err := rp.refs.Read(ctx, refs.Name(remote.ProofsPrefix+id.String()))
		if err != nil {
			return remote.NewProblem(422, remote.CodeProofRequired, "commit %s: its weights are withheld, and it has no proof here (run 'fed prove %s' and push with --private-weights, or push the weights)", id.Short(), id.Short())
		}
		proof = cur
	}
	if c.s.features.CheckProof && !checked[id] {
		use := maps.Clone(proofs)
		use[id] = proof
		if err := rp.hosted.CheckProof(ctx, id, use); err != nil {
			if p := c.hookUnavailable(err); p != nil {
				return p
			}
			if errors.Is(err, ErrSettingMissing) {
				return remote.NewProblem(422, remote.CodeZKSettingMissing, "commit %s: %v", id.Short(), err)
			}
			return remote.NewProblem(422, remote.CodeProofRequired, "commit %s: its weights are withheld and its proof does not verify: %v", id.Short(), err)
		}
	}
	return nil
}

// clientHas reports whether the request's Fed-Features header lists f.
func clientHas(r *http.Request, f string) bool {
	for _, h := range r.Header.Values(remote.FeaturesHeader) {
		for _, x := range strings.Split(h, ",") {
			if strings.TrimSpace(x) == f {
				return true
			}
		}
	}
	return false
}

func staleProblem(name string, cur objects.ID) *remote.Problem {
	p := remote.NewProblem(409, remote.CodeStale, "%s is now %s", name, describe(cur))
	p.Ref = name
	p.Current = &cur
	return p
}

func describe(id objects.ID) string {
	if id.IsZero() {
		return "absent"
	}
	return id.String()
}

func kindOf(ctx context.Context, st objects.Store, id objects.ID) (objects.Kind, error) {
	b, err := st.Get(ctx, id)
	if err != nil {
		return 0, err
	}
	return objects.PeekKind(b)
}

func (c *call) plan() {
	req, err := remote.DecodeJSON[remote.PlanRequest](c.jsonBody(c.s.opts.MaxJSONBytes), c.s.opts.MaxJSONBytes)
	if err != nil {
		c.fail(problemFor(err))
		return
	}
	rp, ok := c.readable()
	if !ok {
		return
	}
	ctx := c.r.Context()
	all, err := rp.refs.List(ctx, "refs/")
	if err != nil {
		c.internal(err)
		return
	}
	tips := map[objects.ID]bool{}
	for _, r := range all {
		tips[r.ID] = true
	}
	if err := rp.refreshPublished(ctx); err != nil {
		c.internal(err)
		return
	}
	for _, w := range req.Want {
		if !tips[w] || !rp.isPublished(w) {
			// a proof ref of a commit no branch or tag reaches is no tip to fetch
			p := remote.NewProblem(422, remote.CodeNotTip, "%s is not the value of any ref (it may have moved: list refs again), or a proof of a commit no branch or tag reaches", w)
			p.Missing = []objects.ID{w}
			c.fail(p)
			return
		}
	}
	withheld, err := rp.withheldSet(ctx)
	if err != nil {
		c.internal(err)
		return
	}
	plan, err := makePlan(ctx, rp.store, req, rp.absentOnPurpose(ctx, withheld))
	if err != nil {
		c.internal(err)
		return
	}
	if len(plan.Withheld) > 0 && !clientHas(c.r, remote.FeatureWithheld) {
		c.fail(remote.NewProblem(422, remote.CodeWithheld, "%d object(s) of what you asked for are weights their contributors withheld (only commitments and proofs are here); this fed is too old to fetch such commits: upgrade it", len(plan.Withheld)))
		return
	}
	if plan.Private, err = rp.markedIn(ctx, plan); err != nil {
		c.internal(err)
		return
	}
	if len(plan.Private) > 0 && !clientHas(c.r, remote.FeaturePrivate) {
		// an older client would publish them with its next push elsewhere
		c.fail(remote.NewProblem(422, remote.CodeWithheld, "%d object(s) of what you asked for are weights their contributors sent to this repository only (private-weights); this fed is too old to keep them private: upgrade it", len(plan.Private)))
		return
	}
	writeJSON(c.w, 200, plan)
}

func (c *call) download() {
	req, err := remote.DecodeJSON[remote.DownloadRequest](c.jsonBody(c.s.opts.MaxJSONBytes), c.s.opts.MaxJSONBytes)
	if err != nil {
		c.fail(problemFor(err))
		return
	}
	rp, ok := c.readable()
	if !ok {
		return
	}
	ctx := c.r.Context()
	if err := rp.refreshPublished(ctx); err != nil {
		c.internal(err)
		return
	}
	present, err := eachID(ctx, req.IDs, rp.store.Has, rp.workers(len(req.IDs)))
	if err != nil {
		c.internal(err)
		return
	}
	var absent []objects.ID
	for i, id := range req.IDs {
		// what no ref reaches is not served: as if absent
		if (!present[i] || !rp.isPublished(id)) && len(absent) < 100 {
			absent = append(absent, id)
		}
	}
	if len(absent) > 0 {
		p := remote.NewProblem(404, remote.CodeNotFound, "%d objects not found", len(absent))
		p.Missing = absent
		c.fail(p)
		return
	}
	have := make(map[objects.ID]bool, len(req.HaveBases))
	for _, id := range req.HaveBases {
		have[id] = true
	}
	if so, ok := rp.store.(storedOpener); ok && c.downloadFiles(ctx, rp, so, req.IDs, have) {
		return
	}
	c.w.Header().Set("Content-Type", remote.MediaObjects)
	c.w.WriteHeader(200)
	bw := bufio.NewWriterSize(c.w, 256<<10)
	fw := remote.NewFrameWriter(bw)
	// The next objects are read while one is written (a remote store
	// answers each read after a round trip), in order, each holding its
	// share of the in-flight bytes from before its read until written.
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	queue := make(chan *fetched, downloadPrefetch)
	go func() {
		defer close(queue)
		for _, id := range req.IDs {
			f := &fetched{id: id, done: make(chan struct{})}
			info, err := rp.store.StoredInfo(dctx, id)
			if err == nil {
				err = c.s.inflight.acquire(dctx, info.Size)
			}
			if err != nil {
				f.err = err
				close(f.done)
				queue <- f // the consumer reads every queued entry
				return
			}
			f.size = info.Size
			go func() {
				f.b, f.err = rp.store.GetStored(dctx, id, func(b objects.ID) bool { return have[b] })
				close(f.done)
			}()
			queue <- f
			if dctx.Err() != nil {
				return
			}
		}
	}()
	failed := false
	for f := range queue {
		<-f.done
		err := f.err
		if err == nil && !failed {
			err = fw.WriteFrame(f.id, remote.FormStored, f.b)
		}
		c.s.inflight.release(f.size)
		if err != nil && !failed {
			failed = true
			cancel() // the client sees a truncated stream
			if ctx.Err() == nil {
				c.s.opts.ErrorLog("download %s from %s: %v", f.id, c.name, err)
			}
		}
	}
	if !failed && fw.Close() == nil {
		bw.Flush()
	}
}

// downloadFiles answers a download from a store that opens stored forms
// (a disk store) when every object can go as kept: self-contained, or a
// delta whose base the client holds. The stream's length is then known
// before it starts, so the response has a Content-Length instead of
// chunks, and each object's bytes go from its file to the connection
// (sendfile on a plain TCP connection) without being read into memory or
// held against the in-flight bound. It reports false, having written
// nothing, when an object must be re-encoded (a delta against a base
// the client lacks) or its form cannot be read; the caller then answers
// as for any store. A failure after the header cuts the stream short,
// which the client sees as truncated.
func (c *call) downloadFiles(ctx context.Context, rp *repository, so storedOpener, ids []objects.ID, have map[objects.ID]bool) bool {
	sizes := make([]int64, len(ids))
	var payload int64
	for i, id := range ids {
		info, err := rp.store.StoredInfo(ctx, id)
		if err != nil || (!info.Base.IsZero() && !have[info.Base]) {
			return false
		}
		sizes[i] = info.Size
		payload += info.Size
	}
	total := remote.StreamLen(len(ids), payload)
	c.w.Header().Set("Content-Type", remote.MediaObjects)
	c.w.Header().Set("Content-Length", strconv.FormatInt(total, 10))
	c.w.WriteHeader(200)
	fw := remote.NewFrameWriter(c.w)
	for i, id := range ids {
		err := c.sendStored(so, fw, id, sizes[i])
		if err != nil {
			if ctx.Err() == nil {
				c.s.opts.ErrorLog("download %s from %s: %v", id, c.name, err)
			}
			return true // short of its Content-Length: the connection closes
		}
	}
	fw.Close()
	return true
}

// sendStored writes the frame of id, whose stored form has size bytes,
// from its file.
func (c *call) sendStored(so storedOpener, fw *remote.FrameWriter, id objects.ID, size int64) error {
	f, err := so.OpenStored(id)
	if err != nil {
		return err
	}
	defer f.Close()
	if n, err := f.Seek(0, io.SeekEnd); err != nil || n != size {
		return fmt.Errorf("stored form of %d bytes, %d when listed: %v", n, size, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if err := fw.WriteFrameHeader(id, remote.FormStored, size); err != nil {
		return err
	}
	n, err := io.Copy(c.w, f)
	if err == nil && n != size {
		err = fmt.Errorf("stored form of %d bytes sent as %d", size, n)
	}
	return err
}

// downloadPrefetch is how many objects a download reads ahead of the one
// it writes.
const downloadPrefetch = 4

// fetched is an object a download has read, or failed to, for writing in
// order; size is its share of the in-flight bytes (0: none held).
type fetched struct {
	id   objects.ID
	size int64
	b    []byte
	err  error
	done chan struct{}
}

func (c *call) getObject(hexID string) {
	id, err := objects.ParseID(hexID)
	if err != nil {
		c.fail(remote.NewProblem(400, remote.CodeBadRequest, "%v", err))
		return
	}
	rp, ok := c.readable()
	if !ok {
		return
	}
	ctx := c.r.Context()
	if err := rp.refreshPublished(ctx); err != nil {
		c.internal(err)
		return
	}
	info, err := rp.store.StoredInfo(ctx, id)
	if err == nil && !rp.isPublished(id) {
		err = objects.ErrNotFound // no ref reaches it: as if absent
	}
	if errors.Is(err, objects.ErrNotFound) {
		p := remote.NewProblem(404, remote.CodeNotFound, "no object %s", id)
		p.Missing = []objects.ID{id}
		c.fail(p)
		return
	}
	if err != nil {
		c.internal(err)
		return
	}
	c.w.Header().Set("Content-Type", remote.MediaStored)
	if so, ok := rp.store.(storedOpener); ok && info.Base.IsZero() {
		// Self-contained on disk: serve the file (ranges), without the
		// checksum only this server's copy carries.
		f, err := so.OpenStored(id)
		if err != nil {
			c.internal(err)
			return
		}
		defer f.Close()
		http.ServeContent(c.w, c.r, "", time.Time{}, f)
		return
	}
	b, err := rp.store.GetStored(ctx, id, nil)
	if err != nil {
		c.internal(err)
		return
	}
	http.ServeContent(c.w, c.r, "", time.Time{}, bytes.NewReader(b))
}

func (c *call) getSettings() {
	rp, ok := c.readable()
	if !ok {
		return
	}
	m, err := rp.snapshotMeta(c.r.Context())
	if err != nil {
		c.internal(err)
		return
	}
	if o := c.ownership(rp, &m); o.unavailable {
		c.failChainDown()
		return
	}
	s := c.settingsOf(rp, m)
	if c.s.features.ZKSettings {
		zk, err := c.zkSettings(rp, nil)
		if err != nil {
			c.internal(err)
			return
		}
		s.ZK = zk
	}
	writeJSON(c.w, 200, s)
}

// zkSettings reads or changes the repository's zk settings
// (Repository.ZKSettings), one change at a time per server.
func (c *call) zkSettings(rp *repository, set map[string]string) (map[string]string, error) {
	c.s.zkMu.Lock()
	defer c.s.zkMu.Unlock()
	zk, err := rp.hosted.ZKSettings(c.r.Context(), set)
	if len(zk) == 0 {
		zk = nil
	}
	return zk, err
}

// settingsOf is the settings answer: the owner is the one this call
// resolved (absent when nobody owns the repository now).
func (c *call) settingsOf(rp *repository, m meta) remote.Settings {
	s := remote.Settings{Public: m.Public, Protected: m.Protected, Collaborators: m.Collaborators, NFT: m.NFT}
	if o := c.ownership(rp, &m); o.known {
		s.Owner = o.owner.String()
	}
	if s.Protected == nil {
		s.Protected = []string{}
	}
	if s.Collaborators == nil {
		s.Collaborators = []string{}
	}
	return s
}

// owned opens the repository for an owner-only change.
func (c *call) owned() (*repository, bool) {
	rp, ok := c.readable()
	if !ok {
		return nil, false
	}
	m, err := rp.snapshotMeta(c.r.Context())
	if err != nil {
		c.internal(err)
		return nil, false
	}
	if !c.isOwner(rp, &m) {
		if c.key == nil {
			c.fail(remote.NewProblem(401, remote.CodeUnauthenticated, "changing settings needs a login"))
		} else {
			c.deny(remote.NewProblem(403, remote.CodeForbidden, "only the owner %s may change the settings of %s", c.ownership(rp, &m), c.name))
		}
		return nil, false
	}
	return rp, true
}

func (c *call) putSettings() {
	req, err := remote.DecodeJSON[remote.SettingsUpdate](c.jsonBody(c.s.opts.MaxJSONBytes), c.s.opts.MaxJSONBytes)
	if err != nil {
		c.fail(problemFor(err))
		return
	}
	rp, ok := c.owned()
	if !ok {
		return
	}
	if req.ZK != nil && !c.s.features.ZKSettings {
		c.fail(remote.NewProblem(400, remote.CodeBadRequest, "this server keeps no zk settings for its repositories"))
		return
	}
	if req.NFT != nil && *req.NFT != "" {
		mint, _ := objects.ParsePublicKey(*req.NFT) // checked by the decoder
		if !c.linkNFT(rp, mint) {
			return
		}
	}
	var zk map[string]string
	if c.s.features.ZKSettings {
		// after every other check: a value the server refuses, or a
		// refused link, changes nothing
		if zk, err = c.zkSettings(rp, req.ZK); err != nil {
			if req.ZK != nil {
				c.fail(remote.NewProblem(400, remote.CodeBadRequest, "zk settings of %s: %v", c.name, err))
			} else {
				c.internal(err)
			}
			return
		}
	}
	m, err := rp.setMeta(c.r.Context(), func(m *meta) {
		if req.Public != nil {
			m.Public = *req.Public
		}
		if req.Protected != nil {
			m.Protected = append([]string{}, (*req.Protected)...)
		}
		if req.NFT != nil {
			// The caller owns the repository now (and holds the NFT when
			// linking): after an unlink, the owner is who unlinked.
			m.NFT = *req.NFT
			m.Owner = c.key.String()
		}
	})
	if err != nil {
		c.internal(err)
		return
	}
	s := c.settingsOf(rp, m)
	s.ZK = zk
	writeJSON(c.w, 200, s)
}

func (c *call) collaborator(keyText string) {
	key, err := objects.ParsePublicKey(keyText)
	if err != nil {
		c.fail(remote.NewProblem(400, remote.CodeBadRequest, "%v", err))
		return
	}
	rp, ok := c.owned()
	if !ok {
		return
	}
	m, err := rp.setMeta(c.r.Context(), func(m *meta) {
		k := key.String()
		out := m.Collaborators[:0]
		for _, x := range m.Collaborators {
			if x != k {
				out = append(out, x)
			}
		}
		m.Collaborators = out
		if c.r.Method == http.MethodPut && (k != m.Owner || m.NFT != "") {
			m.Collaborators = append(m.Collaborators, k)
		}
	})
	if err != nil {
		c.internal(err)
		return
	}
	writeJSON(c.w, 200, c.settingsOf(rp, m))
}

func (c *call) pushLog() {
	rp, ok := c.readable()
	if !ok {
		return
	}
	entries, err := rp.readPushLog(c.r.Context())
	if err != nil {
		c.internal(err)
		return
	}
	if entries == nil {
		entries = []remote.PushLogEntry{}
	}
	writeJSON(c.w, 200, remote.PushLog{Entries: entries})
}
