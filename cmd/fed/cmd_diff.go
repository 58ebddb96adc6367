package main

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/fed-vcs/fed/internal/ui"
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/repo"
)

type diffOptions struct {
	names  byte // 'n' --name-only, 's' --name-status
	stat   bool
	json   bool
	cached bool
	args   []string // revisions, then (after "--" or once one does not resolve) paths
	paths  []string
	dash   bool
}

func newDiffCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "diff",
		Usage:     "show changes between commits, the index and the working tree",
		ArgsUsage: "[REV [REV] | A..B] [-- PATH...] | REV:PATH REV:PATH",
		Description: "Like git: no revision compares the index with the working tree; one compares\n" +
			"REV with the working tree; two compare REV with REV; --cached compares REV\n" +
			"(default HEAD) with the index; REV:PATH REV:PATH compares two files of commits.\n" +
			"Model files are compared tensor by tensor: added,\n" +
			"removed and changed tensors, dtype or shape changes, and for changed float\n" +
			"tensors the L2 norm of the change, max |Δ|, relative change ‖Δ‖/‖old‖ and the\n" +
			"cosine similarity of old and new. Metadata (safetensors __metadata__, ONNX\n" +
			"producer fields and metadata_props) is listed apart: key: old -> new.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "stat", Usage: "one summary line per file"},
			&cli.BoolFlag{Name: "json", Usage: "print JSON"},
			&cli.BoolFlag{Name: "cached", Aliases: []string{"staged"}, Usage: "compare with the index instead of the working tree"},
			&cli.BoolFlag{Name: "name-only", Usage: "print only the changed files' paths"},
			&cli.BoolFlag{Name: "name-status", Usage: "print the changed files' paths after A (added), D (deleted) or M (modified)"},
		},
		Action: func(c *cli.Context) error {
			before, after, dash := splitDashDash(c.Args().Slice())
			var names byte
			if c.Bool("name-only") {
				names = 'n'
			}
			if c.Bool("name-status") {
				if names != 0 {
					return usageErrorf("--name-only and --name-status cannot be used together")
				}
				names = 's'
			}
			return runDiff(c.Context, diffOptions{names: names, stat: c.Bool("stat"), json: c.Bool("json"), cached: c.Bool("cached"),
				args: before, paths: after, dash: dash}, e)
		},
	}
}

func runDiff(ctx context.Context, opts diffOptions, e *env) error {
	if opts.stat && opts.json {
		return usageErrorf("--stat and --json cannot be used together")
	}
	if opts.names != 0 && (opts.stat || opts.json) {
		return usageErrorf("--name-only and --name-status cannot be combined with --stat or --json")
	}
	r, err := e.openRepo(opts.json)
	if err != nil {
		return err
	}
	if len(opts.args) > 0 && strings.Contains(opts.args[0], ":") {
		return runDiffRevPaths(ctx, opts, r, e)
	}
	revs := opts.args
	paths := opts.paths
	if !opts.dash {
		// git's guess: leading arguments that name revisions are revisions,
		// the rest paths
		revs = nil
		for i, a := range opts.args {
			if _, err := resolveRange(ctx, r, a); err != nil {
				if _, serr := os.Stat(e.path(a)); serr != nil {
					return withHint(err, "use '--' to separate paths from revisions")
				}
				paths = opts.args[i:]
				break
			}
			revs = append(revs, a)
		}
	}
	var ids []objects.ID
	for _, rv := range revs {
		got, err := resolveRange(ctx, r, rv)
		if err != nil {
			return err
		}
		ids = append(ids, got...)
	}
	var from, to repo.DiffSide
	switch {
	case opts.cached && len(ids) > 1:
		return usageErrorf("diff --cached takes at most one revision")
	case opts.cached:
		rev := "HEAD"
		if len(revs) == 1 {
			rev = revs[0]
		}
		id, err := resolveOrEmpty(ctx, r, rev)
		if err != nil {
			return err
		}
		from, to = repo.DiffSide{Commit: id}, repo.DiffSide{Index: true}
	case len(ids) == 0:
		from, to = repo.DiffSide{Index: true}, repo.DiffSide{Worktree: true}
	case len(ids) == 1:
		from, to = repo.DiffSide{Commit: ids[0]}, repo.DiffSide{Worktree: true}
	case len(ids) == 2:
		from, to = repo.DiffSide{Commit: ids[0]}, repo.DiffSide{Commit: ids[1]}
	default:
		return usageErrorf("diff takes at most two revisions, got %d", len(ids))
	}
	diffs, err := r.Diff(ctx, from, to, repo.DiffOptions{Paths: e.paths(paths), Stats: !opts.stat && opts.names == 0})
	if err != nil {
		return err
	}
	return printDiffResult(e, opts, diffs)
}

