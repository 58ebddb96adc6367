package webui

import (
	"context"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/remote/server"
	"github.com/fed-vcs/fed/repo"
)

// SideRef is a side of a merge in a history: a parent beyond the first.
type SideRef struct {
	ID         string `json:"id"`
	URL        string `json:"url"`
	Author     string `json:"author,omitempty"` // absent when the commit is not held
	AuthorName string `json:"author_name,omitempty"`
}

// sideRefs returns the sides of commit c (parents beyond the first).
func sideRefs(ctx context.Context, rp server.PageRepo, names labels, c *objects.Commit) []SideRef {
	var out []SideRef
	if len(c.Parents) < 2 {
		return nil
	}
	for _, pa := range c.Parents[1:] {
		s := SideRef{ID: pa.String(), URL: server.PagePath(rp.Name, "commit/"+pa.String())}
		if pc, err := objects.ReadCommit(ctx, rp.Repository.Objects(), pa); err == nil {
			s.Author, s.AuthorName = pc.Author.String(), names.name(pc.Author)
		}
		out = append(out, s)
	}
	return out
}

// Lane drawing: each lane is laneW wide, each row rowH high.
const (
	laneW = 12
	rowH  = 24
)

// Lanes is one row of the history's lane column: the commit sits on lane
// Lane; Lines are the SVG segments of the row (lanes passing by, lanes
// joining the commit from above, the commit's lines to its parents
// below).
type Lanes struct {
	Lane  int        `json:"lane"`
	Width int        `json:"-"`
	X     int        `json:"-"` // the commit's dot
	Lines []laneLine `json:"-"`
}

type laneLine struct{ X1, Y1, X2, Y2 int }

func laneX(i int) int { return i*laneW + laneW/2 }

// layoutLanes places the commits of log (children before parents) on
// lanes: a commit takes the leftmost lane waiting for it (else a new
// one), its first parent continues that lane and each other parent gets
// a lane of its own unless one waits for it already; the other lanes
// waiting for the commit end in it.
func layoutLanes(log []repo.LogEntry) []Lanes {
	var lanes []objects.ID // what each lane waits for; zero: free
	out := make([]Lanes, len(log))
	const mid = rowH / 2
	for i, e := range log {
		row := Lanes{Lane: -1}
		for j, w := range lanes {
			if w == e.ID {
				if row.Lane < 0 {
					row.Lane = j
					row.Lines = append(row.Lines, laneLine{laneX(j), 0, laneX(j), mid})
				} else {
					row.Lines = append(row.Lines, laneLine{laneX(j), 0, laneX(row.Lane), mid})
					lanes[j] = objects.ZeroID
				}
			}
		}
		if row.Lane < 0 {
			row.Lane = len(lanes)
			for j, w := range lanes {
				if w.IsZero() {
					row.Lane = j
					break
				}
			}
			if row.Lane == len(lanes) {
				lanes = append(lanes, objects.ZeroID)
			}
		}
		for j, w := range lanes {
			if j != row.Lane && !w.IsZero() {
				row.Lines = append(row.Lines, laneLine{laneX(j), 0, laneX(j), rowH})
			}
		}
		lanes[row.Lane] = objects.ZeroID
		for k, pa := range e.Commit.Parents {
			if k == 0 {
				lanes[row.Lane] = pa
				row.Lines = append(row.Lines, laneLine{laneX(row.Lane), mid, laneX(row.Lane), rowH})
				continue
			}
			to := -1
			for j, w := range lanes {
				if w == pa {
					to = j
					break
				}
			}
			if to < 0 {
				for j, w := range lanes {
					if w.IsZero() && j != row.Lane {
						to = j
						break
					}
				}
				if to < 0 {
					to = len(lanes)
					lanes = append(lanes, objects.ZeroID)
				}
				lanes[to] = pa
			}
			row.Lines = append(row.Lines, laneLine{laneX(row.Lane), mid, laneX(to), rowH})
		}
		for len(lanes) > 0 && lanes[len(lanes)-1].IsZero() {
			lanes = lanes[:len(lanes)-1]
		}
		w := row.Lane + 1
		for _, l := range row.Lines {
			w = max(w, l.X1/laneW+1, l.X2/laneW+1)
		}
		row.Width, row.X = w*laneW, laneX(row.Lane)
		out[i] = row
	}
	return out
}
