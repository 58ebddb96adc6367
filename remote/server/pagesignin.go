package server

import (
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/remote"
)

// Sign-in to the web pages (doc/protocol.md §10.2): a page's script has
// the visitor's wallet sign the server's sign-in text (a challenge of
// §6.1) and posts the signature to /-/signin; the server checks it as
// POST /fed/v1/login does and answers with a session cookie instead of
// a token. The cookie identifies the visitor to the pages only: the
// protocol's endpoints read bearer tokens and nothing else, and a page
// session's entry in the SessionStore (its token under
// pageSessionPrefix) is never taken for a bearer token. Pages are
// read-only GETs; the one state-changing page request, the sign-in
// POST, must come from the server's own origin.

// PageCookie is the name of the web pages' session cookie.
const PageCookie = "fed-session"

// PageAddressCookie names the key a page session is signed in with, for
// the pages' script to show (not HttpOnly, not a secret: the server
// never reads it).
const PageAddressCookie = "fed-address"

// PageSignInPath is where a page posts a signed sign-in challenge, and
// PageSignOutPath where it asks to drop the session's cookies.
const (
	PageSignInPath  = "/-/signin"
	PageSignOutPath = "/-/signout"
)

// pageSessionPrefix marks a page session's token in the SessionStore.
const pageSessionPrefix = "page:"

// origin is the origin visitors reach the server by: the public URL,
// else the request's scheme and Host.
func (s *Server) origin(r *http.Request) string {
	if s.opts.PublicURL != "" {
		return s.opts.PublicURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + strings.ToLower(r.Host)
}

// ownOrigin reports whether r comes from a page of this server: its
// Origin header is the server's origin and, when sent, Sec-Fetch-Site
// says same-origin. It answers 403 when not.
func (s *Server) ownOrigin(w http.ResponseWriter, r *http.Request, what string) bool {
	want := s.origin(r)
	if got := r.Header.Get("Origin"); !strings.EqualFold(got, want) {
		if got == "" {
			got = "no origin"
		}
		writeProblem(w, remote.NewProblem(403, remote.CodeForbidden, "%s from %s refused: only this server's pages (%s) may post it", what, got, want))
		return false
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		writeProblem(w, remote.NewProblem(403, remote.CodeForbidden, "%s from a %s request refused: only this server's pages may post it", what, site))
		return false
	}
	return true
}

// pageCookies sets the session's cookies: tok and key for maxAge
// seconds, or (maxAge < 0) their removal.
func (s *Server) pageCookies(w http.ResponseWriter, r *http.Request, tok, key string, maxAge int) {
	secure := strings.HasPrefix(s.origin(r), "https:")
	http.SetCookie(w, &http.Cookie{Name: PageCookie, Value: tok, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteStrictMode})
	http.SetCookie(w, &http.Cookie{Name: PageAddressCookie, Value: key, Path: "/", MaxAge: maxAge,
		Secure: secure, SameSite: http.SameSiteStrictMode})
	w.Header().Set("Cache-Control", "no-store")
}

// handlePageSignOut answers POST /-/signout from a page of this server:
// the session ended in the store (every replica stops taking it within
// SessionRevokeDelay), then 204 with the session's cookies removed.
func (s *Server) handlePageSignOut(w http.ResponseWriter, r *http.Request) {
	if !s.ownOrigin(w, r, "sign-out of the pages") {
		return
	}
	if c, err := r.Cookie(PageCookie); err == nil && validPageToken(c.Value) {
		if err := s.opts.Sessions.DeleteSession(r.Context(), pageSessionPrefix+c.Value); err != nil {
			s.sessionsFailed(w, "delete session", err)
			return
		}
	}
	s.pageCookies(w, r, "", "", -1)
	w.WriteHeader(http.StatusNoContent)
}

// handlePageSignIn answers POST /-/signin: a login request (§6.1) from a
// page of this server's origin, answered 204 with the session cookie.
func (s *Server) handlePageSignIn(w http.ResponseWriter, r *http.Request) {
	if !s.ownOrigin(w, r, "sign-in to the pages") {
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != remote.MediaJSON {
		writeProblem(w, remote.NewProblem(400, remote.CodeBadRequest, "sign-in takes a JSON login request (Content-Type %s)", remote.MediaJSON))
		return
	}
	key, ok := s.redeem(w, r)
	if !ok {
		return
	}
	tok := randomString(32)
	exp := s.opts.Now().UTC().Truncate(time.Second).Add(s.opts.TokenTTL)
	if err := s.opts.Sessions.AddSession(r.Context(), pageSessionPrefix+tok, Session{Key: key, Expires: exp}, s.opts.Now()); err != nil {
		s.sessionsFailed(w, "add session", err)
		return
	}
	noteKey(w, &key)
	s.pageCookies(w, r, tok, key.String(), int(s.opts.TokenTTL/time.Second))
	w.WriteHeader(http.StatusNoContent)
}

// identifyPage returns the key of a page request: its bearer token's
// (identify), else its session cookie's. A cookie the store does not
// know (expired, or from before a restart) is no key: the page shows
// what an anonymous visitor sees.
func (s *Server) identifyPage(r *http.Request) (*objects.PublicKey, *remote.Problem, error) {
	if r.Header.Get("Authorization") != "" {
		return s.identify(r)
	}
	c, err := r.Cookie(PageCookie)
	if err != nil || !validPageToken(c.Value) {
		return nil, nil, nil
	}
	sess, ok, err := s.opts.Sessions.Session(r.Context(), pageSessionPrefix+c.Value, s.opts.Now())
	if err != nil || !ok {
		return nil, nil, err
	}
	return &sess.Key, nil, nil
}

// validPageToken reports whether v has the form of a page session token
// (64 lowercase hex digits).
func validPageToken(v string) bool {
	if len(v) != 64 {
		return false
	}
	for _, c := range v {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
