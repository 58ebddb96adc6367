package main

import (
	"context"

	"github.com/urfave/cli/v2"

	"github.com/fed-vcs/fed/refs"
)

type reflogOptions struct {
	max  int
	args []string
}

func newReflogCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "reflog",
		Usage:     "show where HEAD or a branch has been",
		ArgsUsage: "[show] [REF]",
		Description: "Lists the moves of REF (default HEAD), newest first, as git does:\n" +
			"'<id> HEAD@{N}: <why it moved>'. HEAD@{N} (or @{N}, main@{N}) names the commit a\n" +
			"ref held N moves ago in any command that takes a revision; @{-N} is the branch\n" +
			"or commit the N-th last switch or checkout came from ('fed switch -' is @{-1}).\n" +
			"The reflog keeps what it names from 'fed gc'.",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "max-count", Aliases: []string{"n"}, Usage: "show at most `N` entries (-N too)"},
		},
		Action: func(c *cli.Context) error {
			args, _, _ := splitDashDash(c.Args().Slice())
			return runReflog(c.Context, reflogOptions{max: c.Int("max-count"), args: args}, e)
		},
	}
}

func runReflog(ctx context.Context, opts reflogOptions, e *env) error {
	args := opts.args
	if len(args) > 0 && args[0] == "show" {
		args = args[1:]
	}
	if len(args) > 1 {
		return usageErrorf("reflog takes one ref, got %d", len(args))
	}
	if opts.max < 0 {
		return usageErrorf("-n %d: must not be negative", opts.max)
	}
	r, err := e.openRepo(false)
	if err != nil {
		return err
	}
	name := "HEAD"
	if len(args) == 1 {
		name = args[0]
	}
	full, entries, err := r.Reflog(name)
	if err != nil {
		return err
	}
	label := full.Short()
	if full == refs.Name("HEAD") {
		label = "HEAD"
	}
	for i, en := range entries {
		if opts.max > 0 && i >= opts.max {
			break
		}
		e.printf("%s %s@{%d}: %s\n", en.New.Short(), label, i, en.Message)
	}
	return nil
}
