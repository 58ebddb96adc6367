package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"math"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/remote"
)

// maxPending bounds outstanding login nonces (MemorySessions) and the
// rate limiter's buckets.
const maxPending = 100_000

// sessionsRetryAfter is the Retry-After of a 503 caused by the
// SessionStore.
const sessionsRetryAfter = "1"

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// sessionsFailed answers 503 when the session store failed (logged) or
// is full.
func (s *Server) sessionsFailed(w http.ResponseWriter, op string, err error) {
	if errors.Is(err, ErrSessionsFull) {
		w.Header().Set("Retry-After", "5")
		writeProblem(w, remote.NewProblem(503, remote.CodeUnavailable, "too many logins in progress"))
		return
	}
	s.opts.ErrorLog("sessions: %s: %v", op, err)
	w.Header().Set("Retry-After", sessionsRetryAfter)
	writeProblem(w, remote.NewProblem(503, remote.CodeUnavailable, "sign-in store unavailable; retry"))
}

// identify returns the key of the request's bearer token: nil without
// one, a problem for an unknown or expired token, an error when the
// session store failed.
func (s *Server) identify(r *http.Request) (*objects.PublicKey, *remote.Problem, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, nil, nil
	}
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || tok == "" {
		return nil, remote.NewProblem(401, remote.CodeUnauthenticated, "Authorization must be a Bearer token"), nil
	}
	if strings.HasPrefix(tok, pageSessionPrefix) {
		// a page session's key in the store: never a bearer token
		return nil, remote.NewProblem(401, remote.CodeTokenExpired, "unknown or expired token; log in again"), nil
	}
	sess, ok, err := s.opts.Sessions.Session(r.Context(), tok, s.opts.Now())
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		return nil, remote.NewProblem(401, remote.CodeTokenExpired, "unknown or expired token; log in again"), nil
	}
	return &sess.Key, nil, nil
}

func (s *Server) handleChallenge(w http.ResponseWriter, r *http.Request) {
	req, err := remote.DecodeJSON[remote.ChallengeRequest](http.MaxBytesReader(w, r.Body, 4096), 4096)
	if err != nil {
		writeProblem(w, problemFor(err))
		return
	}
	now := s.opts.Now().UTC().Truncate(time.Second)
	domain := s.domain(r)
	nonce := randomString(16)
	msg := remote.SignInMessage{Domain: domain, Address: req.Address, URI: s.signInURI(r, domain), ChainID: s.opts.ChainID, Nonce: nonce, IssuedAt: now}.String()
	exp := now.Add(s.opts.NonceTTL)
	if err := s.opts.Sessions.AddNonce(r.Context(), nonce, Challenge{Address: req.Address, Message: msg, Expires: exp}, s.opts.Now()); err != nil {
		s.sessionsFailed(w, "add nonce", err)
		return
	}
	writeJSON(w, 200, remote.Challenge{Nonce: nonce, Message: msg, ExpiresAt: exp})
}

