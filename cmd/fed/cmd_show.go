package main

import (
	"context"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/fed-vcs/fed/governing"
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/repo"
)

type showOptions struct {
	rev  string
	stat bool
	json bool
	keys bool
}

func newShowCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "show",
		Usage:     "show a commit: its metadata and the files and tensors it changed",
		ArgsUsage: "[REV | REV:PATH]",
		Description: "Prints the commit REV (default HEAD) and its changes against its first parent,\n" +
			"tensor by tensor. For an annotated tag, prints the tag first. REV:PATH prints the\n" +
			"bytes of the file PATH (from the repository's root) as it is in REV.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "stat", Usage: "one summary line per file"},
			&cli.BoolFlag{Name: "keys", Usage: "show keys beside their names (fed collab add KEY --name)"},
			&cli.BoolFlag{Name: "json", Usage: "print JSON"},
		},
		Action: func(c *cli.Context) error {
			args, _, _ := splitDashDash(c.Args().Slice())
			if len(args) > 1 {
				return usageErrorf("show takes at most one revision")
			}
			return runShow(c.Context, showOptions{rev: c.Args().First(), stat: c.Bool("stat"), json: c.Bool("json"), keys: c.Bool("keys")}, e)
		},
	}
}

type showJSON struct {
	Tag    *tagJSON       `json:"tag,omitempty"`
	Commit commitJSON     `json:"commit"`
	Files  []fileDiffJSON `json:"files"`
	// the reviews and attestations of the commit held here
	Reviews      []recordJSON `json:"reviews,omitempty"`
	Attestations []recordJSON `json:"attestations,omitempty"`
}

func runShow(ctx context.Context, opts showOptions, e *env) error {
	if opts.stat && opts.json {
		return usageErrorf("--stat and --json cannot be used together")
	}
	r, err := e.openRepo(opts.json)
	if err != nil {
		return err
	}
	rev := opts.rev
	if rev == "" {
		rev = "HEAD"
	}
	if frev, p, ok := repo.SplitRevPath(rev); ok {
		if opts.stat || opts.json {
			return usageErrorf("show REV:PATH prints the file's bytes; --stat and --json do not apply")
		}
		return r.WriteFileAt(ctx, frev, p, e.stdout)
	}
	id, err := r.Resolve(ctx, rev)
	if err != nil {
		return err
	}
	c, err := r.ReadCommit(ctx, id)
	if err != nil {
		return err
	}
	// an annotated tag named on the command line
	var tag *objects.Tag
	_, tid, err := r.ResolveRef(rev)
	if err == nil && tid != id {
		if t, err := r.ReadTag(ctx, tid); err == nil {
			tag = t
		}
	}
	e.setLabels(ctx, r, opts.keys)
	reviews, attestations, err := governing.Records(ctx, r, id)
	if err != nil {
		return err
	}
	parent, err := r.DiffParent(id, c)
	if err != nil {
		return err
	}
	diffs, err := r.Diff(ctx, repo.DiffSide{Commit: parent}, repo.DiffSide{Commit: id}, repo.DiffOptions{Stats: !opts.stat})
	if err != nil {
		return err
	}
	if opts.json {
		out := showJSON{Commit: toCommitJSON(id, c), Files: diffJSON(diffs)}
		names := e.names(ctx, r)
		for _, rv := range reviews {
			out.Reviews = append(out.Reviews, reviewJSON(rv, names))
		}
		for _, a := range attestations {
			out.Attestations = append(out.Attestations, attestationJSON(a, names))
		}
		if tag != nil {
			tj := toTagJSON(tag)
			tj.ID = tid
			out.Tag = &tj
		}
		return e.printJSON(out)
	}
	if tag != nil {
		e.printf("tag %s\nTagger: %s\nDate:   %s\n%s\n", tag.Name, tag.Tagger, tagTime(tag).Format("Mon Jan 2 15:04:05 2006 -0700"), tagSignatureLine(tag))
		e.printf("\n%s\n\n", strings.TrimRight(tag.Message, "\n"))
	}
	deco, err := decorations(r)
	if err != nil {
		return err
	}
	d := ""
	if names := deco[id]; len(names) > 0 {
		d = " (" + strings.Join(names, ", ") + ")"
	}
	e.printf("commit %s%s\n", id, d)
	printCommitBody(e, "", c, true)
	printRecords(e, reviews, attestations)
	if len(c.Parents) > 1 && !parent.IsZero() {
		e.printf("\nchanges against the first parent %s:\n", parent.Short())
	}
	if len(diffs) > 0 {
		e.printf("\n")
	}
	if opts.stat {
		printDiffStat(e, diffs)
	} else {
		printDiff(e, diffs)
	}
	return nil
}
