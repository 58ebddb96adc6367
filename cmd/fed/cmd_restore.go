package main

import (
	"context"

	"github.com/urfave/cli/v2"

	"github.com/fed-vcs/fed/repo"
)

type restoreOptions struct {
	source           string
	staged, worktree bool
	paths            []string
}

func newRestoreCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "restore",
		Usage:     "restore files in the working tree or the index",
		ArgsUsage: "[--source REV] [--staged] [--worktree] PATH...",
		Description: "Brings PATHs back as git restore does. By default the working tree's files from\n" +
			"the index (discarding unstaged changes); --staged the index's entries from HEAD\n" +
			"(unstaging, and leaving the files alone); both flags, both from HEAD. --source REV\n" +
			"restores from REV instead. A path REV does not have is deleted from what is\n" +
			"restored. Local changes to the paths are overwritten.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "source", Aliases: []string{"s"}, Usage: "restore from `REV`"},
			&cli.BoolFlag{Name: "staged", Aliases: []string{"S"}, Usage: "restore the index"},
			&cli.BoolFlag{Name: "worktree", Aliases: []string{"W"}, Usage: "restore the working tree (the default without --staged)"},
		},
		Action: func(c *cli.Context) error {
			_, paths, _ := splitDashDashAll(c.Args().Slice())
			return runRestore(c.Context, restoreOptions{source: c.String("source"), staged: c.Bool("staged"),
				worktree: c.Bool("worktree"), paths: paths}, e)
		},
	}
}

func runRestore(ctx context.Context, opts restoreOptions, e *env) error {
	if len(opts.paths) == 0 {
		return usageErrorf("restore needs at least one PATH")
	}
	r, err := e.openRepo(false)
	if err != nil {
		return err
	}
	return r.Restore(ctx, e.paths(opts.paths), repo.RestoreOptions{Source: opts.source, Staged: opts.staged, Worktree: opts.worktree})
}