// signInURI is the URI a sign-in text names: the public URL when it is
// the domain's (a server behind a TLS-terminating proxy, whose requests
// arrive over plain HTTP), else the request's scheme and the domain.
func (s *Server) signInURI(r *http.Request, domain string) string {
	if u := s.opts.PublicURL; u != "" {
		if _, host, _ := strings.Cut(u, "://"); strings.EqualFold(host, domain) {
			return u
		}
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + domain
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	key, ok := s.redeem(w, r)
	if !ok {
		return
	}
	tok := randomString(32)
	exp := s.opts.Now().UTC().Truncate(time.Second).Add(s.opts.TokenTTL)
	if err := s.opts.Sessions.AddSession(r.Context(), tok, Session{Key: key, Expires: exp}, s.opts.Now()); err != nil {
		s.sessionsFailed(w, "add session", err)
		return
	}
	writeJSON(w, 200, remote.LoginResponse{Token: tok, Address: key.String(), ExpiresAt: exp})
}

// redeem reads a login request (§6.1), takes its nonce and checks its
// signature over the text the server issued; it answers the request
// itself when it refuses it.
func (s *Server) redeem(w http.ResponseWriter, r *http.Request) (objects.PublicKey, bool) {
	req, err := remote.DecodeJSON[remote.LoginRequest](http.MaxBytesReader(w, r.Body, 4096), 4096)
	if err != nil {
		writeProblem(w, problemFor(err))
		return objects.PublicKey{}, false
	}
	// single use, whatever happens next
	p, ok, err := s.opts.Sessions.TakeNonce(r.Context(), req.Nonce, s.opts.Now())
	if err != nil {
		s.sessionsFailed(w, "take nonce", err)
		return objects.PublicKey{}, false
	}
	if !ok {
		writeProblem(w, remote.NewProblem(401, remote.CodeBadNonce, "nonce unknown, already used or expired; ask for a new challenge"))
		return objects.PublicKey{}, false
	}
	if p.Address != req.Address {
		writeProblem(w, remote.NewProblem(401, remote.CodeBadNonce, "nonce was issued to another address"))
		return objects.PublicKey{}, false
	}
	key, _ := objects.ParsePublicKey(req.Address) // checked by the decoder
	sig, _ := remote.DecodeSignature(req.Signature)
	if !objects.Verify(key, []byte(p.Message), sig) {
		writeProblem(w, remote.NewProblem(401, remote.CodeBadSignature, "signature does not verify for %s", req.Address))
		return objects.PublicKey{}, false
	}
	return key, true
}

// limiter is a token bucket per key.
type limiter struct {
	rate  float64
	burst float64
	now   func() time.Time
	mu    sync.Mutex
	b     map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(rate float64, burst int, now func() time.Time) *limiter {
	return &limiter{rate: rate, burst: float64(burst), now: now, b: map[string]*bucket{}}
}

// allow takes one token from key's bucket, or says how long to wait.
func (l *limiter) allow(key string) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if len(l.b) > maxPending {
		l.b = map[string]*bucket{} // forget everyone rather than grow without bound
	}
	b, ok := l.b[key]
	if !ok {
		b = &bucket{tokens: l.burst, last: now}
		l.b[key] = b
	}
	b.tokens = math.Min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens < 1 {
		return time.Duration((1 - b.tokens) / l.rate * float64(time.Second)), false
	}
	b.tokens--
	return 0, true
}

// weighted is a semaphore of bytes, shared by every request of the
// server: taking and returning room is one atomic operation unless
// someone waits (a mutex there was the server's most contended lock,
// taken twice per uploaded object).
type weighted struct {
	max     int64
	used    atomic.Int64
	waiters atomic.Int64 // acquires that found no room and may wait on wake

	mu   sync.Mutex // guards wake
	wake chan struct{}
}

func newWeighted(max int64) *weighted { return &weighted{max: max, wake: make(chan struct{})} }

// take adds n to used if there is room for it (or nothing is held: an
// object larger than max still goes, alone).
func (s *weighted) take(n int64) bool {
	for {
		u := s.used.Load()
		if u+n > s.max && u != 0 {
			return false
		}
		if s.used.CompareAndSwap(u, u+n) {
			return true
		}
	}
}

func (s *weighted) acquire(ctx context.Context, n int64) error {
	if s.take(n) {
		return nil
	}
	s.waiters.Add(1)
	defer s.waiters.Add(-1)
	for {
		// Registered as a waiter before looking again: a release either
		// happened before the look, which sees its room, or sees the
		// waiter and closes the wake channel taken here.
		s.mu.Lock()
		wake := s.wake
		s.mu.Unlock()
		if s.take(n) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wake:
		}
	}
}

func (s *weighted) release(n int64) {
	s.used.Add(-n)
	if s.waiters.Load() > 0 {
		s.mu.Lock()
		close(s.wake)
		s.wake = make(chan struct{})
		s.mu.Unlock()
	}
}
