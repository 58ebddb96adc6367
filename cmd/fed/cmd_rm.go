package main

import (
	"context"

	"github.com/urfave/cli/v2"
)

type rmOptions struct {
	cached    bool
	recursive bool
	paths     []string
}

func newRmCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "rm",
		Usage:     "remove files from the working tree and the index",
		ArgsUsage: "PATH...",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "cached", Usage: "only unstage: keep the files in the working tree"},
			&cli.BoolFlag{Name: "r", Usage: "remove directories recursively"},
		},
		Action: func(c *cli.Context) error {
			_, paths, _ := splitDashDashAll(c.Args().Slice())
			return runRm(c.Context, rmOptions{cached: c.Bool("cached"), recursive: c.Bool("r"), paths: paths}, e)
		},
	}
}

func runRm(ctx context.Context, opts rmOptions, e *env) error {
	if len(opts.paths) == 0 {
		return usageErrorf("no paths given to remove")
	}
	r, err := e.openRepo(false)
	if err != nil {
		return err
	}
	before, err := r.ReadIndex()
	if err != nil {
		return err
	}
	if err := r.Remove(ctx, e.paths(opts.paths), opts.cached, opts.recursive); err != nil {
		return err
	}
	after, err := r.ReadIndex()
	if err != nil {
		return err
	}
	for _, x := range before.Entries {
		if _, ok := after.Find(x.Path); !ok && x.Stage == 0 && !e.quiet {
			e.printf("rm '%s'\n", x.Path)
		}
	}
	return nil
}
