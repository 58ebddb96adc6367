package webui

import (
	_ "embed"
	"net/http"
	"strconv"

	"github.com/fed-vcs/fed/remote"
)

// signinJS is the pages' one script: sign-in with a Solana wallet
// (doc/protocol.md §10.2), optional; the pages work without it.
//
//go:embed static/signin.js
var signinJS []byte

// contentSecurityPolicy is sent with every HTML page: scripts from this
// origin only (the sign-in script; nothing inline), styles inline, no
// frames around the page (its sign-in button), fetches to this origin.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// htmlHeaders sets the headers of an HTML page.
func htmlHeaders(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", contentSecurityPolicy)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "same-origin")
}

// Asset answers /-/<name>: signin.js.
func (p *Pages) Asset(w http.ResponseWriter, r *http.Request, name string) {
	if name != "signin.js" {
		p.Problem(w, r, remote.NewProblem(404, remote.CodeNotFound, "no page %s", r.URL.Path))
		return
	}
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Header().Set("Content-Length", strconv.Itoa(len(signinJS)))
	w.WriteHeader(200)
	if r.Method != http.MethodHead {
		w.Write(signinJS)
	}
}
