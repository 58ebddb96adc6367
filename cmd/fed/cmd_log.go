package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/refs"
	"github.com/fed-vcs/fed/repo"
)

type logOptions struct {
	oneline       bool
	graph         bool
	max           int
	showSignature bool
	json          bool
	all           bool
	patch         bool
	pretty        string
	format        string
	revs          []string
	keys          bool
}

func newLogCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "log",
		Usage:     "show the commit history",
		ArgsUsage: "[REV | A..B]",
		Description: "Lists the commits reachable from REV (default HEAD; --all: every branch, tag and\n" +
			"remote-tracking branch), newest first. A..B lists those reachable from B but not\n" +
			"from A; an empty side means HEAD. -N is -n N.\n\n" +
			"--pretty=oneline|short|medium|full, or --format=STRING with git's placeholders:\n" +
			"%H %h commit, %T %t tree, %P %p parents (full, abbreviated), %an %ae author (a\n" +
			"public key), %ad %ar %at %ai %aI date (git's, relative, unix, ISO, strict ISO),\n" +
			"%s subject, %b body, %B message, %d %D ref names, %n newline, %% percent.\n" +
			"-p adds each commit's changes against its parent, as 'fed show' prints them\n" +
			"(none for merges).",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "oneline", Usage: "one line per commit"},
			&cli.BoolFlag{Name: "graph", Usage: "draw the history as a graph"},
			&cli.IntFlag{Name: "max-count", Aliases: []string{"n"}, Usage: "show at most `N` commits (-N too)"},
			&cli.BoolFlag{Name: "all", Usage: "start from every branch, tag and remote-tracking branch, and HEAD"},
			&cli.StringFlag{Name: "pretty", Usage: "`FORMAT`: oneline, short, medium, full, format:STRING or tformat:STRING"},
			&cli.StringFlag{Name: "format", Usage: "print each commit as `STRING` with %H, %h, %an, %ad, %s, ... (see above)"},
			&cli.BoolFlag{Name: "patch", Aliases: []string{"p", "u"}, Usage: "show each commit's changes"},
			&cli.BoolFlag{Name: "show-signature", Usage: "verify each commit's signature"},
			&cli.BoolFlag{Name: "keys", Usage: "show authors' keys beside their names (fed collab add KEY --name)"},
			&cli.BoolFlag{Name: "json", Usage: "print JSON"},
		},
		Action: func(c *cli.Context) error {
			revs, _, _ := splitDashDash(c.Args().Slice())
			return runLog(c.Context, logOptions{
				oneline: c.Bool("oneline"), graph: c.Bool("graph"), max: c.Int("max-count"),
				showSignature: c.Bool("show-signature"), json: c.Bool("json"), revs: revs,
				all: c.Bool("all"), patch: c.Bool("patch"), pretty: c.String("pretty"), format: c.String("format"), keys: c.Bool("keys"),
			}, e)
		},
	}
}

// commitJSON is the JSON form of a commit.
type commitJSON struct {
	ID        objects.ID        `json:"id"`
	Tree      objects.ID        `json:"tree"`
	Parents   []objects.ID      `json:"parents"`
	Author    string            `json:"author"`
	Time      string            `json:"time"`
	Message   string            `json:"message"`
	Meta      map[string]string `json:"meta"`
	Signature string            `json:"signature"` // "good", "bad" or "none"
}

func toCommitJSON(id objects.ID, c *objects.Commit) commitJSON {
	j := commitJSON{ID: id, Tree: c.Tree, Parents: c.Parents, Author: c.Author.String(),
		Time: commitTime(c).Format(time.RFC3339), Message: c.Message, Meta: map[string]string{}}
	if j.Parents == nil {
		j.Parents = []objects.ID{}
	}
	for _, kv := range c.Meta {
		j.Meta[kv.Key] = kv.Value
	}
	switch err := objects.VerifyCommit(c); {
	case err == nil:
		j.Signature = "good"
	case errors.Is(err, objects.ErrUnsigned):
		j.Signature = "none"
	default:
		j.Signature = "bad"
	}
	return j
}

func commitTime(c *objects.Commit) time.Time {
	return time.Unix(c.Time, 0).In(time.FixedZone("", int(c.TZ)*60))
}

