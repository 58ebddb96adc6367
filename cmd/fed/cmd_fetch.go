package main

import (
	"context"
	"errors"

	"github.com/urfave/cli/v2"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/transfer"
)

type fetchOptions struct {
	remote    string
	json      bool
	unshallow bool
	depth     int
}

func newFetchCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "fetch",
		Usage:     "download a remote's branches and tags",
		ArgsUsage: "[REMOTE]",
		Description: "Downloads what this repository lacks of the remote's branches and tags and moves\n" +
			"refs/remotes/REMOTE/* to them (tags absent locally are created). REMOTE defaults to origin.\n\n" +
			"In a shallow clone (clone --depth), --unshallow fetches the rest of the history and\n" +
			"--depth N the history up to N commits from the remote's tips; neither sends again\n" +
			"what the clone holds.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "unshallow", Usage: "in a shallow clone, fetch the whole history"},
			&cli.IntFlag{Name: "depth", Usage: "in a shallow clone, fetch the history up to `N` commits from the remote's tips"},
			&cli.BoolFlag{Name: "json", Usage: "print the moved refs as JSON"},
		},
		Action: func(c *cli.Context) error {
			args, _, _ := splitDashDash(c.Args().Slice())
			if len(args) > 1 {
				return usageErrorf("fetch takes [REMOTE], got %d arguments", len(args))
			}
			opts := fetchOptions{json: c.Bool("json"), unshallow: c.Bool("unshallow"), depth: c.Int("depth")}
			if c.IsSet("depth") && opts.depth < 1 {
				return usageErrorf("--depth needs a positive number of commits")
			}
			if opts.unshallow && c.IsSet("depth") {
				return usageErrorf("--unshallow fetches the whole history: leave out --depth")
			}
			if len(args) == 1 {
				opts.remote = args[0]
			}
			return runFetch(c.Context, opts, e)
		},
	}
}

type refChangeJSON struct {
	Name string     `json:"name"`
	Old  objects.ID `json:"old"`
	New  objects.ID `json:"new"`
}

func runFetch(ctx context.Context, opts fetchOptions, e *env) error {
	r, err := e.openRepo(opts.json)
	if err != nil {
		return err
	}
	if err := e.loadKey(r); err != nil {
		return err
	}
	fo := transfer.FetchOptions{Remote: opts.remote}
	if opts.unshallow || opts.depth > 0 {
		fo.Deepen, fo.Depth = true, opts.depth
	}
	res, err := transfer.Fetch(ctx, r, fo)
	if errors.Is(err, transfer.ErrNotShallow) {
		return withHint(err, "--unshallow and --depth deepen a clone made with 'fed clone --depth N'")
	}
	if err != nil {
		return remoteError(err)
	}
	printChanges(e, res, opts.json)
	return nil
}

func printChanges(e *env, res *transfer.FetchResult, jsonOut bool) {
	if jsonOut {
		out := []refChangeJSON{}
		for _, c := range res.Changes {
			out = append(out, refChangeJSON{string(c.Name), c.Old, c.New})
		}
		e.printJSON(out)
		return
	}
	for _, c := range res.Changes {
		switch {
		case c.Old.IsZero():
			e.printf("* [new]     %s -> %s\n", c.New.Short(), c.Name.Short())
		case c.New.IsZero():
			e.printf("- [deleted] %s\n", c.Name.Short())
		default:
			e.printf("  %s..%s  %s\n", c.Old.Short(), c.New.Short(), c.Name.Short())
		}
	}
}