// printDiffResult prints diffs as opts ask.
func printDiffResult(e *env, opts diffOptions, diffs []repo.FileDiff) error {
	switch {
	case opts.names != 0:
		printDiffNames(e, diffs, opts.names == 's')
	case opts.json:
		return e.printJSON(diffJSON(diffs))
	case opts.stat:
		printDiffStat(e, diffs)
	default:
		printDiff(e, diffs)
	}
	return nil
}

// runDiffRevPaths compares two files named as git's REV:PATH
// ("fed diff v1:model.safetensors HEAD:model.safetensors").
func runDiffRevPaths(ctx context.Context, opts diffOptions, r *repo.Repo, e *env) error {
	if len(opts.args) != 2 || len(opts.paths) > 0 || opts.cached {
		return usageErrorf("diff of REV:PATH takes two of them: REV:PATH REV:PATH")
	}
	var sides [2]repo.DiffSide
	for i, a := range opts.args {
		rev, p, ok := repo.SplitRevPath(a)
		if !ok {
			return usageErrorf("diff of REV:PATH takes two of them, got %q", a)
		}
		rel, _, err := r.FileAt(ctx, rev, p)
		if err != nil {
			return err
		}
		id, err := r.Resolve(ctx, rev)
		if err != nil {
			return err
		}
		sides[i] = repo.DiffSide{Commit: id, File: rel}
	}
	diffs, err := r.Diff(ctx, sides[0], sides[1], repo.DiffOptions{Stats: !opts.stat && opts.names == 0})
	if err != nil {
		return err
	}
	return printDiffResult(e, opts, diffs)
}

// resolveRange resolves REV, or A..B into two ids.
func resolveRange(ctx context.Context, r *repo.Repo, rev string) ([]objects.ID, error) {
	if a, b, ok := strings.Cut(rev, ".."); ok {
		if a == "" {
			a = "HEAD"
		}
		if b == "" {
			b = "HEAD"
		}
		x, err := r.Resolve(ctx, a)
		if err != nil {
			return nil, err
		}
		y, err := r.Resolve(ctx, b)
		if err != nil {
			return nil, err
		}
		return []objects.ID{x, y}, nil
	}
	id, err := r.Resolve(ctx, rev)
	if err != nil {
		return nil, err
	}
	return []objects.ID{id}, nil
}

// resolveOrEmpty resolves rev; HEAD of an unborn branch is the empty
// commit (ZeroID).
func resolveOrEmpty(ctx context.Context, r *repo.Repo, rev string) (objects.ID, error) {
	if rev == "HEAD" {
		h, _, err := r.Head()
		if err != nil || h.IsZero() {
			return objects.ZeroID, err
		}
	}
	return r.Resolve(ctx, rev)
}

func statusWord(s byte) string {
	switch s {
	case 'A':
		return "added"
	case 'D':
		return "deleted"
	case 'M':
		return "modified"
	case 'R':
		return "moved"
	}
	return string(s)
}

func shapeString(d objects.DType, shape []uint64) string {
	parts := make([]string, len(shape))
	for i, n := range shape {
		parts[i] = strconv.FormatUint(n, 10)
	}
	return fmt.Sprintf("%s [%s]", d, strings.Join(parts, ","))
}

func fnum(f float64) string {
	switch {
	case math.IsNaN(f):
		return "n/a"
	case math.IsInf(f, 1):
		return "inf"
	}
	return strconv.FormatFloat(f, 'g', 4, 64)
}

