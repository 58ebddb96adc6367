package pgstore

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/remote/server"
	"github.com/jackc/pgx/v5"
)

// sweepEvery is how often a Sessions deletes expired nonces and sessions
// (at most; on the next add after it).
const sweepEvery = time.Minute

// maxCached bounds the sessions a Sessions remembers in memory.
const maxCached = 10_000

// Sessions is a server.SessionStore in the database, shared by every
// replica on it: a nonce is taken by one DELETE … RETURNING, so it is
// taken once whichever replica asks; a token found by one replica is
// found by all. Tokens are kept as their SHA-256, so the database holds
// nothing a client could present.
//
// A session never changes once written, but a sign-out deletes it, at
// whichever replica: a Sessions remembers a session it has found for at
// most server.SessionRevokeDelay (and never past its expiry) instead of
// asking the database on every request.
type Sessions struct {
	db *DB

	mu        sync.Mutex
	lastSweep time.Time
	cache     map[[32]byte]cachedSession
}

// cachedSession is a session as read at a time.
type cachedSession struct {
	server.Session
	read time.Time
}

var _ server.SessionStore = (*Sessions)(nil)

// Sessions returns the database's session store.
func (db *DB) Sessions() *Sessions {
	return &Sessions{db: db, cache: map[[32]byte]cachedSession{}}
}

// sweep deletes what expired before now, at most once per sweepEvery.
func (s *Sessions) sweep(ctx context.Context, now time.Time) error {
	s.mu.Lock()
	if now.Sub(s.lastSweep) < sweepEvery && !s.lastSweep.After(now) {
		s.mu.Unlock()
		return nil
	}
	s.lastSweep = now
	s.mu.Unlock()
	if _, err := s.db.exec(ctx, `DELETE FROM fed_nonces WHERE expires_at < $1`, now); err != nil {
		return fmt.Errorf("pgstore: sweep nonces: %w", err)
	}
	if _, err := s.db.exec(ctx, `DELETE FROM fed_sessions WHERE expires_at < $1`, now); err != nil {
		return fmt.Errorf("pgstore: sweep sessions: %w", err)
	}
	return nil
}

// AddNonce implements server.SessionStore.
func (s *Sessions) AddNonce(ctx context.Context, nonce string, c server.Challenge, now time.Time) error {
	if err := s.sweep(ctx, now); err != nil {
		return err
	}
	_, err := s.db.exec(ctx, `INSERT INTO fed_nonces (nonce, address, message, expires_at) VALUES ($1, $2, $3, $4)`,
		nonce, c.Address, c.Message, c.Expires)
	if err != nil {
		return fmt.Errorf("pgstore: add nonce: %w", err)
	}
	return nil
}

// TakeNonce implements server.SessionStore.
func (s *Sessions) TakeNonce(ctx context.Context, nonce string, now time.Time) (server.Challenge, bool, error) {
	var c server.Challenge
	err := s.db.queryRow(ctx, `DELETE FROM fed_nonces WHERE nonce = $1 RETURNING address, message, expires_at`, []any{nonce},
		&c.Address, &c.Message, &c.Expires)
	if errors.Is(err, pgx.ErrNoRows) {
		return server.Challenge{}, false, nil
	}
	if err != nil {
		return server.Challenge{}, false, fmt.Errorf("pgstore: take nonce: %w", err)
	}
	if now.After(c.Expires) {
		return server.Challenge{}, false, nil
	}
	c.Expires = c.Expires.UTC()
	return c, true, nil
}

// AddSession implements server.SessionStore.
func (s *Sessions) AddSession(ctx context.Context, token string, sess server.Session, now time.Time) error {
	if err := s.sweep(ctx, now); err != nil {
		return err
	}
	h := sha256.Sum256([]byte(token))
	_, err := s.db.exec(ctx, `INSERT INTO fed_sessions (token_sha256, key, expires_at) VALUES ($1, $2, $3)`,
		h[:], sess.Key.String(), sess.Expires)
	if err != nil {
		return fmt.Errorf("pgstore: add session: %w", err)
	}
	return nil
}

// Session implements server.SessionStore.
func (s *Sessions) Session(ctx context.Context, token string, now time.Time) (server.Session, bool, error) {
	h := sha256.Sum256([]byte(token))
	s.mu.Lock()
	c, ok := s.cache[h]
	s.mu.Unlock()
	if ok && !now.Before(c.read) && now.Sub(c.read) < server.SessionRevokeDelay {
		if now.After(c.Expires) {
			return server.Session{}, false, nil
		}
		return c.Session, true, nil
	}
	var sess server.Session
	var key string
	err := s.db.queryRow(ctx, `SELECT key, expires_at FROM fed_sessions WHERE token_sha256 = $1`, []any{h[:]}, &key, &sess.Expires)
	if errors.Is(err, pgx.ErrNoRows) {
		return server.Session{}, false, nil
	}
	if err != nil {
		return server.Session{}, false, fmt.Errorf("pgstore: read session: %w", err)
	}
	if sess.Key, err = objects.ParsePublicKey(key); err != nil {
		return server.Session{}, false, fmt.Errorf("pgstore: session of key %q: %w", key, err)
	}
	sess.Expires = sess.Expires.UTC()
	if now.After(sess.Expires) {
		return server.Session{}, false, nil
	}
	s.mu.Lock()
	if len(s.cache) >= maxCached {
		clear(s.cache)
	}
	s.cache[h] = cachedSession{sess, now}
	s.mu.Unlock()
	return sess, true, nil
}

// DeleteSession implements server.SessionStore.
func (s *Sessions) DeleteSession(ctx context.Context, token string) error {
	h := sha256.Sum256([]byte(token))
	s.mu.Lock()
	delete(s.cache, h)
	s.mu.Unlock()
	if _, err := s.db.exec(ctx, `DELETE FROM fed_sessions WHERE token_sha256 = $1`, h[:]); err != nil {
		return fmt.Errorf("pgstore: delete session: %w", err)
	}
	return nil
}
