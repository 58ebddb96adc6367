package webui

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fed-vcs/fed/governing"
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/refs"
	"github.com/fed-vcs/fed/remote"
	"github.com/fed-vcs/fed/remote/server"
)

// RoundsPage is a branch's rounds: the merges fed merge recorded on its
// first-parent line, oldest first (`fed contributors BRANCH`), with the
// attestations of each merge commit.
type RoundsPage struct {
	Repo    string     `json:"repository"`
	RepoURL string     `json:"repository_url"`
	Branch  string     `json:"branch"`
	Rounds  []RoundRow `json:"rounds"`
	Pager   Pager      `json:"pager"`
	// Contributors sums every round of the branch, as fed contributors
	// does (by share, then weight, then key).
	Contributors []ContributorRow `json:"contributors"`
	// Charts draw each attested metric over the rounds of this page
	// (HTML only).
	Charts []*LineChart `json:"-"`
}

// RoundRow is one round.
type RoundRow struct {
	Number       int              `json:"number"` // from 1, oldest first
	Commit       string           `json:"commit"`
	URL          string           `json:"url"`
	Time         time.Time        `json:"time"`
	Strategy     string           `json:"strategy"`
	Sides        []SideInfo       `json:"sides"`
	Attestations []AttestationRow `json:"attestations"`
	Chart        *Chart           `json:"-"`
}

// AttestationRow is an attestation of a round's merge commit.
type AttestationRow struct {
	Signer     string             `json:"signer"`
	SignerName string             `json:"signer_name"`
	Metrics    map[string]float64 `json:"metrics"`
}

// ContributorRow is one key's part over the rounds.
type ContributorRow struct {
	Key       string  `json:"key"`
	Name      string  `json:"name"`
	Rounds    int     `json:"rounds"`
	Updates   int     `json:"updates"`
	Discarded int     `json:"discarded"`
	Weight    float64 `json:"weight"`
	Share     float64 `json:"share"`
}

func (p *Pages) roundsPage(w http.ResponseWriter, r *http.Request, rp server.PageRepo, branch string) {
	ctx := r.Context()
	rr, err := bare(ctx, rp)
	if err != nil {
		p.unsupported(w, r, rp, err)
		return
	}
	rs := rp.Repository.Refs()
	if branch == "" {
		h, err := rs.Head(ctx)
		if err != nil {
			p.fail(w, r, err)
			return
		}
		branch = h.Symbolic.Short()
	}
	tip, err := rs.Read(ctx, refs.Branch(branch))
	if err != nil {
		p.Problem(w, r, remote.NewProblem(404, remote.CodeNotFound, "no branch %q in %s", branch, rp.Name))
		return
	}
	rep, err := governing.Contributors(ctx, rr, tip.String())
	if err != nil {
		p.fail(w, r, err)
		return
	}
	names := readLabels(ctx, rp.Repository)
	page := RoundsPage{Repo: rp.Name, RepoURL: server.PagePath(rp.Name, ""), Branch: branch, Rounds: []RoundRow{}, Contributors: []ContributorRow{}}
	for _, c := range rep.Contributors {
		row := ContributorRow{Key: c.Key, Name: c.Key, Rounds: c.Rounds, Updates: c.Updates, Discarded: c.Discarded, Weight: c.Weight, Share: c.Share}
		if k, err := objects.ParsePublicKey(c.Key); err == nil {
			row.Name = names.name(k)
		}
		page.Contributors = append(page.Contributors, row)
	}
	pager, lo, hi := pageOf(r, len(rep.Rounds))
	page.Pager = pager
	metrics := map[string]bool{}
	for i, rd := range rep.Rounds[lo:hi] {
		c, err := objects.ReadCommit(ctx, rp.Repository.Objects(), rd.Commit)
		if err != nil {
			p.fail(w, r, err)
			return
		}
		row := RoundRow{Number: lo + i + 1, Commit: rd.Commit.String(), URL: server.PagePath(rp.Name, "commit/"+rd.Commit.String()),
			Time: time.Unix(c.Time, 0).UTC(), Strategy: rd.Strategy, Sides: sideInfos(rp, names, rd.Sides), Attestations: []AttestationRow{}}
		row.Chart = weightChart(row.Sides, rd.Sides)
		_, atts, err := governing.Records(ctx, rr, rd.Commit)
		if err != nil {
			p.fail(w, r, err)
			return
		}
		for _, a := range atts {
			ar := AttestationRow{Signer: a.Signer.String(), SignerName: names.name(a.Signer), Metrics: map[string]float64{}}
			for _, m := range a.Metrics {
				ar.Metrics[m.Name] = m.Value
				metrics[m.Name] = true
			}
			row.Attestations = append(row.Attestations, ar)
		}
		page.Rounds = append(page.Rounds, row)
	}
	for _, m := range slices.Sorted(mapKeys(metrics)) {
		page.Charts = append(page.Charts, metricChart(m, page.Rounds))
	}
	p.answer(w, r, "rounds", page)
}