// printDiff prints each file's header and its tensor table.
func printDiff(e *env, diffs []repo.FileDiff) {
	for i, d := range diffs {
		if i > 0 {
			e.printf("\n")
		}
		a, b := "a/"+d.Path, "b/"+d.Path
		if d.Status == 'A' {
			a = "/dev/null"
		}
		if d.Status == 'D' {
			b = "/dev/null"
		}
		e.printf("diff --fed a/%s b/%s\n", d.Path, d.Path)
		what := "file"
		if !d.Opaque {
			what = d.Format + " model"
		}
		switch d.Status {
		case 'A':
			e.printf("new %s, %s\n", what, ui.Bytes(d.NewSize))
		case 'D':
			e.printf("deleted %s, %s\n", what, ui.Bytes(d.OldSize))
		default:
			e.printf("modified %s, %s -> %s\n", what, ui.Bytes(d.OldSize), ui.Bytes(d.NewSize))
		}
		if d.OldKind != d.NewKind && d.OldKind != 0 && d.NewKind != 0 {
			e.printf("stored as %s, now %s\n", d.OldKind, d.NewKind)
		}
		if d.Opaque && d.Text {
			if d.Hunks != "" {
				e.printf("--- %s\n+++ %s\n%s", a, b, d.Hunks)
			}
			continue
		}
		if d.Opaque {
			e.printf("Binary files %s and %s differ (not a model format fed understands)\n", a, b)
			continue
		}
		if len(d.Meta) > 0 {
			e.printf("metadata:\n")
			for _, m := range d.Meta {
				e.printf("  %s: %s -> %s\n", m.Key, metaValue(m.Old), metaValue(m.New))
			}
		}
		if len(d.Tensors) == 0 {
			if len(d.Meta) > 0 {
				e.printf("tensors unchanged\n")
			} else {
				e.printf("tensors unchanged (only the file's other bytes differ)\n")
			}
			continue
		}
		var buf bytes.Buffer
		tw := tabwriter.NewWriter(&buf, 2, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "  tensor\tchange\tdtype/shape\tL2(Δ)\tmax|Δ|\trelΔ\tcosine\tchanged\n")
		for _, t := range d.Tensors {
			switch t.Status {
			case 'A':
				fmt.Fprintf(tw, "  %s\tadded\t%s\t\t\t\t\t\n", t.Name, shapeString(t.NewDType, t.NewShape))
			case 'D':
				fmt.Fprintf(tw, "  %s\tremoved\t%s\t\t\t\t\t\n", t.Name, shapeString(t.OldDType, t.OldShape))
			case 'R':
				fmt.Fprintf(tw, "  %s\tmoved from %s, unchanged\t%s\t\t\t\t\t\n", t.Name, t.MovedFrom, shapeString(t.NewDType, t.NewShape))
			default:
				if t.OldDType != t.NewDType || !slices.Equal(t.OldShape, t.NewShape) {
					fmt.Fprintf(tw, "  %s\treshaped\t%s -> %s\t\t\t\t\t\n", t.Name, shapeString(t.OldDType, t.OldShape), shapeString(t.NewDType, t.NewShape))
				} else if t.HasStats {
					fmt.Fprintf(tw, "  %s\tchanged\t%s\t%s\t%s\t%s\t%s\t%d/%d\n", t.Name, shapeString(t.NewDType, t.NewShape),
						fnum(t.L2), fnum(t.MaxAbs), fnum(t.RelChange), fnum(t.Cosine), t.Changed, t.Elements)
				} else if t.MovedFrom != "" {
					fmt.Fprintf(tw, "  %s\tchanged, moved from %s\t%s\t\t\t\t\t\n", t.Name, t.MovedFrom, shapeString(t.NewDType, t.NewShape))
				} else {
					fmt.Fprintf(tw, "  %s\tchanged\t%s\t\t\t\t\t\n", t.Name, shapeString(t.NewDType, t.NewShape))
				}
			}
		}
		tw.Flush()
		for _, line := range strings.SplitAfter(buf.String(), "\n") {
			if line != "" {
				e.printf("%s\n", strings.TrimRight(line, " \n"))
			}
		}
	}
}

// printDiffNames prints one changed path per line, after its status
// letter and a tab when status is set (git's --name-only, --name-status).
func printDiffNames(e *env, diffs []repo.FileDiff, status bool) {
	for _, d := range diffs {
		if status {
			e.printf("%c\t%s\n", d.Status, d.Path)
		} else {
			e.printf("%s\n", d.Path)
		}
	}
}

