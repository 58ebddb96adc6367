package webui

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/fed-vcs/fed/governing"
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/remote"
	"github.com/fed-vcs/fed/remote/server"
	"github.com/fed-vcs/fed/repo"
)

// CommitPage is a commit's page.
type CommitPage struct {
	Repo    string `json:"repository"`
	RepoURL string `json:"repository_url"`
	CommitRow
	Message string    `json:"message"`
	Files   []FileRow `json:"files"`
	// Tensors are the changed tensors of every model file, file by file
	// in path order and in model order within a file; TensorPager pages
	// them.
	Tensors     []TensorRow `json:"tensors"`
	TensorPager Pager       `json:"tensor_pager"`
	// ProofDetail is the proof held for the commit (absent: none).
	ProofDetail *ProofDetail `json:"proof_detail,omitempty"`
	// Withheld: the weights are not on this server (withheld by their
	// contributor), so tensors could not be compared.
	Withheld bool       `json:"withheld,omitempty"`
	Merge    *MergeInfo `json:"merge,omitempty"`
	// L2Chart and RelChart draw the tensors of this page (HTML only).
	L2Chart  *Chart `json:"-"`
	RelChart *Chart `json:"-"`
}

// FileRow is a changed file.
type FileRow struct {
	Path    string `json:"path"`
	Status  string `json:"status"` // A, D, M
	Format  string `json:"format,omitempty"`
	Tensors int    `json:"tensors"` // tensors changed
}

// TensorRow is a changed tensor.
type TensorRow struct {
	File   string `json:"file"`
	Name   string `json:"name"`
	Status string `json:"status"` // A, D, M, R (moved between shards)
	// L2 is ‖new − old‖₂ and RelChange ‖new − old‖₂ / ‖old‖₂, when both
	// sides are float tensors of one dtype and shape (RelChange absent
	// when ‖old‖₂ is zero).
	L2        *float64 `json:"l2,omitempty"`
	RelChange *float64 `json:"rel_change,omitempty"`
}

// MergeInfo is the merge record of a merge commit fed merge made.
type MergeInfo struct {
	Strategy string     `json:"strategy"`
	Sides    []SideInfo `json:"sides"`
	Chart    *Chart     `json:"-"` // each side's normalised weight
}

// ProofDetail is the proof held for a commit.
type ProofDetail struct {
	ID       string `json:"id"`             // the proof object
	System   string `json:"system"`         // its proof system
	Kind     string `json:"kind,omitempty"` // commitment, update or merge
	Keys     string `json:"keys,omitempty"` // development or ceremony
	Verified bool   `json:"verified"`       // this server verifies every proof pushed to it
	// Unreadable says why kind and keys are absent when the proof's body
	// or key could not be read.
	Unreadable string `json:"unreadable,omitempty"`
}

// proofDetail reads the proof held for commit id.
func (p *Pages) proofDetail(ctx context.Context, rp server.PageRepo, id objects.ID, verified bool) (*ProofDetail, error) {
	pid, err := rp.Repository.Refs().Read(ctx, repo.ProofRef(id))
	if err != nil {
		return nil, err
	}
	o, err := objects.Read(ctx, rp.Repository.Objects(), pid, objects.KindProof)
	if err != nil {
		return nil, fmt.Errorf("proof %s of commit %s: %w", pid.Short(), id.Short(), err)
	}
	pr := o.(*objects.Proof)
	d := &ProofDetail{ID: pid.String(), System: pr.System, Verified: verified}
	if p.opts.DescribeProof != nil {
		if d.Kind, d.Keys, err = p.opts.DescribeProof(ctx, rp.Repository.Objects(), pr); err != nil {
			d.Kind, d.Keys, d.Unreadable = "", "", err.Error()
		}
	}
	return d, nil
}

// SideInfo is one side of a merge.
type SideInfo struct {
	Commit     string  `json:"commit"`
	URL        string  `json:"url"`
	Author     string  `json:"author"`
	AuthorName string  `json:"author_name"`
	Weight     float64 `json:"weight"` // normalised, as recorded
	// Discarded: a robust strategy dropped the side (Selected false) or
	// some of its elements; Reason says why.
	Selected  bool   `json:"selected"`
	Discarded uint64 `json:"discarded"`
	Reason    string `json:"reason,omitempty"`
	Proof     bool   `json:"proof"`
}

