package webui

import (
	"context"
	"errors"
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
	rr, err := bare(rp.Repository)
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
	parent, err := rr.DiffParent(id, c)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	files, all, withheld, err := changes(ctx, rr, parent, id)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	page.Files, page.Withheld = files, withheld
	pager, lo, hi := pageOf(r, len(all))
	page.TensorPager = pager
	page.Tensors = append(page.Tensors, all[lo:hi]...)
	page.L2Chart = tensorChart("L2 norm of the change", page.Tensors, func(t TensorRow) *float64 { return t.L2 })
	page.RelChart = tensorChart("relative change", page.Tensors, func(t TensorRow) *float64 { return t.RelChange })
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
	p.answer(w, r, "commit", page)
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

// changes compares commit to with from (zero: nothing) file by file and
// tensor by tensor, with statistics; withheld: some weights are not here,
// so only the files are listed.
func changes(ctx context.Context, rr *repo.Repo, from, to objects.ID) (files []FileRow, tensors []TensorRow, withheld bool, err error) {
	diffs, err := rr.Diff(ctx, repo.DiffSide{Commit: from}, repo.DiffSide{Commit: to}, repo.DiffOptions{Stats: true})
	if err != nil && errors.Is(err, objects.ErrNotFound) {
		withheld = true
		diffs, err = rr.Diff(ctx, repo.DiffSide{Commit: from}, repo.DiffSide{Commit: to}, repo.DiffOptions{})
	}
	if err != nil {
		return nil, nil, false, err
	}
	files, tensors = []FileRow{}, []TensorRow{}
	for _, d := range diffs {
		files = append(files, FileRow{Path: d.Path, Status: string(d.Status), Format: d.Format, Tensors: len(d.Tensors)})
		for _, t := range d.Tensors {
			tr := TensorRow{File: d.Path, Name: t.Name, Status: string(t.Status)}
			if t.HasStats {
				tr.L2, tr.RelChange = finite(t.L2), finite(t.RelChange)
			}
			tensors = append(tensors, tr)
		}
	}
	return files, tensors, withheld, nil
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
