package main

import (
	"context"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/fed-vcs/fed/internal/ui"
)

type gcOptions struct {
	dryRun bool
	prune  string
	json   bool
}

func newGCCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "gc",
		Usage: "remove objects nothing refers to",
		Description: "Removes objects that no ref, reflog entry or index entry reaches and that are\n" +
			"older than the prune period (default 1h; 'now' removes them whatever their age),\n" +
			"and the temporary files (.fed-tmp-*) that killed fed commands left in the working tree.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "dry-run", Aliases: []string{"n"}, Usage: "only count what would be removed"},
			&cli.StringFlag{Name: "prune", Value: "1h", Usage: "spare unreachable objects younger than `DURATION` (e.g. 30m, 2h, now)"},
			&cli.BoolFlag{Name: "json", Usage: "print JSON"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageErrorf("gc takes no arguments")
			}
			return runGC(c.Context, gcOptions{dryRun: c.Bool("dry-run"), prune: c.String("prune"), json: c.Bool("json")}, e)
		},
	}
}

type gcJSON struct {
	DryRun      bool `json:"dry_run"`
	Kept        int  `json:"kept"`
	Removed     int  `json:"removed"`
	Spared      int  `json:"spared"`
	TempRemoved int  `json:"temp_removed"`
	// temporaries of killed commands removed from the working tree
	WorktreeTempRemoved int   `json:"worktree_temp_removed"`
	WorktreeTempBytes   int64 `json:"worktree_temp_bytes"`
}

func runGC(ctx context.Context, opts gcOptions, e *env) error {
	var grace time.Duration
	if opts.prune == "now" {
		grace = time.Nanosecond // repo treats 0 as the default
	} else {
		d, err := time.ParseDuration(opts.prune)
		if err != nil || d <= 0 {
			return usageErrorf("--prune=%s: want a positive duration such as 30m or 2h, or 'now'", opts.prune)
		}
		grace = d
	}
	r, err := e.openRepo(opts.json)
	if err != nil {
		return err
	}
	rep, err := r.GC(ctx, grace, opts.dryRun)
	if err != nil {
		return err
	}
	if opts.json {
		return e.printJSON(gcJSON{DryRun: opts.dryRun, Kept: rep.Kept, Removed: rep.Removed, Spared: rep.Spared, TempRemoved: rep.TempRemoved,
			WorktreeTempRemoved: rep.Worktree.Files, WorktreeTempBytes: rep.Worktree.Bytes})
	}
	verb := "removed"
	if opts.dryRun {
		verb = "would remove"
	}
	e.printf("%s %d unreachable objects; kept %d, spared %d younger than %s\n", verb, rep.Removed, rep.Kept, rep.Spared, opts.prune)
	if rep.Worktree.Files > 0 {
		e.printf("%s %d temporary files (%s) that interrupted commands left in the working tree\n", verb, rep.Worktree.Files, ui.Bytes(rep.Worktree.Bytes))
	}
	return nil
}
