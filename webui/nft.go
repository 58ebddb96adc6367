package webui

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/refs"
	"github.com/fed-vcs/fed/remote"
	"github.com/fed-vcs/fed/remote/server"
	"github.com/fed-vcs/fed/repo"
)

// NFTSymbol is the symbol of a repository's metadata document.
const NFTSymbol = "FED"

// NFTDocument is a repository's NFT metadata document (doc/protocol.md
// §10): the JSON a wallet or explorer reads at the uri of the
// repository's ownership NFT. It follows the repository as it changes.
type NFTDocument struct {
	Name        string         `json:"name"`
	Symbol      string         `json:"symbol"`
	Description string         `json:"description"`
	Image       string         `json:"image"`        // the card, an SVG the server draws
	ExternalURL string         `json:"external_url"` // the repository's page
	Attributes  []NFTAttribute `json:"attributes"`
}

// NFTAttribute is one trait of an NFTDocument: a number or a string.
type NFTAttribute struct {
	TraitType string `json:"trait_type"`
	Value     any    `json:"value"`
}

// nftStats are what the document and the card say of a repository's
// default branch.
type nftStats struct {
	Branch       string
	Commits      int
	Contributors int
	Proofs       int
	LastMerge    *time.Time
}

func (p *Pages) nftStats(r *http.Request, rp server.PageRepo) (nftStats, error) {
	ctx := r.Context()
	var st nftStats
	rr, err := bare(ctx, rp)
	if err != nil {
		return st, err
	}
	h, err := rp.Repository.Refs().Head(ctx)
	if err != nil {
		return st, err
	}
	if h.Symbolic.IsBranch() {
		st.Branch = h.Symbolic.Short()
	}
	if h.ID.IsZero() {
		return st, nil
	}
	log, err := rr.Log(ctx, repo.LogOptions{Start: []objects.ID{h.ID}})
	if err != nil {
		return st, err
	}
	authors := map[objects.PublicKey]bool{}
	for _, e := range log {
		st.Commits++
		authors[e.Commit.Author] = true
		if len(e.Commit.Parents) > 1 {
			if t := time.Unix(e.Commit.Time, 0).UTC(); st.LastMerge == nil || t.After(*st.LastMerge) {
				st.LastMerge = &t
			}
		}
		if _, err := rp.Repository.Refs().Read(ctx, repo.ProofRef(e.ID)); err == nil {
			st.Proofs++
		}
	}
	st.Contributors = len(authors)
	return st, nil
}

