package repo

import (
	"context"
	"slices"
	"strings"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/objects/graph"
)

// LogEntry is one commit of a history listing.
type LogEntry struct {
	ID     objects.ID
	Commit *objects.Commit
}

// LogOptions tune Log.
type LogOptions struct {
	Start   []objects.ID // list commits reachable from these
	Exclude []objects.ID // but not from these (A..B: Exclude A, Start B)
	Max     int          // 0: no limit
	// FirstParent follows only first parents.
	FirstParent bool
}

// Log lists commits newest first: children always before their parents,
// otherwise by commit time (then id, so the order is deterministic;
// graph.NewestFirst).
func (r *Repo) Log(ctx context.Context, opts LogOptions) ([]LogEntry, error) {
	excluded := map[objects.ID]bool{}
	if len(opts.Exclude) > 0 {
		ex, err := r.reachable(ctx, opts.Exclude, nil, opts.FirstParent)
		if err != nil {
			return nil, err
		}
		excluded = ex
	}
	shallow, err := r.Shallow()
	if err != nil {
		return nil, err
	}
	var entries []graph.Entry
	walk := graph.History{
		Parents: graph.Boundary(shallow, opts.FirstParent),
		Stop:    func(id objects.ID) bool { return excluded[id] },
	}
	err = walk.Run(ctx, r.Objects, opts.Start, func(id objects.ID, c *objects.Commit) error {
		if shallow[id] {
			// a shallow clone's oldest commit: its parents are not here
			cc := *c
			cc.Parents = nil
			c = &cc
		}
		entries = append(entries, graph.Entry{ID: id, Commit: c})
		return nil
	})
	if err != nil {
		return nil, err
	}
	sorted, err := graph.NewestFirst(entries, opts.FirstParent, opts.Max)
	if err != nil {
		return nil, err
	}
	out := make([]LogEntry, len(sorted))
	for i, e := range sorted {
		out[i] = LogEntry{e.ID, e.Commit}
	}
	return out, nil
}

// reachable returns the commits reachable from starts, stopping at stop
// and at the shallow boundary.
func (r *Repo) reachable(ctx context.Context, starts []objects.ID, stop map[objects.ID]bool, firstParent bool) (map[objects.ID]bool, error) {
	shallow, err := r.Shallow()
	if err != nil {
		return nil, err
	}
	h := graph.History{Parents: graph.Boundary(shallow, firstParent), Stop: func(id objects.ID) bool { return stop[id] }}
	return h.Reachable(ctx, r.Objects, starts...)
}

// Reachable returns the commits reachable from starts, up to the shallow
// boundary.
func (r *Repo) Reachable(ctx context.Context, starts ...objects.ID) (map[objects.ID]bool, error) {
	return r.reachable(ctx, starts, nil, false)
}

// IsAncestor reports whether a is an ancestor of (or equal to) b.
func (r *Repo) IsAncestor(ctx context.Context, a, b objects.ID) (bool, error) {
	shallow, err := r.Shallow()
	if err != nil {
		return false, err
	}
	return graph.History{Parents: graph.Boundary(shallow, false)}.IsAncestor(ctx, r.Objects, a, b)
}

// GraphRow is what log --graph draws around one entry: Pre lines, the
// entry's first line after Commit ("* ", "| * ", "*-. " for an octopus
// merge), Mid lines right after that first line, the rest of the entry's
// lines after Rest, then After lines.
type GraphRow struct {
	Pre    []string
	Commit string
	Mid    []string
	Rest   string
	After  []string
}