func runLog(ctx context.Context, opts logOptions, e *env) error {
	if opts.max < 0 {
		return usageErrorf("-n %d: must not be negative", opts.max)
	}
	if len(opts.revs) > 1 {
		return usageErrorf("log takes one REV or A..B, got %d arguments", len(opts.revs))
	}
	if opts.all && len(opts.revs) > 0 {
		return usageErrorf("--all cannot be combined with a revision")
	}
	format, err := parseLogFormat(opts.pretty, opts.format)
	if err != nil {
		return err
	}
	if opts.oneline {
		if opts.pretty != "" || opts.format != "" {
			return usageErrorf("--oneline cannot be combined with --pretty or --format")
		}
		format.name = "oneline-short"
	}
	if opts.json && (opts.oneline || opts.graph || opts.pretty != "" || opts.format != "" || opts.patch) {
		return usageErrorf("--json cannot be combined with --oneline, --graph, --pretty, --format or -p")
	}
	r, err := e.openRepo(opts.json)
	if err != nil {
		return err
	}
	e.setLabels(ctx, r, opts.keys)
	lo := repo.LogOptions{Max: opts.max}
	rev := "HEAD"
	if len(opts.revs) == 1 {
		rev = opts.revs[0]
	}
	if opts.all {
		if lo.Start, err = allStarts(ctx, r); err != nil {
			return err
		}
	} else if a, b, ok := strings.Cut(rev, ".."); ok {
		if a == "" {
			a = "HEAD"
		}
		if b == "" {
			b = "HEAD"
		}
		ex, err := r.Resolve(ctx, a)
		if err != nil {
			return err
		}
		st, err := r.Resolve(ctx, b)
		if err != nil {
			return err
		}
		lo.Start, lo.Exclude = []objects.ID{st}, []objects.ID{ex}
	} else {
		if rev == "HEAD" {
			if h, branch, err := r.Head(); err == nil && h.IsZero() {
				return fmt.Errorf("your current branch '%s' does not have any commits yet", branch.Short())
			}
		}
		id, err := r.Resolve(ctx, rev)
		if err != nil {
			return err
		}
		lo.Start = []objects.ID{id}
	}
	entries, err := r.Log(ctx, lo)
	if err != nil {
		return err
	}
	if opts.json {
		out := make([]commitJSON, 0, len(entries))
		for _, en := range entries {
			out = append(out, toCommitJSON(en.ID, en.Commit))
		}
		return e.printJSON(out)
	}
	deco, err := decorations(r)
	if err != nil {
		return err
	}
	var rows []repo.GraphRow
	if opts.graph {
		rows = repo.Graph(entries)
	}
	now := time.Now()
	prevRest := ""
	for i, en := range entries {
		first, rest := "", ""
		var mid []string
		if opts.graph {
			first, rest, mid = rows[i].Commit, rows[i].Rest, rows[i].Mid
		}
		// the lines of the entry's first line: the graph's Pre lines
		// before it, its Mid lines right after it
		firstLine := func(format string, args ...any) {
			if opts.graph {
				for _, l := range rows[i].Pre {
					e.printf("%s\n", l)
				}
			}
			e.printf(format, args...)
			if len(mid) > 0 && !strings.HasSuffix(format, "\n") {
				e.printf("\n")
			}
			for _, l := range mid {
				e.printf("%s\n", l)
			}
		}
		d := ""
		if names := deco[en.ID]; len(names) > 0 {
			d = " (" + strings.Join(names, ", ") + ")"
		}
		switch format.name {
		case "oneline-short", "oneline":
			id := en.ID.String()
			if format.name == "oneline-short" {
				id = en.ID.Short()
			}
			firstLine("%s%s%s %s\n", first, id, d, subject(en.Commit.Message))
			if opts.showSignature {
				e.printf("%s%s\n", rest, signatureLine(en.Commit))
			}
		case "":
			if i > 0 && !format.term {
				e.printf("\n")
			}
			text := expandFormat(format.tmpl, en.ID, en.Commit, deco[en.ID], now)
			lines := strings.Split(text, "\n")
			for k, l := range lines {
				switch {
				case k == 0 && len(lines) == 1 && !format.term:
					// the line ends with the next entry's separator
					firstLine("%s%s", first, l)
				case k == 0:
					firstLine("%s%s\n", first, l)
				case k == len(lines)-1 && !format.term:
					e.printf("%s%s", rest, l)
				default:
					e.printf("%s%s\n", rest, l)
				}
			}
		default:
			if i > 0 {
				e.printf("%s\n", strings.TrimRight(prevRest, " "))
			}
			firstLine("%scommit %s%s\n", first, en.ID, d)
			printCommitBodyFormat(e, rest, en.Commit, opts.showSignature, format.name)
		}
		if opts.patch && len(en.Commit.Parents) < 2 {
			if err := printLogPatch(ctx, e, r, en, rest); err != nil {
				return err
			}
		}
		prevRest = rest
		if opts.graph {
			for _, l := range rows[i].After {
				e.printf("%s\n", l)
			}
		}
	}
	if format.name == "" && !format.term && len(entries) > 0 {
		e.printf("\n")
	}
	return nil
}

// allStarts is where log --all starts: HEAD and every branch, tag (its
// commit) and remote-tracking branch.
func allStarts(ctx context.Context, r *repo.Repo) ([]objects.ID, error) {
	var out []objects.ID
	if h, _, err := r.Head(); err != nil {
		return nil, err
	} else if !h.IsZero() {
		out = append(out, h)
	}
	for _, prefix := range []string{refs.HeadsPrefix, refs.TagsPrefix, refs.RemotesPrefix} {
		list, err := r.ListRefs(prefix)
		if err != nil {
			return nil, err
		}
		for _, ref := range list {
			id, err := r.Resolve(ctx, ref.ID.String())
			if err != nil {
				continue // a tag of something other than a commit
			}
			out = append(out, id)
		}
	}
	return out, nil
}