func mapKeys(m map[string]bool) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// sideInfos describes the sides of a round.
func sideInfos(rp server.PageRepo, names labels, sides []governing.Side) []SideInfo {
	out := []SideInfo{}
	for _, s := range sides {
		out = append(out, SideInfo{Commit: s.Commit.String(), URL: server.PagePath(rp.Name, "commit/"+s.Commit.String()), Author: s.Key,
			AuthorName: names.name(s.Contributor), Weight: s.Weight, Selected: s.Selected, Discarded: s.Discarded, Reason: s.Reason, Proof: s.Proof})
	}
	return out
}

// weightChart draws each side's normalised weight, discarded sides grey.
func weightChart(infos []SideInfo, sides []governing.Side) *Chart {
	var bars []Bar
	for i, si := range infos {
		label := si.AuthorName + " " + sides[i].Commit.Short()
		if !si.Selected {
			label += " (discarded)"
		}
		bars = append(bars, Bar{Label: label, Value: si.Weight, Muted: !si.Selected})
	}
	return newChart("normalised weight of each side", bars)
}

// LineChart is a metric over rounds, drawn as an SVG polyline.
type LineChart struct {
	Title         string
	Width, Height int
	Points        []Point
	Polyline      string // "x,y x,y …"
	Min, Max      string
}

// Point is one round's value (the mean of its attestations' values).
type Point struct {
	X, Y  int
	Round int
	Value float64
	Data  string
}

// metricChart draws metric over the rounds that have it.
func metricChart(metric string, rounds []RoundRow) *LineChart {
	const w, h, pad = 600, 160, 20
	var pts []Point
	for _, rd := range rounds {
		sum, n := 0.0, 0
		for _, a := range rd.Attestations {
			if v, ok := a.Metrics[metric]; ok {
				sum, n = sum+v, n+1
			}
		}
		if n > 0 {
			pts = append(pts, Point{Round: rd.Number, Value: sum / float64(n)})
		}
	}
	lo, hi := 0.0, 0.0
	for i, pt := range pts {
		if i == 0 || pt.Value < lo {
			lo = pt.Value
		}
		if i == 0 || pt.Value > hi {
			hi = pt.Value
		}
	}
	var poly []string
	for i := range pts {
		pt := &pts[i]
		pt.X = pad
		if len(pts) > 1 {
			pt.X = pad + i*(w-2*pad)/(len(pts)-1)
		}
		pt.Y = h / 2
		if hi > lo {
			pt.Y = h - pad - int((pt.Value-lo)/(hi-lo)*float64(h-2*pad)+0.5)
		}
		pt.Data = strconv.FormatFloat(pt.Value, 'g', -1, 64)
		poly = append(poly, fmt.Sprintf("%d,%d", pt.X, pt.Y))
	}
	return &LineChart{Title: metric, Width: w, Height: h, Points: pts, Polyline: strings.Join(poly, " "), Min: fmtG(lo), Max: fmtG(hi)}
}
