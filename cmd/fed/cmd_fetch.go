package main

import (
	"context"

	"github.com/urfave/cli/v2"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/repo"
)

type fetchOptions struct {
	remote string
	json   bool
}

func newFetchCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "fetch",
		Usage:     "download a remote's branches and tags",
		ArgsUsage: "[REMOTE]",
		Description: "Downloads what this repository lacks of the remote's branches and tags and moves\n" +
			"refs/remotes/REMOTE/* to them (tags absent locally are created). REMOTE defaults to origin.",
		Flags: []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print the moved refs as JSON"}},
		Action: func(c *cli.Context) error {
			args, _, _ := splitDashDash(c.Args().Slice())
			if len(args) > 1 {
				return usageErrorf("fetch takes [REMOTE], got %d arguments", len(args))
			}
			opts := fetchOptions{json: c.Bool("json")}
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
	res, err := r.Fetch(ctx, repo.FetchOptions{Remote: opts.remote})
	if err != nil {
		return remoteError(err)
	}
	printChanges(e, res, opts.json)
	return nil
}

func printChanges(e *env, res *repo.FetchResult, jsonOut bool) {
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