// printDiffStat prints one line per file and a summary.
func printDiffStat(e *env, diffs []repo.FileDiff) {
	width := 0
	for _, d := range diffs {
		width = max(width, len(d.Path))
	}
	for _, d := range diffs {
		var what string
		if d.Opaque && d.Text {
			var add, del int
			for _, l := range strings.Split(d.Hunks, "\n") {
				switch {
				case strings.HasPrefix(l, "+"):
					add++
				case strings.HasPrefix(l, "-"):
					del++
				}
			}
			what = fmt.Sprintf("%d line(s) added, %d removed", add, del)
		} else if d.Opaque {
			what = fmt.Sprintf("Bin %s -> %s", ui.Bytes(d.OldSize), ui.Bytes(d.NewSize))
		} else {
			var add, del, mod int
			for _, t := range d.Tensors {
				switch t.Status {
				case 'A':
					add++
				case 'D':
					del++
				default:
					mod++
				}
			}
			noun := "tensors"
			if mod == 1 {
				noun = "tensor"
			}
			what = fmt.Sprintf("%d %s changed, %d added, %d removed", mod, noun, add, del)
		}
		e.printf(" %-*s | %s: %s\n", width, d.Path, statusWord(d.Status), what)
	}
	s := "s"
	if len(diffs) == 1 {
		s = ""
	}
	e.printf(" %d file%s changed\n", len(diffs), s)
}

type fileDiffJSON struct {
	Path    string           `json:"path"`
	Status  string           `json:"status"` // added, deleted, modified
	OldKind string           `json:"old_kind,omitempty"`
	NewKind string           `json:"new_kind,omitempty"`
	OldID   *objects.ID      `json:"old_id,omitempty"`
	NewID   *objects.ID      `json:"new_id,omitempty"`
	OldSize int64            `json:"old_size"`
	NewSize int64            `json:"new_size"`
	Format  string           `json:"format,omitempty"`
	Opaque  bool             `json:"opaque"`
	Tensors []tensorDiffJSON `json:"tensors"`
	// Metadata: the metadata keys that changed; old or new null when absent
	Metadata []metaChangeJSON `json:"metadata,omitempty"`
	// Hunks: a text file's unified line diff (without ---/+++ lines)
	Hunks string `json:"hunks,omitempty"`
}

type metaChangeJSON struct {
	Key string  `json:"key"`
	Old *string `json:"old"`
	New *string `json:"new"`
}

type tensorDiffJSON struct {
	Name   string `json:"name"`
	Status string `json:"status"`
	// MovedFrom: the shard of a sharded model the tensor moved from
	MovedFrom string     `json:"moved_from,omitempty"`
	OldDType  string     `json:"old_dtype,omitempty"`
	NewDType  string     `json:"new_dtype,omitempty"`
	OldShape  []uint64   `json:"old_shape,omitempty"`
	NewShape  []uint64   `json:"new_shape,omitempty"`
	Stats     *statsJSON `json:"stats,omitempty"`
}

// statsJSON: non-finite values (relative change of a zero tensor, cosine
// with a zero vector) are null.
type statsJSON struct {
	Elements  uint64   `json:"elements"`
	Changed   uint64   `json:"changed"`
	L2        *float64 `json:"l2"`
	MaxAbs    *float64 `json:"max_abs"`
	RelChange *float64 `json:"rel_change"`
	Cosine    *float64 `json:"cosine"`
}

func finite(f float64) *float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil
	}
	return &f
}

func kindName(k objects.Kind) string {
	if k == 0 {
		return ""
	}
	return k.String()
}

func diffJSON(diffs []repo.FileDiff) []fileDiffJSON {
	out := make([]fileDiffJSON, 0, len(diffs))
	for _, d := range diffs {
		j := fileDiffJSON{Path: d.Path, Status: statusWord(d.Status), OldKind: kindName(d.OldKind), NewKind: kindName(d.NewKind),
			OldSize: d.OldSize, NewSize: d.NewSize, Format: d.Format, Opaque: d.Opaque, Tensors: []tensorDiffJSON{}}
		if !d.OldID.IsZero() {
			id := d.OldID
			j.OldID = &id
		}
		if !d.NewID.IsZero() {
			id := d.NewID
			j.NewID = &id
		}
		for _, t := range d.Tensors {
			tj := tensorDiffJSON{Name: t.Name, Status: statusWord(t.Status), MovedFrom: t.MovedFrom, OldDType: string(t.OldDType), NewDType: string(t.NewDType),
				OldShape: t.OldShape, NewShape: t.NewShape}
			if t.HasStats {
				tj.Stats = &statsJSON{Elements: t.Elements, Changed: t.Changed, L2: finite(t.L2), MaxAbs: finite(t.MaxAbs),
					RelChange: finite(t.RelChange), Cosine: finite(t.Cosine)}
			}
			j.Tensors = append(j.Tensors, tj)
		}
		j.Hunks = d.Hunks
		for _, m := range d.Meta {
			j.Metadata = append(j.Metadata, metaChangeJSON{Key: m.Key, Old: m.Old, New: m.New})
		}
		out = append(out, j)
	}
	return out
}