// origin is the scheme and host the visitor reached the server by: the
// public URL when one is set, else the request's.
func (p *Pages) origin(r *http.Request) string {
	if p.opts.PublicURL != "" {
		return p.opts.PublicURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// nftDocument answers /<name>/-/nft.json.
func (p *Pages) nftDocument(w http.ResponseWriter, r *http.Request, rp server.PageRepo) {
	st, err := p.nftStats(r, rp)
	if err != nil {
		p.unsupported(w, r, rp, err)
		return
	}
	base := p.origin(r)
	doc := NFTDocument{
		Name:        rp.Name,
		Symbol:      NFTSymbol,
		Description: fmt.Sprintf("Ownership of the fed repository %s (model weights under version control), hosted at %s.", rp.Name, base),
		Image:       base + server.PagePath(rp.Name, "card.svg"),
		ExternalURL: base + server.PagePath(rp.Name, ""),
		Attributes: []NFTAttribute{
			{"commits", st.Commits},
			{"contributors", st.Contributors},
			{"proofs", st.Proofs},
		},
	}
	if st.Branch != "" {
		doc.Attributes = append(doc.Attributes, NFTAttribute{"branch", st.Branch})
	}
	if st.LastMerge != nil {
		doc.Attributes = append(doc.Attributes, NFTAttribute{"last merge", st.LastMerge.Format(time.RFC3339)})
	}
	p.writeDocument(w, r, doc)
}

// nftRelease answers /<name>/-/nft/<tag>.json: the metadata document of
// the release NFT of tag, 404 when the repository has no such tag.
func (p *Pages) nftRelease(w http.ResponseWriter, r *http.Request, rp server.PageRepo, tag string) {
	ctx := r.Context()
	if refs.ValidateName(string(refs.Tag(tag))) != nil {
		p.Problem(w, r, remote.NewProblem(404, remote.CodeNotFound, "no tag %q in %s", tag, rp.Name))
		return
	}
	id, err := rp.Repository.Refs().Read(ctx, refs.Tag(tag))
	if errors.Is(err, refs.ErrNotFound) {
		p.Problem(w, r, remote.NewProblem(404, remote.CodeNotFound, "no tag %q in %s", tag, rp.Name))
		return
	}
	if err != nil {
		p.fail(w, r, err)
		return
	}
	commit, err := peel(ctx, rp.Repository.Objects(), id)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	c, err := objects.ReadCommit(ctx, rp.Repository.Objects(), commit)
	if err != nil {
		p.fail(w, r, fmt.Errorf("tag %s: %w", tag, err))
		return
	}
	base := p.origin(r)
	proof := "none"
	if _, err := rp.Repository.Refs().Read(ctx, repo.ProofRef(commit)); err == nil {
		proof = "held"
	}
	doc := NFTDocument{
		Name:        rp.Name + " " + tag,
		Symbol:      NFTSymbol,
		Description: fmt.Sprintf("Release %s of the fed repository %s (model weights under version control), hosted at %s.", tag, rp.Name, base),
		Image:       base + server.PagePath(rp.Name, "card.svg"),
		ExternalURL: base + server.PagePath(rp.Name, "commit/"+commit.String()),
		Attributes: []NFTAttribute{
			{"tag", tag},
			{"commit", commit.String()},
			{"tree", c.Tree.String()},
			{"time", time.Unix(c.Time, 0).UTC().Format(time.RFC3339)},
			{"proof", proof},
		},
	}
	p.writeDocument(w, r, doc)
}

// writeDocument writes a metadata document as JSON.
func (p *Pages) writeDocument(w http.ResponseWriter, r *http.Request, doc NFTDocument) {
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		p.fail(w, r, fmt.Errorf("encode the metadata document: %w", err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(200)
	w.Write(append(b, '\n'))
}

// xmlText escapes s for XML text and attribute values.
func xmlText(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

// nftCard answers /<name>/-/card.svg: a card of the repository, its
// name and figures, every string escaped.
func (p *Pages) nftCard(w http.ResponseWriter, r *http.Request, rp server.PageRepo) {
	st, err := p.nftStats(r, rp)
	if err != nil {
		p.unsupported(w, r, rp, err)
		return
	}
	last := "no merge yet"
	if st.LastMerge != nil {
		last = "last merge " + st.LastMerge.Format("2006-01-02 15:04 UTC")
	}
	name := rp.Name
	if len([]rune(name)) > 40 {
		name = string([]rune(name)[:39]) + "…"
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="512" height="512" viewBox="0 0 512 512" role="img" aria-label="%s">`+"\n", xmlText(rp.Name))
	b.WriteString(`<rect width="512" height="512" rx="24" fill="#10243e"/>` + "\n")
	b.WriteString(`<text x="32" y="72" font-family="monospace" font-size="28" fill="#8ecae6">fed</text>` + "\n")
	fmt.Fprintf(&b, `<text x="32" y="150" font-family="sans-serif" font-size="26" font-weight="bold" fill="#ffffff" data-name="%s">%s</text>`+"\n", xmlText(rp.Name), xmlText(name))
	lines := []string{
		fmt.Sprintf("%d commits", st.Commits),
		fmt.Sprintf("%d contributors", st.Contributors),
		fmt.Sprintf("%d proofs", st.Proofs),
		last,
	}
	if st.Branch != "" {
		lines = append([]string{"branch " + st.Branch}, lines...)
	}
	for i, l := range lines {
		fmt.Fprintf(&b, `<text x="32" y="%d" font-family="sans-serif" font-size="20" fill="#d0d8e0">%s</text>`+"\n", 230+36*i, xmlText(l))
	}
	b.WriteString("</svg>\n")
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(200)
	w.Write([]byte(b.String()))
}
