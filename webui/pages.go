package webui

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/refs"
	"github.com/fed-vcs/fed/remote"
	"github.com/fed-vcs/fed/remote/server"
	"github.com/fed-vcs/fed/repo"
)

// IndexPage is the server page: the repositories the visitor may read.
type IndexPage struct {
	Repositories []IndexRepo `json:"repositories"`
	Pager        Pager       `json:"pager"`
}

// IndexRepo is one repository of the server page.
type IndexRepo struct {
	Name      string `json:"name"`
	URL       string `json:"url"`
	Owner     string `json:"owner"`                // base58 key, or "nobody (why)"
	OwnerName string `json:"owner_name,omitempty"` // from the name map
	// NFT is the mint of the repository NFT linked: Owner is its holder.
	NFT    string `json:"nft,omitempty"`
	Public bool   `json:"public"`
	Branch string `json:"branch,omitempty"` // the default branch
	// Updated is the time of the default branch's newest commit (absent
	// when the branch has none).
	Updated *time.Time `json:"updated,omitempty"`
}

// Index answers the server page.
func (p *Pages) Index(w http.ResponseWriter, r *http.Request, repos []server.PageRepo) {
	ctx := r.Context()
	pager, lo, hi := pageOf(r, len(repos))
	page := IndexPage{Repositories: []IndexRepo{}, Pager: pager}
	for _, rp := range repos[lo:hi] {
		row := IndexRepo{Name: rp.Name, URL: server.PagePath(rp.Name, ""), Owner: rp.Owner, NFT: rp.NFT, Public: rp.Public}
		if k, err := objects.ParsePublicKey(rp.Owner); err == nil {
			row.OwnerName = readLabels(ctx, rp.Repository)[k]
		}
		if h, err := rp.Repository.Refs().Head(ctx); err == nil && h.Symbolic.IsBranch() {
			row.Branch = h.Symbolic.Short()
			if !h.ID.IsZero() {
				if c, err := objects.ReadCommit(ctx, rp.Repository.Objects(), h.ID); err == nil {
					t := time.Unix(c.Time, 0).UTC()
					row.Updated = &t
				}
			}
		}
		page.Repositories = append(page.Repositories, row)
	}
	p.answer(w, r, "index", page)
}

// Repository answers a page of one repository.
func (p *Pages) Repository(w http.ResponseWriter, r *http.Request, rp server.PageRepo, rest string) {
	switch {
	case rest == "":
		p.repoPage(w, r, rp)
	case strings.HasPrefix(rest, "commit/"):
		id, err := objects.ParseID(strings.TrimPrefix(rest, "commit/"))
		if err != nil {
			p.Problem(w, r, remote.NewProblem(404, remote.CodeNotFound, "no commit %q in %s (want a full commit id)", strings.TrimPrefix(rest, "commit/"), rp.Name))
			return
		}
		p.commitPage(w, r, rp, id)
	case rest == "compare":
		p.comparePage(w, r, rp)
	case rest == "nft.json":
		p.nftDocument(w, r, rp)
	case strings.HasPrefix(rest, "nft/") && strings.HasSuffix(rest, ".json") && len(rest) > len("nft/.json"):
		p.nftRelease(w, r, rp, strings.TrimSuffix(strings.TrimPrefix(rest, "nft/"), ".json"))
	case rest == "card.svg":
		p.nftCard(w, r, rp)
	case rest == "rounds":
		p.roundsPage(w, r, rp, "")
	case strings.HasPrefix(rest, "rounds/"):
		p.roundsPage(w, r, rp, strings.TrimPrefix(rest, "rounds/"))
	default:
		p.Problem(w, r, remote.NewProblem(404, remote.CodeNotFound, "no page %s", r.URL.Path))
	}
}

// RepoPage is a repository's page.
type RepoPage struct {
	Name      string      `json:"name"`
	Owner     string      `json:"owner"`
	OwnerName string      `json:"owner_name,omitempty"`
	NFT       string      `json:"nft,omitempty"` // the repository NFT's mint: Owner holds it
	Public    bool        `json:"public"`
	Branch    string      `json:"branch,omitempty"` // the default branch, whose history Commits pages
	RoundsURL string      `json:"rounds_url"`       // its rounds page
	Branches  []RefRow    `json:"branches"`
	Tags      []RefRow    `json:"tags"`
	Commits   []CommitRow `json:"commits"`
	Pager     Pager       `json:"pager"`
	// Readme is the text of the default branch's README.md, MODEL_CARD.md
	// or README at the root of its tree (names compared without regard to
	// case), ReadmeName its name; a README bigger than ReadmeMax bytes is
	// named (and its size given) but its text left out.
	Readme     string        `json:"readme,omitempty"`
	ReadmeName string        `json:"readme_name,omitempty"`
	ReadmeSize uint64        `json:"readme_size,omitempty"`
	ReadmeCut  bool          `json:"readme_cut,omitempty"` // bigger than ReadmeMax: Readme left out
	ReadmeHTML template.HTML `json:"-"`
}

// RefRow is a branch or tag.
type RefRow struct {
	Name   string `json:"name"`
	Commit string `json:"commit"` // the commit it names (a tag's target)
	URL    string `json:"url"`
}

