package server

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/fed-vcs/fed/objects"
)

// Challenge is an outstanding sign-in nonce: the address it was issued
// to, the text that address must sign, and when it expires.
type Challenge struct {
	Address string
	Message string
	Expires time.Time
}

// Session is a login: the key that signed in, until Expires.
type Session struct {
	Key     objects.PublicKey
	Expires time.Time
}

// SessionStore keeps sign-in nonces and login sessions (bearer tokens).
// Replicas serving the same users share one (package pgstore keeps them
// in PostgreSQL); the default, MemorySessions, lives in the process.
//
// Every method takes the server's clock: a store may drop what expired
// before now at any call, and never returns it. A store's errors are
// answered 503 unavailable with Retry-After (the request may be repeated).
type SessionStore interface {
	// AddNonce records an outstanding nonce. An error wrapping
	// ErrSessionsFull refuses it (too many logins in progress).
	AddNonce(ctx context.Context, nonce string, c Challenge, now time.Time) error
	// TakeNonce removes nonce and returns its challenge; ok is false when
	// no such nonce is outstanding: never issued, expired, or taken
	// before. Of concurrent takers of one nonce, at any replica, one at
	// most gets ok.
	TakeNonce(ctx context.Context, nonce string, now time.Time) (c Challenge, ok bool, err error)
	// AddSession records the session of a new token (an error wrapping
	// ErrSessionsFull refuses it).
	AddSession(ctx context.Context, token string, s Session, now time.Time) error
	// Session returns the session of token; ok is false when it is
	// unknown or expired.
	Session(ctx context.Context, token string, now time.Time) (s Session, ok bool, err error)
	// DeleteSession ends the session of token (a sign-out); an unknown
	// token is no error. The store that deletes it never finds it again;
	// other replicas stop finding it within SessionRevokeDelay.
	DeleteSession(ctx context.Context, token string) error
}

// SessionRevokeDelay bounds how long a replica may still accept a session
// another replica deleted (the time it may keep a session it read).
const SessionRevokeDelay = 10 * time.Second

// ErrSessionsFull is what a SessionStore returns (wrapped) when it holds
// as many outstanding nonces or sessions as it may.
var ErrSessionsFull = errors.New("server: too many logins in progress")

// MemorySessions is a SessionStore in memory: a restarted server forgets
// every nonce and token, and clients log in again. It holds at most
// maxPending nonces; expired entries go when half as many are held.
type MemorySessions struct {
	mu     sync.Mutex
	nonces map[string]Challenge
	tokens map[string]Session
}

var _ SessionStore = (*MemorySessions)(nil)

// NewMemorySessions returns an empty MemorySessions.
func NewMemorySessions() *MemorySessions {
	return &MemorySessions{nonces: map[string]Challenge{}, tokens: map[string]Session{}}
}

// sweep drops expired nonces and tokens; called with mu held.
func (m *MemorySessions) sweep(now time.Time) {
	for k, p := range m.nonces {
		if now.After(p.Expires) {
			delete(m.nonces, k)
		}
	}
	for k, s := range m.tokens {
		if now.After(s.Expires) {
			delete(m.tokens, k)
		}
	}
}

// AddNonce implements SessionStore.
func (m *MemorySessions) AddNonce(_ context.Context, nonce string, c Challenge, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.nonces) >= maxPending/2 {
		m.sweep(now)
	}
	if len(m.nonces) >= maxPending {
		return ErrSessionsFull
	}
	m.nonces[nonce] = c
	return nil
}

// TakeNonce implements SessionStore.
func (m *MemorySessions) TakeNonce(_ context.Context, nonce string, now time.Time) (Challenge, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.nonces[nonce]
	delete(m.nonces, nonce)
	if !ok || now.After(c.Expires) {
		return Challenge{}, false, nil
	}
	return c, true, nil
}

// AddSession implements SessionStore.
func (m *MemorySessions) AddSession(_ context.Context, token string, s Session, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.tokens) >= maxPending/2 {
		m.sweep(now)
	}
	m.tokens[token] = s
	return nil
}

// DeleteSession implements SessionStore.
func (m *MemorySessions) DeleteSession(_ context.Context, token string) error {
	m.mu.Lock()
	delete(m.tokens, token)
	m.mu.Unlock()
	return nil
}

// Session implements SessionStore.
func (m *MemorySessions) Session(_ context.Context, token string, now time.Time) (Session, bool, error) {
	m.mu.Lock()
	s, ok := m.tokens[token]
	m.mu.Unlock()
	if !ok || now.After(s.Expires) {
		return Session{}, false, nil
	}
	return s, true, nil
}