// Graph returns the graph drawing of each entry of a Log listing. Lines
// are drawn as git draws them: a merge opens a lane for each parent it
// adds ("|\"; an octopus merge of k new lanes "*-." on its own line and
// "|\ \" below it, lanes to its right first moved out of the way), a
// lane that reaches a commit another lane already waits for joins it
// ("|/").
func Graph(entries []LogEntry) []GraphRow {
	var lanes []objects.ID
	rows := make([]GraphRow, len(entries))
	for n, e := range entries {
		row := &rows[n]
		col := -1
		for i, l := range lanes {
			if l == e.ID {
				col = i
				break
			}
		}
		if col < 0 {
			lanes = append(lanes, e.ID)
			col = len(lanes) - 1
		}
		// the extra parents that get a lane of their own
		ps := e.Commit.Parents
		var opened []objects.ID
		for _, p := range ps[min(1, len(ps)):] {
			dup := slices.Contains(lanes, p) || slices.Contains(opened, p)
			if !dup {
				opened = append(opened, p)
			}
		}
		waiting := 0 // other lanes waiting for this commit
		for i := col + 1; i < len(lanes); i++ {
			if lanes[i] == e.ID {
				waiting++
			}
		}
		joins := len(ps) > 0 && slices.Contains(lanes, ps[0]) && lanes[col] != ps[0]
		if len(opened) >= 2 && waiting == 0 && !joins {
			octopus(row, lanes, col, opened)
			lanes = slices.Insert(lanes, col+1, opened...)
			lanes[col] = ps[0]
			continue
		}
		var b strings.Builder
		for i := range lanes {
			if i == col {
				b.WriteString("* ")
			} else {
				b.WriteString("| ")
			}
		}
		row.Commit = b.String()
		row.Rest = strings.ReplaceAll(row.Commit, "*", "|")
		if len(ps) == 0 {
			row.Rest = strings.TrimSuffix(row.Rest, "| ") + "  "
		}
		// other lanes waiting for this commit join it
		merged := 0
		for i := len(lanes) - 1; i > col; i-- {
			if lanes[i] == e.ID {
				lanes = append(lanes[:i], lanes[i+1:]...)
				merged++
			}
		}
		if len(ps) == 0 {
			lanes = append(lanes[:col], lanes[col+1:]...)
		} else {
			lanes[col] = ps[0]
			lanes = slices.Insert(lanes, col+1, opened...)
		}
		if len(ps) > 0 {
			// the first parent already has a lane: this lane joins it now
			for i := range lanes {
				if i != col && lanes[i] == ps[0] {
					hi, lo := max(i, col), min(i, col)
					lanes = append(lanes[:hi], lanes[hi+1:]...)
					row.After = append(row.After, strings.Repeat("| ", lo)+"|/")
					break
				}
			}
		}
		if merged > 0 {
			row.After = append(row.After, strings.Repeat("| ", col)+"|/")
		}
		for range opened {
			row.After = append(row.After, strings.Repeat("| ", col)+"|\\")
		}
	}
	return rows
}

// octopus draws a merge at column col that opens k ≥ 2 lanes, as git
// does: the r lanes to its right first move k−1 columns out of the way
// (one '\' line per column), the merge's line reads "*-." (2k−3 dashes),
// and the line below it fans out to the k new lanes while the right lanes
// move one column more.
func octopus(row *GraphRow, lanes []objects.ID, col int, opened []objects.ID) {
	k, r := len(opened), len(lanes)-col-1
	left := strings.Repeat("| ", col)
	line := func(cells map[int]byte) string {
		n := 0
		for c := range cells {
			n = max(n, c+1)
		}
		b := []byte(strings.Repeat(" ", n))
		for c, ch := range cells {
			b[c] = ch
		}
		return left + strings.TrimRight(string(b), " ")
	}
	// char positions relative to the merge's column
	if r > 0 {
		for t := 1; t < k; t++ {
			cells := map[int]byte{0: '|'}
			for j := 1; j <= r; j++ {
				cells[2*j+2*t-1] = '\\'
			}
			row.Pre = append(row.Pre, line(cells))
		}
	}
	row.Commit = left + "*" + strings.Repeat("-", 2*k-3) + ". " + strings.Repeat("| ", r)
	cells := map[int]byte{0: '|'}
	for j := 1; j <= k; j++ {
		cells[2*j-1] = '\\'
	}
	for j := 1; j <= r; j++ {
		cells[2*(k-1+j)+1] = '\\'
	}
	row.Mid = append(row.Mid, line(cells))
	row.Rest = left + strings.Repeat("| ", 1+k+r)
}

// DiffParent returns the commit that show and log -p compare commit id
// (c) against: its first parent, or none for a root commit and for a
// shallow clone's oldest commits, whose parents are not here (git shows
// those as grafted: their files as added).
func (r *Repo) DiffParent(id objects.ID, c *objects.Commit) (objects.ID, error) {
	if len(c.Parents) == 0 {
		return objects.ZeroID, nil
	}
	shallow, err := r.Shallow()
	if err != nil {
		return objects.ZeroID, err
	}
	if shallow[id] {
		return objects.ZeroID, nil
	}
	return c.Parents[0], nil
}
