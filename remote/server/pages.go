package server

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/remote"
)

// Web pages (doc/protocol.md, "Web pages"): with Options.Pages set, fed
// serve answers GET and HEAD of every path outside /fed/ and the
// operational endpoints with a page Pages builds. The server routes the
// request, knows the visitor's key (the bearer token of the protocol, or
// the session cookie of a sign-in with a wallet, pagesignin.go) and
// applies the protocol's access rules before Pages sees a repository: a private repository's pages are refused as its
// protocol endpoints are (401 without a key, 404 to a key that may not
// read it), so a page never tells a private repository from an absent
// one.

// Pages builds the web pages of fed serve (package webui's). Its methods
// write the whole answer, as HTML or as its JSON twin.
type Pages interface {
	// Index answers the server page (path /) with the repositories the
	// visitor may read, sorted by name.
	Index(w http.ResponseWriter, r *http.Request, repos []PageRepo)
	// Repository answers a page of a repository the visitor may read:
	// rest is the path after /<name>, "" for the repository page, else
	// what follows /<name>/-/ (commit/<id>, …).
	Repository(w http.ResponseWriter, r *http.Request, repo PageRepo, rest string)
	// Problem answers a refusal or an error, with p's status.
	Problem(w http.ResponseWriter, r *http.Request, p *remote.Problem)
	// Asset answers GET or HEAD of /-/<name>, a file of the pages' own
	// (their sign-in script), to anyone; 404 for a name it does not
	// know.
	Asset(w http.ResponseWriter, r *http.Request, name string)
}

// PageRepo is a repository as a page sees it.
type PageRepo struct {
	Name string
	// Repository is the hosted repository, opened by the server.
	Repository Repository
	// Owner is who owns it now: a base58 key, or "nobody (why)".
	Owner string
	// NFT is the base58 mint of the repository NFT the settings link
	// (empty: none); Owner is then its holder, as Repository.NFTHolder
	// says (cached by hosting), or nobody.
	NFT     string
	Public  bool
	Created time.Time
	// CheckProof: the server verifies every proof pushed to it
	// (Features.CheckProof), so a proof held here was verified.
	CheckProof bool
	// Published reports whether id is published (protocol §6.7: reachable
	// from a branch or tag, or a proof ref of such a commit). A page shows
	// only published objects: what a refused or interrupted push uploaded
	// stays as invisible as the protocol keeps it.
	Published func(ctx context.Context, id objects.ID) (bool, error)
}

// PagePath returns the path of a page of repository name: /<name>, or
// /<name>/-/<rest>.
func PagePath(name, rest string) string {
	if rest == "" {
		return "/" + name
	}
	return "/" + name + remote.RepoSeparator + rest
}

// servePage answers a request for a web page.
func (s *Server) servePage(w http.ResponseWriter, r *http.Request) {
	pages := s.opts.Pages
	if (r.URL.Path == PageSignInPath || r.URL.Path == PageSignOutPath) && r.Method == http.MethodPost {
		if _, _, ok := s.admit(w, r, func(p *remote.Problem) { writeProblem(w, p) }); !ok {
			return
		}
		if r.URL.Path == PageSignInPath {
			s.handlePageSignIn(w, r)
		} else {
			s.handlePageSignOut(w, r)
		}
		return
	}
	if r.URL.Path == PageSignInPath || r.URL.Path == PageSignOutPath {
		w.Header().Set("Allow", "POST")
		s.pageProblem(w, r, remote.NewProblem(405, remote.CodeBadRequest, "%s takes POST", r.URL.Path))
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		s.pageProblem(w, r, remote.NewProblem(405, remote.CodeBadRequest, "web pages take GET"))
		return
	}
	key, authErr, ok := s.admitBy(w, r, s.identifyPage, func(p *remote.Problem) { s.pageProblem(w, r, p) })
	if !ok {
		return
	}
	if authErr != nil {
		s.pageProblem(w, r, authErr)
		return
	}
	if name, ok := strings.CutPrefix(r.URL.Path, "/-/"); ok {
		pages.Asset(w, r, name)
		return
	}
	if r.URL.Path == "/" {
		s.serveIndex(w, r, key)
		return
	}
	name, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), remote.RepoSeparator)
	name = strings.TrimSuffix(name, "/")
	if remote.ValidateRepoName(name) != nil {
		s.pageProblem(w, r, remote.NewProblem(404, remote.CodeNotFound, "no page %s", r.URL.Path))
		return
	}
	c := &call{s: s, w: w, r: r, name: name, key: key, page: true}
	rp, ok := c.readable()
	if !ok {
		return
	}
	m, err := rp.snapshotMeta(r.Context())
	if err != nil {
		c.internal(err)
		return
	}
	pages.Repository(w, r, PageRepo{Name: name, Repository: rp.hosted, Owner: c.ownership(rp, &m).String(), NFT: m.NFT, Public: m.Public,
		Created: m.Created, CheckProof: s.features.CheckProof, Published: rp.publishedNow}, rest)
}

