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

// PageSignInPath is where a page posts a signed sign-in challenge.
const PageSignInPath = "/-/signin"

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

// handlePageSignIn answers POST /-/signin: a login request (§6.1) from a
// page of this server's origin, answered 204 with the session cookie.
func (s *Server) handlePageSignIn(w http.ResponseWriter, r *http.Request) {
	want := s.origin(r)
	if got := r.Header.Get("Origin"); !strings.EqualFold(got, want) {
		if got == "" {
			got = "no origin"
		}
		writeProblem(w, remote.NewProblem(403, remote.CodeForbidden, "sign-in to the pages from %s refused: only this server's pages (%s) may post it", got, want))
		return
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		writeProblem(w, remote.NewProblem(403, remote.CodeForbidden, "sign-in to the pages from a %s request refused: only this server's pages may post it", site))
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
	http.SetCookie(w, &http.Cookie{Name: PageCookie, Value: tok, Path: "/", MaxAge: int(s.opts.TokenTTL / time.Second),
		HttpOnly: true, Secure: strings.HasPrefix(want, "https:"), SameSite: http.SameSiteStrictMode})
	w.Header().Set("Cache-Control", "no-store")
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
