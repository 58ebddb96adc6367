package main

import (
	"context"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/fed-vcs/fed/repo"
)

type initOptions struct {
	dir string
}

func newInitCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "init",
		Usage:     "create an empty repository",
		ArgsUsage: "[DIR]",
		Description: "Creates DIR/.fed (DIR defaults to the current directory, created if missing)\n" +
			"with branch main and no commits.",
		Action: func(c *cli.Context) error {
			if c.NArg() > 1 {
				return usageErrorf("init takes at most one directory, got %d arguments", c.NArg())
			}
			return runInit(c.Context, initOptions{dir: c.Args().First()}, e)
		},
	}
}

func runInit(ctx context.Context, opts initOptions, e *env) error {
	dir := e.workdir()
	if opts.dir != "" {
		dir = e.path(opts.dir)
	}
	r, err := repo.Init(dir)
	if err != nil {
		return err
	}
	if !e.quiet {
		e.printf("Initialized empty fed repository in %s\n", filepath.Join(r.Root, repo.DirName))
	}
	return nil
}