// serveIndex answers the server page: the repositories key may read.
func (s *Server) serveIndex(w http.ResponseWriter, r *http.Request, key *objects.PublicKey) {
	names, err := s.hosting.Names(r.Context())
	if err != nil {
		c := &call{s: s, w: w, r: r, key: key, page: true}
		c.internal(err)
		return
	}
	slices.Sort(names)
	var out []PageRepo
	for _, name := range names {
		c := &call{s: s, w: w, r: r, name: name, key: key}
		rp, err := s.open(r.Context(), name, nil)
		if errors.Is(err, errNoRepo) {
			continue // removed meanwhile
		}
		if err != nil {
			c.page = true
			c.internal(err)
			return
		}
		m, err := rp.snapshotMeta(r.Context())
		if err != nil {
			c.page = true
			c.internal(err)
			return
		}
		if !c.canRead(rp, &m) {
			continue
		}
		out = append(out, PageRepo{Name: name, Repository: rp.hosted, Owner: c.ownership(rp, &m).String(), NFT: m.NFT, Public: m.Public,
			Created: m.Created, CheckProof: s.features.CheckProof, Published: rp.publishedNow})
	}
	s.opts.Pages.Index(w, r, out)
}

// pageProblem answers p as a page (Pages.Problem).
func (s *Server) pageProblem(w http.ResponseWriter, r *http.Request, p *remote.Problem) {
	noteProblem(w, p.Code)
	s.opts.Pages.Problem(w, r, p)
}

// pageRoute names a page for logs and metrics: page:/ (the server page),
// page:/{repo}, page:/{repo}/-/commit/{id}, page:/{repo}/-/rounds,
// page:/{repo}/-/compare, page:/{repo}/-/nft.json, page:/{repo}/-/nft/{tag}.json,
// page:/{repo}/-/card.svg, page:/-/signin, page:/-/signout, page:/-/{asset},
// page:other; and the
// repository it shows.
func pageRoute(path string) (route, repo string) {
	if path == "/" {
		return "page:/", ""
	}
	if path == PageSignInPath {
		return "page:/-/signin", ""
	}
	if path == PageSignOutPath {
		return "page:/-/signout", ""
	}
	if strings.HasPrefix(path, "/-/") {
		return "page:/-/{asset}", ""
	}
	name, rest, _ := strings.Cut(strings.TrimPrefix(path, "/"), remote.RepoSeparator)
	name = strings.TrimSuffix(name, "/")
	if remote.ValidateRepoName(name) != nil {
		return "page:other", ""
	}
	switch {
	case rest == "":
		return "page:/{repo}", name
	case strings.HasPrefix(rest, "commit/"):
		return "page:/{repo}/-/commit/{id}", name
	case rest == "rounds" || strings.HasPrefix(rest, "rounds/"):
		return "page:/{repo}/-/rounds", name
	case rest == "compare":
		return "page:/{repo}/-/compare", name
	case rest == "nft.json":
		return "page:/{repo}/-/nft.json", name
	case strings.HasPrefix(rest, "nft/"):
		return "page:/{repo}/-/nft/{tag}.json", name
	case rest == "card.svg":
		return "page:/{repo}/-/card.svg", name
	}
	return "page:other", name
}

// publishedNow reports whether id is published as of the refs now.
func (rp *repository) publishedNow(ctx context.Context, id objects.ID) (bool, error) {
	if err := rp.refreshPublished(ctx); err != nil {
		return false, err
	}
	return rp.isPublished(id), nil
}