// CommitRow is one commit of a history.
type CommitRow struct {
	ID         string    `json:"id"`
	Short      string    `json:"-"`
	URL        string    `json:"url"`
	Subject    string    `json:"subject"` // the message's first line
	Author     string    `json:"author"`  // base58 key
	AuthorName string    `json:"author_name"`
	Time       time.Time `json:"time"`
	Parents    []string  `json:"parents"`
	Merge      bool      `json:"merge"`
	// Signature is "valid" or "invalid".
	Signature string `json:"signature"`
	// Proof is "verified" (held here, and this server verifies every
	// proof pushed to it), "held" (held here, not verified by the server)
	// or "none".
	Proof string `json:"proof"`
	// Sides are a merge's parents beyond the first, with their authors.
	Sides []SideRef `json:"sides,omitempty"`
	// Graph places the commit in the history's lane column (repository
	// page only).
	Graph *Lanes `json:"graph,omitempty"`
}

func (p *Pages) repoPage(w http.ResponseWriter, r *http.Request, rp server.PageRepo) {
	ctx := r.Context()
	rr, err := bare(ctx, rp)
	if err != nil {
		p.unsupported(w, r, rp, err)
		return
	}
	names := readLabels(ctx, rp.Repository)
	page := RepoPage{Name: rp.Name, Owner: rp.Owner, NFT: rp.NFT, Public: rp.Public, RoundsURL: server.PagePath(rp.Name, "rounds"), Branches: []RefRow{}, Tags: []RefRow{}, Commits: []CommitRow{}}
	if k, err := objects.ParsePublicKey(rp.Owner); err == nil {
		page.OwnerName = names[k]
	}
	st, rs := rp.Repository.Objects(), rp.Repository.Refs()
	for _, prefix := range []string{refs.HeadsPrefix, refs.TagsPrefix} {
		list, err := rs.List(ctx, prefix)
		if err != nil {
			p.fail(w, r, err)
			return
		}
		for _, ref := range list {
			id, err := peel(ctx, st, ref.ID)
			if err != nil {
				p.fail(w, r, fmt.Errorf("%s: %w", ref.Name, err))
				return
			}
			row := RefRow{Name: ref.Name.Short(), Commit: id.String(), URL: server.PagePath(rp.Name, "commit/"+id.String())}
			if prefix == refs.HeadsPrefix {
				page.Branches = append(page.Branches, row)
			} else {
				page.Tags = append(page.Tags, row)
			}
		}
	}
	h, err := rs.Head(ctx)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	var log []repo.LogEntry
	if h.Symbolic.IsBranch() {
		page.Branch = h.Symbolic.Short()
	}
	if !h.ID.IsZero() {
		if c, err := objects.ReadCommit(ctx, st, h.ID); err == nil {
			if page.ReadmeName, page.Readme, page.ReadmeSize, err = readme(ctx, st, c.Tree); err != nil {
				p.fail(w, r, fmt.Errorf("README of %s: %w", h.ID.Short(), err))
				return
			}
			page.ReadmeCut = page.ReadmeSize > ReadmeMax
			page.ReadmeHTML = markdown(page.Readme)
		}
		if log, err = rr.Log(ctx, repo.LogOptions{Start: []objects.ID{h.ID}}); err != nil {
			p.fail(w, r, err)
			return
		}
	}
	pager, lo, hi := pageOf(r, len(log))
	page.Pager = pager
	graph := layoutLanes(log)
	for i, e := range log[lo:hi] {
		row, err := commitRow(ctx, rp, names, e.ID, e.Commit)
		if err != nil {
			p.fail(w, r, err)
			return
		}
		row.Sides, row.Graph = sideRefs(ctx, rp, names, e.Commit), &graph[lo+i]
		page.Commits = append(page.Commits, row)
	}
	p.answer(w, r, "repo", page)
}

// peel returns the commit a ref's id names (a tag object's target).
func peel(ctx context.Context, st objects.Store, id objects.ID) (objects.ID, error) {
	for range 16 {
		o, err := objects.Read(ctx, st, id, 0)
		if err != nil {
			return id, err
		}
		t, ok := o.(*objects.Tag)
		if !ok {
			return id, nil
		}
		id = t.Target
	}
	return id, fmt.Errorf("tag %s: tags nest too deep", id.Short())
}

func commitRow(ctx context.Context, rp server.PageRepo, names labels, id objects.ID, c *objects.Commit) (CommitRow, error) {
	row := CommitRow{ID: id.String(), Short: id.Short(), URL: server.PagePath(rp.Name, "commit/"+id.String()), Subject: firstLine(c.Message),
		Author: c.Author.String(), AuthorName: names.name(c.Author), Time: time.Unix(c.Time, 0).UTC(), Parents: []string{},
		Merge: len(c.Parents) > 1, Signature: "valid", Proof: "none"}
	for _, pa := range c.Parents {
		row.Parents = append(row.Parents, pa.String())
	}
	if objects.VerifyCommit(c) != nil {
		row.Signature = "invalid"
	}
	_, err := rp.Repository.Refs().Read(ctx, repo.ProofRef(id))
	switch {
	case err == nil && rp.CheckProof:
		row.Proof = "verified"
	case err == nil:
		row.Proof = "held"
	case !errors.Is(err, refs.ErrNotFound):
		return row, err
	}
	return row, nil
}

// unsupported answers a page the repository's storage cannot give.
func (p *Pages) unsupported(w http.ResponseWriter, r *http.Request, rp server.PageRepo, err error) {
	if errors.Is(err, errors.ErrUnsupported) {
		p.Problem(w, r, remote.NewProblem(501, remote.CodeInternal, "no page of %s here: %v", rp.Name, err))
		return
	}
	p.fail(w, r, err)
}
