package main

import (
	"context"

	"github.com/urfave/cli/v2"

	"github.com/fed-vcs/fed/repo"
)

type pullOptions struct {
	remote, branch string
}

func newPullCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "pull",
		Usage:     "fetch and bring the current branch up to the remote one",
		ArgsUsage: "[REMOTE [BRANCH]]",
		Description: "Fetches, then fast-forwards the current branch to REMOTE/BRANCH (default: the\n" +
			"branch it was cloned from, else origin and the same name), checking out the new files.\n" +
			"Branches that have diverged must be merged.",
		Action: func(c *cli.Context) error {
			args, _, _ := splitDashDash(c.Args().Slice())
			if len(args) > 2 {
				return usageErrorf("pull takes [REMOTE [BRANCH]], got %d arguments", len(args))
			}
			var opts pullOptions
			if len(args) > 0 {
				opts.remote = args[0]
			}
			if len(args) > 1 {
				opts.branch = args[1]
			}
			return runPull(c.Context, opts, e)
		},
	}
}

func runPull(ctx context.Context, opts pullOptions, e *env) error {
	r, err := e.openRepo(false)
	if err != nil {
		return err
	}
	if err := e.loadKey(r); err != nil {
		return err
	}
	res, err := r.Pull(ctx, repo.PullOptions{Remote: opts.remote, Branch: opts.branch})
	if err != nil {
		return remoteError(err)
	}
	switch {
	case res.UpToDate:
		e.note("Already up to date.\n")
	case res.Old.IsZero():
		e.printf("Checked out %s\n", res.New.Short())
	default:
		e.printf("Fast-forward %s..%s\n", res.Old.Short(), res.New.Short())
	}
	return nil
}