// printLogPatch prints what en changed against its parent for log -p, as
// show prints it, each line after prefix (the graph's columns).
func printLogPatch(ctx context.Context, e *env, r *repo.Repo, en repo.LogEntry, prefix string) error {
	parent, err := r.DiffParent(en.ID, en.Commit)
	if err != nil {
		return err
	}
	diffs, err := r.Diff(ctx, repo.DiffSide{Commit: parent}, repo.DiffSide{Commit: en.ID}, repo.DiffOptions{Stats: true})
	if err != nil {
		return fmt.Errorf("log -p: commit %s: %w", en.ID.Short(), err)
	}
	var buf strings.Builder
	pe := *e
	pe.stdout = &buf
	printDiff(&pe, diffs)
	if buf.Len() == 0 {
		return nil
	}
	e.printf("%s\n", strings.TrimRight(prefix, " "))
	for _, l := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
		e.printf("%s\n", strings.TrimRight(prefix+l, " "))
	}
	return nil
}

// printCommitBody prints what follows "commit <id>" in git's format,
// each line after prefix.
func printCommitBody(e *env, prefix string, c *objects.Commit, showSignature bool) {
	printCommitBodyFormat(e, prefix, c, showSignature, "medium")
}

// printCommitBodyFormat is printCommitBody for git's named formats:
// short (author and subject), medium (the default: with date and
// metadata), full (author and signer, whole message, no date).
func printCommitBodyFormat(e *env, prefix string, c *objects.Commit, showSignature bool, format string) {
	if len(c.Parents) > 1 {
		var ps []string
		for _, p := range c.Parents {
			ps = append(ps, p.Short())
		}
		e.printf("%sMerge: %s\n", prefix, strings.Join(ps, " "))
	}
	if showSignature {
		e.printf("%s%s\n", prefix, signatureLine(c))
	}
	e.printf("%sAuthor: %s\n", prefix, e.keyName(c.Author))
	msg := strings.TrimRight(c.Message, "\n")
	switch format {
	case "short":
		msg, _ = splitMessage(c.Message)
	case "full":
		e.printf("%sCommit: %s\n", prefix, c.Author)
	default:
		e.printf("%sDate:   %s\n", prefix, commitTime(c).Format(gitDate))
		for _, kv := range c.Meta {
			e.printf("%s%s: %s\n", prefix, metaLabel(kv.Key), kv.Value)
		}
	}
	e.printf("%s\n", strings.TrimRight(prefix, " "))
	for _, l := range strings.Split(msg, "\n") {
		e.printf("%s    %s\n", prefix, l)
	}
}

func metaLabel(k string) string {
	if k == "samples" {
		return "Samples"
	}
	return "Meta " + k
}

// signatureLine verifies c's signature and says so.
func signatureLine(c *objects.Commit) string {
	switch err := objects.VerifyCommit(c); {
	case err == nil:
		return "Good signature from " + c.Author.String()
	case errors.Is(err, objects.ErrUnsigned):
		return "No signature"
	default:
		return "BAD signature from " + c.Author.String() + ": " + message(err)
	}
}

// decorations maps commit ids to the names pointing at them, git-style:
// "HEAD -> main", "tag: v1", "feature", and "grafted" first for the
// oldest commits of a shallow clone.
func decorations(r *repo.Repo) (map[objects.ID][]string, error) {
	out := map[objects.ID][]string{}
	all, err := r.ListRefs("refs/")
	if err != nil {
		return nil, err
	}
	head, branch, err := r.Head()
	if err != nil {
		return nil, err
	}
	if branch == "" && !head.IsZero() {
		out[head] = append(out[head], "HEAD")
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Name < all[j].Name })
	var rest []refs.Ref
	for _, ref := range all {
		if ref.Name == branch {
			out[ref.ID] = append([]string{"HEAD -> " + ref.Name.Short()}, out[ref.ID]...)
			continue
		}
		rest = append(rest, ref)
	}
	for _, ref := range rest {
		id := ref.ID
		label := ref.Name.Short()
		if strings.HasPrefix(string(ref.Name), refs.TagsPrefix) {
			label = "tag: " + label
			if t, err := r.ReadTag(context.Background(), id); err == nil {
				id = t.Target
			}
		}
		out[id] = append(out[id], label)
	}
	// a shallow clone's oldest commits, whose parents are not here
	shallow, err := r.Shallow()
	if err != nil {
		return nil, err
	}
	for id := range shallow {
		out[id] = append([]string{"grafted"}, out[id]...)
	}
	return out, nil
}
