package webui

import (
	"cmp"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/remote"
	"github.com/fed-vcs/fed/remote/server"
)

// ComparePage compares two revisions tensor by tensor
// (/<name>/-/compare?from=REV&to=REV&sort=KEY).
type ComparePage struct {
	Repo    string `json:"repository"`
	RepoURL string `json:"repository_url"`
	From    string `json:"from"` // the revisions as given
	To      string `json:"to"`
	FromID  string `json:"from_id"`
	ToID    string `json:"to_id"`
	// Sort is the order of Tensors: "model" (file by file in path order,
	// model order within a file), "name", "l2" or "rel" (largest first,
	// tensors without the statistic last).
	Sort     string      `json:"sort"`
	Files    []FileRow   `json:"files"`
	Tensors  []TensorRow `json:"tensors"`
	Pager    Pager       `json:"tensor_pager"`
	Withheld bool        `json:"withheld,omitempty"`
	// SortURLs link each order (HTML).
	SortURLs map[string]string `json:"-"`
	L2Chart  *Chart            `json:"-"`
	RelChart *Chart            `json:"-"`
}

// sortKeys are the orders of a comparison.
var sortKeys = []string{"model", "name", "l2", "rel"}

func (p *Pages) comparePage(w http.ResponseWriter, r *http.Request, rp server.PageRepo) {
	ctx := r.Context()
	rr, err := bare(rp.Repository)
	if err != nil {
		p.unsupported(w, r, rp, err)
		return
	}
	q := r.URL.Query()
	page := ComparePage{Repo: rp.Name, RepoURL: server.PagePath(rp.Name, ""), From: q.Get("from"), To: q.Get("to"), Sort: q.Get("sort")}
	if page.Sort == "" {
		page.Sort = "model"
	}
	if !slices.Contains(sortKeys, page.Sort) {
		p.Problem(w, r, remote.NewProblem(400, remote.CodeBadRequest, "sort %q: want one of %s", page.Sort, strings.Join(sortKeys, ", ")))
		return
	}
	if page.From == "" || page.To == "" {
		p.Problem(w, r, remote.NewProblem(400, remote.CodeBadRequest, "compare needs from=REV and to=REV"))
		return
	}
	var ids [2]objects.ID
	for i, rev := range []string{page.From, page.To} {
		if ids[i], err = rr.Resolve(ctx, rev); err != nil {
			p.Problem(w, r, remote.NewProblem(404, remote.CodeNotFound, "no revision %q in %s", rev, rp.Name))
			return
		}
		if !p.published(w, r, rp, ids[i]) {
			return
		}
	}
	page.FromID, page.ToID = ids[0].String(), ids[1].String()
	files, all, withheld, err := changes(ctx, rr, ids[0], ids[1])
	if err != nil {
		p.fail(w, r, err)
		return
	}
	page.Files, page.Withheld = files, withheld
	sortTensors(all, page.Sort)
	pager, lo, hi := pageOf(r, len(all))
	page.Pager = pager
	page.Tensors = append([]TensorRow{}, all[lo:hi]...)
	page.L2Chart = tensorChart("L2 norm of the change", page.Tensors, func(t TensorRow) *float64 { return t.L2 })
	page.RelChart = tensorChart("relative change", page.Tensors, func(t TensorRow) *float64 { return t.RelChange })
	page.SortURLs = map[string]string{}
	for _, k := range sortKeys {
		v := url.Values{"from": {page.From}, "to": {page.To}, "sort": {k}}
		page.SortURLs[k] = r.URL.Path + "?" + v.Encode()
	}
	p.answer(w, r, "compare", page)
}

// sortTensors orders ts by key (stable: ties keep model order).
func sortTensors(ts []TensorRow, key string) {
	desc := func(v func(TensorRow) *float64) func(a, b TensorRow) int {
		return func(a, b TensorRow) int {
			x, y := v(a), v(b)
			switch {
			case x == nil && y == nil:
				return 0
			case x == nil:
				return 1
			case y == nil:
				return -1
			}
			return cmp.Compare(*y, *x)
		}
	}
	switch key {
	case "name":
		slices.SortStableFunc(ts, func(a, b TensorRow) int {
			return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.File, b.File))
		})
	case "l2":
		slices.SortStableFunc(ts, desc(func(t TensorRow) *float64 { return t.L2 }))
	case "rel":
		slices.SortStableFunc(ts, desc(func(t TensorRow) *float64 { return t.RelChange }))
	}
}