func (p *Pages) commitPage(w http.ResponseWriter, r *http.Request, rp server.PageRepo, id objects.ID) {
	ctx := r.Context()
	rr, err := bare(ctx, rp)
	if err != nil {
		p.unsupported(w, r, rp, err)
		return
	}
	if !p.published(w, r, rp, id) {
		return
	}
	c, err := objects.ReadCommit(ctx, rp.Repository.Objects(), id)
	if errors.Is(err, objects.ErrNotFound) {
		p.Problem(w, r, remote.NewProblem(404, remote.CodeNotFound, "no commit %s in %s", id, rp.Name))
		return
	}
	if err != nil {
		p.fail(w, r, err)
		return
	}
	names := readLabels(ctx, rp.Repository)
	row, err := commitRow(ctx, rp, names, id, c)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	page := CommitPage{Repo: rp.Name, RepoURL: server.PagePath(rp.Name, ""), CommitRow: row, Message: c.Message, Files: []FileRow{}, Tensors: []TensorRow{}}
	if row.Proof != "none" {
		if page.ProofDetail, err = p.proofDetail(ctx, rp, id, row.Proof == "verified"); err != nil {
			p.fail(w, r, err)
			return
		}
	}
	parent, err := rr.DiffParent(id, c)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	cs, err := p.changes(ctx, rr, rp, parent, id)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	page.Files = cs.files
	round, err := governing.MergeRound(ctx, rr, id)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	if round != nil {
		m := &MergeInfo{Strategy: round.Strategy, Sides: sideInfos(rp, names, round.Sides)}
		m.Chart = weightChart(m.Sides, round.Sides)
		page.Merge = m
	}
	pager, lo, hi := pageOf(r, len(cs.rows))
	page.TensorPager = pager
	if WantsJSON(r) {
		if page.Tensors, page.Withheld, err = p.statRows(ctx, rr, cs, lo, hi); err != nil {
			p.fail(w, r, err)
			return
		}
		p.answer(w, r, "commit", page)
		return
	}
	p.streamCommit(w, r, rr, cs, page, lo, hi)
}

// streamCommit writes a commit page's HTML as it is computed: the head
// (commit, merge record, files) and each tensor row go out before the
// statistics of the next row are computed, the charts of the page's
// tensors last. What fails once the head is sent cuts the response short
// (the client sees it incomplete, never as a whole page).
func (p *Pages) streamCommit(w http.ResponseWriter, r *http.Request, rr *repo.Repo, cs *changeSet, page CommitPage, lo, hi int) {
	ctx := r.Context()
	// The first row is computed before anything is written: an error
	// there is still an error page.
	withheld := false
	if lo < hi {
		switch err := p.stat(ctx, rr, cs, lo); {
		case errors.Is(err, errWithheld):
			withheld = true
		case err != nil:
			p.fail(w, r, err)
			return
		}
	}
	w.Header().Set("Vary", "Accept")
	htmlHeaders(w)
	w.WriteHeader(200)
	rc := http.NewResponseController(w)
	if err := templates.ExecuteTemplate(w, "commit_head", page); err != nil {
		p.abort(r, fmt.Errorf("render commit page: %w", err))
	}
	for i := lo; i < hi; i++ {
		if _, done := cs.row(i); !done && !withheld {
			_ = rc.Flush() // what is written goes out before the next computation
			switch err := p.stat(ctx, rr, cs, i); {
			case errors.Is(err, errWithheld):
				withheld = true
			case err != nil:
				p.abort(r, err)
			}
		}
		t, _ := cs.row(i)
		page.Tensors = append(page.Tensors, t)
		if err := templates.ExecuteTemplate(w, "commit_tensor", t); err != nil {
			p.abort(r, fmt.Errorf("render commit page: %w", err))
		}
	}
	page.Withheld = withheld
	page.L2Chart = tensorChart("L2 norm of the change", page.Tensors, func(t TensorRow) *float64 { return t.L2 })
	page.RelChart = tensorChart("relative change", page.Tensors, func(t TensorRow) *float64 { return t.RelChange })
	if err := templates.ExecuteTemplate(w, "commit_tail", page); err != nil {
		p.abort(r, fmt.Errorf("render commit page: %w", err))
	}
}

// abort ends a response whose head is sent: logged (unless the visitor
// left), then the connection is cut so that the page shows as
// incomplete.
func (p *Pages) abort(r *http.Request, err error) {
	if r.Context().Err() == nil {
		p.opts.ErrorLog("%s %s: %v (response cut short)", r.Method, r.URL.Path, err)
	}
	panic(http.ErrAbortHandler)
}

// tensorChart draws value of the tensors that have one, in their order.
func tensorChart(title string, ts []TensorRow, value func(TensorRow) *float64) *Chart {
	var bars []Bar
	for _, t := range ts {
		if v := value(t); v != nil {
			label := t.Name
			if strings.Contains(t.File, "/") || len(ts) > 0 && ts[0].File != t.File {
				label = t.File + ": " + t.Name
			}
			bars = append(bars, Bar{Label: label, Value: *v})
		}
	}
	if len(bars) == 0 {
		return nil
	}
	return newChart(title, bars)
}

// published answers 404 and false when id is not published on the
// server (server.PageRepo.Published): a page shows nothing the protocol
// would not serve.
func (p *Pages) published(w http.ResponseWriter, r *http.Request, rp server.PageRepo, id objects.ID) bool {
	if rp.Published == nil {
		return true
	}
	ok, err := rp.Published(r.Context(), id)
	if err != nil {
		p.fail(w, r, err)
		return false
	}
	if !ok {
		p.Problem(w, r, remote.NewProblem(404, remote.CodeNotFound, "no commit %s in %s", id, rp.Name))
	}
	return ok
}
