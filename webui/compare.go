package webui

import (
	"cmp"
	"errors"
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
	rr, err := bare(ctx, rp)
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
	cs, err := p.changes(ctx, rr, rp, ids[0], ids[1])
	if err != nil {
		p.fail(w, r, err)
		return
	}
	page.Files = cs.files
	// Ordered by a statistic, every tensor's is needed; in model or name
	// order, only those of the page shown.
	n := len(cs.rows)
	if page.Sort == "l2" || page.Sort == "rel" {
		if _, page.Withheld, err = p.statRows(ctx, rr, cs, 0, n); err != nil {
			p.fail(w, r, err)
			return
		}
	}
	all := make([]TensorRow, n)
	for i := range all {
		all[i], _ = cs.row(i)
	}
	order := sortOrder(all, page.Sort)
	pager, lo, hi := pageOf(r, n)
	page.Pager = pager
	page.Tensors = []TensorRow{}
	for _, i := range order[lo:hi] {
		if !page.Withheld {
			switch err := p.stat(ctx, rr, cs, i); {
			case errors.Is(err, errWithheld):
				page.Withheld = true
			case err != nil:
				p.fail(w, r, err)
				return
			}
		}
		t, _ := cs.row(i)
		page.Tensors = append(page.Tensors, t)
	}
	page.L2Chart = tensorChart("L2 norm of the change", page.Tensors, func(t TensorRow) *float64 { return t.L2 })
	page.RelChart = tensorChart("relative change", page.Tensors, func(t TensorRow) *float64 { return t.RelChange })
	page.SortURLs = map[string]string{}
	for _, k := range sortKeys {
		v := url.Values{"from": {page.From}, "to": {page.To}, "sort": {k}}
		page.SortURLs[k] = r.URL.Path + "?" + v.Encode()
	}
	p.answer(w, r, "compare", page)
}

// sortOrder returns the indexes of ts in the order of key (stable: ties
// keep model order).
func sortOrder(ts []TensorRow, key string) []int {
	order := make([]int, len(ts))
	for i := range order {
		order[i] = i
	}
	desc := func(v func(TensorRow) *float64) func(a, b int) int {
		return func(a, b int) int {
			x, y := v(ts[a]), v(ts[b])
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
		slices.SortStableFunc(order, func(a, b int) int {
			return cmp.Or(strings.Compare(ts[a].Name, ts[b].Name), strings.Compare(ts[a].File, ts[b].File))
		})
	case "l2":
		slices.SortStableFunc(order, desc(func(t TensorRow) *float64 { return t.L2 }))
	case "rel":
		slices.SortStableFunc(order, desc(func(t TensorRow) *float64 { return t.RelChange }))
	}
	return order
}
