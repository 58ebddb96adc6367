package webui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/fed-vcs/fed/governance"
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/refs"
	"github.com/fed-vcs/fed/remote"
	"github.com/fed-vcs/fed/remote/server"
	"github.com/fed-vcs/fed/repo"
)

// PageSize is how many rows (repositories, commits, tensors) a page
// lists; ?page=N shows the Nth.
const PageSize = 50

// Options configure Pages.
type Options struct {
	// Now returns the current time (default time.Now).
	Now func() time.Time
	// ErrorLog receives internal errors (default: dropped).
	ErrorLog func(format string, args ...any)
	// PublicURL is the origin visitors reach the server by
	// (scheme://host[:port], as server.ParsePublicURL returns it: fed
	// serve --public-url, behind a reverse proxy). Absolute URLs in pages
	// and documents start with it; "": the scheme and Host of each
	// request.
	PublicURL string
	// CacheBytes bounds the comparisons (files, tensors, statistics) the
	// pages keep in memory, by their estimated size (default
	// DefaultCacheBytes; negative: none kept).
	CacheBytes int64
	// Computed, when set, is called as the pages compute what that cache
	// keeps: "changes" as a comparison is listed, "tensor" as one
	// tensor's statistics are computed (tests count them).
	Computed func(what string)
	// DescribeProof, when set, reads a held proof object's kind
	// ("commitment", "update", "merge") and the origin of the keys it was
	// made with ("development", "ceremony"), verifying nothing; fed serve
	// sets proving.Describe (webui does not import the zk layer). Unset,
	// a commit page shows a proof's system only.
	DescribeProof func(ctx context.Context, st objects.Store, p *objects.Proof) (kind, keys string, err error)
}

// Pages is fed serve's web pages, a server.Pages.
type Pages struct {
	opts  Options
	cache *changeCache
}

var _ server.Pages = (*Pages)(nil)

// New returns the pages of opts.
func New(opts Options) *Pages {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ErrorLog == nil {
		opts.ErrorLog = func(string, ...any) {}
	}
	if opts.Computed == nil {
		opts.Computed = func(string) {}
	}
	switch {
	case opts.CacheBytes == 0:
		opts.CacheBytes = DefaultCacheBytes
	case opts.CacheBytes < 0:
		opts.CacheBytes = 0
	}
	return &Pages{opts: opts, cache: newChangeCache(opts.CacheBytes)}
}

// Pager says which page of a list is shown.
type Pager struct {
	Page  int  `json:"page"`  // from 1
	Size  int  `json:"size"`  // rows a page
	Total int  `json:"total"` // rows in all
	Prev  bool `json:"-"`
	Next  bool `json:"-"`
	// PrevURL and NextURL link the neighbouring pages (HTML).
	PrevURL string `json:"-"`
	NextURL string `json:"-"`
}

// pageOf returns the bounds of the requested page of total rows.
func pageOf(r *http.Request, total int) (Pager, int, int) {
	n, err := strconv.Atoi(r.URL.Query().Get("page"))
	if err != nil || n < 1 {
		n = 1
	}
	p := Pager{Page: n, Size: PageSize, Total: total}
	lo := min((n-1)*PageSize, total)
	hi := min(lo+PageSize, total)
	p.Prev, p.Next = n > 1, hi < total
	link := func(k int) string {
		q := r.URL.Query()
		q.Set("page", strconv.Itoa(k))
		return r.URL.Path + "?" + q.Encode()
	}
	if p.Prev {
		p.PrevURL = link(n - 1)
	}
	if p.Next {
		p.NextURL = link(n + 1)
	}
	return p, lo, hi
}

// WantsJSON reports whether r asks for a page's JSON twin: ?format=json,
// or an Accept header naming application/json and not text/html.
func WantsJSON(r *http.Request) bool {
	switch r.URL.Query().Get("format") {
	case "json":
		return true
	case "html":
		return false
	}
	a := r.Header.Get("Accept")
	return strings.Contains(a, "application/json") && !strings.Contains(a, "text/html")
}

// answer writes page v as HTML (template name) or as JSON.
func (p *Pages) answer(w http.ResponseWriter, r *http.Request, name string, v any) {
	w.Header().Set("Vary", "Accept")
	if WantsJSON(r) {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			p.fail(w, r, fmt.Errorf("encode %s page: %w", name, err))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
		w.WriteHeader(200)
		w.Write(append(b, '\n'))
		return
	}
	var buf strings.Builder
	if err := templates.ExecuteTemplate(&buf, name, v); err != nil {
		p.fail(w, r, fmt.Errorf("render %s page: %w", name, err))
		return
	}
	htmlHeaders(w)
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(200)
	w.Write([]byte(buf.String()))
}

// fail answers an internal error (logged; 503 when storage could not
// answer).
func (p *Pages) fail(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		return
	}
	p.opts.ErrorLog("%s %s: %v", r.Method, r.URL.Path, err)
	if errors.Is(err, objects.ErrUnavailable) {
		w.Header().Set("Retry-After", "1")
		p.Problem(w, r, remote.NewProblem(503, remote.CodeUnavailable, "storage unavailable; retry later"))
		return
	}
	p.Problem(w, r, remote.NewProblem(500, remote.CodeInternal, "internal error"))
}

// problemPage is the HTML of a refusal.
type problemPage struct {
	Title  string
	Status int
	Detail string
}

// Problem answers p: as the protocol's problem document to a JSON
// client, else as an HTML page with the same status.
func (p *Pages) Problem(w http.ResponseWriter, r *http.Request, pr *remote.Problem) {
	if WantsJSON(r) {
		b, _ := json.Marshal(pr)
		w.Header().Set("Content-Type", remote.MediaProblem)
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		w.WriteHeader(pr.Status)
		w.Write(b)
		return
	}
	var buf strings.Builder
	if err := templates.ExecuteTemplate(&buf, "problem", problemPage{Title: pr.Title, Status: pr.Status, Detail: pr.Detail}); err != nil {
		buf.Reset()
		buf.WriteString("error\n")
	}
	htmlHeaders(w)
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(pr.Status)
	w.Write([]byte(buf.String()))
}

// bare returns package repo's view of a hosted repository over the stores
// the server opened, wherever they are kept, for the request of ctx.
func bare(ctx context.Context, rp server.PageRepo) (*repo.Repo, error) {
	return repo.OpenHosted(ctx, rp.Name, rp.Repository.Objects(), rp.Repository.Refs(), nil)
}

// labels names keys by the repository's name map (governance.NamesRef),
// when it has one.
type labels map[objects.PublicKey]string

func readLabels(ctx context.Context, rp server.Repository) labels {
	id, err := rp.Refs().Read(ctx, refs.Name(governance.NamesRef))
	if err != nil {
		return nil
	}
	c, err := objects.ReadCommit(ctx, rp.Objects(), id)
	if err != nil {
		return nil
	}
	rec, err := governance.Parse(id, c)
	if err != nil {
		return nil
	}
	if n, ok := rec.(*governance.Names); ok {
		return n.Labels
	}
	return nil
}

// name is the label of k, else k shortened.
func (l labels) name(k objects.PublicKey) string {
	if s := l[k]; s != "" {
		return s
	}
	return shortKey(k.String())
}

// shortKey shortens a base58 key for display: first and last four.
func shortKey(s string) string {
	if len(s) <= 12 {
		return s
	}
	return s[:4] + "…" + s[len(s)-4:]
}

// finite returns &v when v is a finite number (JSON has no ∞ or NaN).
func finite(v float64) *float64 {
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return nil
	}
	return &v
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
