package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/remote"
)

// maxPending bounds outstanding login nonces and live tokens.
const maxPending = 100_000

type pending struct {
	address string
	message string
	expires time.Time
}

type session struct {
	key     objects.PublicKey
	expires time.Time
}

// authState holds login nonces and bearer tokens in memory: a restarted
// server forgets them, and clients log in again.
type authState struct {
	now    func() time.Time
	mu     sync.Mutex
	nonces map[string]pending
	tokens map[string]session
}

func newAuthState(now func() time.Time) *authState {
	return &authState{now: now, nonces: map[string]pending{}, tokens: map[string]session{}}
}

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// sweep drops expired nonces and tokens; called with mu held.
func (a *authState) sweep() {
	now := a.now()
	for k, p := range a.nonces {
		if now.After(p.expires) {
			delete(a.nonces, k)
		}
	}
	for k, s := range a.tokens {
		if now.After(s.expires) {
			delete(a.tokens, k)
		}
	}
}

// identify returns the key of the request's bearer token: nil without
// one, a problem for an unknown or expired token.
func (a *authState) identify(r *http.Request) (*objects.PublicKey, *remote.Problem) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, nil
	}
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || tok == "" {
		return nil, remote.NewProblem(401, remote.CodeUnauthenticated, "Authorization must be a Bearer token")
	}
	a.mu.Lock()
	s, ok := a.tokens[tok]
	a.mu.Unlock()
	if !ok || a.now().After(s.expires) {
		return nil, remote.NewProblem(401, remote.CodeTokenExpired, "unknown or expired token; log in again")
	}
	return &s.key, nil
}

func (s *Server) handleChallenge(w http.ResponseWriter, r *http.Request) {
	req, err := remote.DecodeJSON[remote.ChallengeRequest](http.MaxBytesReader(w, r.Body, 4096), 4096)
	if err != nil {
		writeProblem(w, problemFor(err))
		return
	}
	a := s.auth
	now := a.now().UTC().Truncate(time.Second)
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	domain := s.domain(r)
	nonce := randomString(16)
	msg := remote.SignInMessage{Domain: domain, Address: req.Address, URI: scheme + "://" + domain, ChainID: s.opts.ChainID, Nonce: nonce, IssuedAt: now}.String()
	exp := now.Add(s.opts.NonceTTL)
	a.mu.Lock()
	if len(a.nonces) >= maxPending/2 {
		a.sweep()
	}
	if len(a.nonces) >= maxPending {
		a.mu.Unlock()
		w.Header().Set("Retry-After", "5")
		writeProblem(w, remote.NewProblem(503, remote.CodeUnavailable, "too many logins in progress"))
		return
	}
	a.nonces[nonce] = pending{address: req.Address, message: msg, expires: exp}
	a.mu.Unlock()
	writeJSON(w, 200, remote.Challenge{Nonce: nonce, Message: msg, ExpiresAt: exp})
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	req, err := remote.DecodeJSON[remote.LoginRequest](http.MaxBytesReader(w, r.Body, 4096), 4096)
	if err != nil {
		writeProblem(w, problemFor(err))
		return
	}
	a := s.auth
	a.mu.Lock()
	p, ok := a.nonces[req.Nonce]
	delete(a.nonces, req.Nonce) // single use, whatever happens next
	a.mu.Unlock()
	if !ok || a.now().After(p.expires) {
		writeProblem(w, remote.NewProblem(401, remote.CodeBadNonce, "nonce unknown, already used or expired; ask for a new challenge"))
		return
	}
	if p.address != req.Address {
		writeProblem(w, remote.NewProblem(401, remote.CodeBadNonce, "nonce was issued to another address"))
		return
	}
	key, _ := objects.ParsePublicKey(req.Address) // checked by the decoder
	sig, _ := remote.DecodeSignature(req.Signature)
	if !objects.Verify(key, []byte(p.message), sig) {
		writeProblem(w, remote.NewProblem(401, remote.CodeBadSignature, "signature does not verify for %s", req.Address))
		return
	}
	tok := randomString(32)
	exp := a.now().UTC().Truncate(time.Second).Add(s.opts.TokenTTL)
	a.mu.Lock()
	if len(a.tokens) >= maxPending/2 {
		a.sweep()
	}
	a.tokens[tok] = session{key: key, expires: exp}
	a.mu.Unlock()
	writeJSON(w, 200, remote.LoginResponse{Token: tok, Address: req.Address, ExpiresAt: exp})
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

// weighted is a semaphore of bytes.
type weighted struct {
	mu   sync.Mutex
	max  int64
	used int64
	wake chan struct{}
}

func newWeighted(max int64) *weighted { return &weighted{max: max, wake: make(chan struct{})} }

func (s *weighted) acquire(ctx context.Context, n int64) error {
	for {
		s.mu.Lock()
		if s.used+n <= s.max || s.used == 0 {
			s.used += n
			s.mu.Unlock()
			return nil
		}
		wake := s.wake
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wake:
		}
	}
}

func (s *weighted) release(n int64) {
	s.mu.Lock()
	s.used -= n
	close(s.wake)
	s.wake = make(chan struct{})
	s.mu.Unlock()
}
