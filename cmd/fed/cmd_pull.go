package main

import (
	"context"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/fed-vcs/fed/mergeexec"
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/transfer"
)

type pullOptions struct {
	remote, branch string
	ffOnly         bool
	strategy       string
	params         []string
}

func newPullCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "pull",
		Usage:     "fetch and bring the current branch up to the remote one",
		ArgsUsage: "[REMOTE [BRANCH]]",
		Description: "Fetches, then fast-forwards the current branch to REMOTE/BRANCH (default: the\n" +
			"branch it was cloned from, else origin and the same name), checking out the new files.\n" +
			"Branches that have diverged are merged (fedavg by default; --strategy, --param),\n" +
			"or refused with --ff-only.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "ff-only", Usage: "refuse to merge diverged branches"},
			&cli.StringFlag{Name: "strategy", Aliases: []string{"s"}, Usage: "merge strategy `S` for diverged branches"},
			&cli.StringSliceFlag{Name: "param", Aliases: []string{"p"}, Usage: "merge parameter `KEY=VALUE`"},
		},
		Action: func(c *cli.Context) error {
			args, _, _ := splitDashDash(c.Args().Slice())
			if len(args) > 2 {
				return usageErrorf("pull takes [REMOTE [BRANCH]], got %d arguments", len(args))
			}
			opts := pullOptions{ffOnly: c.Bool("ff-only"), strategy: c.String("strategy"), params: c.StringSlice("param")}
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
	po := transfer.PullOptions{Remote: opts.remote, Branch: opts.branch}
	var merged *mergeexec.Result // when diverged branches were merged
	if !opts.ffOnly {
		mo := &mergeexec.Options{Strategy: opts.strategy, Params: map[string]string{}}
		for _, p := range opts.params {
			k, v, ok := strings.Cut(p, "=")
			if !ok || k == "" {
				return usageErrorf("--param %q: want KEY=VALUE", p)
			}
			mo.Params[k] = v
		}
		if err := mo.Validate(); err != nil {
			return usageErrorf("%v", err)
		}
		po.Merge = func(ctx context.Context, upstream objects.ID, message string) (objects.ID, error) {
			o := *mo
			o.Message = message
			res, err := mergeexec.Merge(ctx, r, []string{upstream.String()}, o)
			merged = res
			if res == nil {
				return objects.ZeroID, err
			}
			return res.Commit, err
		}
	}
	res, err := transfer.Pull(ctx, r, po)
	if err != nil {
		if merged != nil {
			for _, c := range merged.Conflicts {
				e.printf("CONFLICT %s\n", c)
			}
			return mergeHint(err)
		}
		return remoteError(err)
	}
	switch {
	case merged != nil:
		printMergeReport(e, r, merged)
		e.printCommitLine(r, res.New, false, commitSubject(ctx, r, res.New))
	case res.UpToDate:
		e.note("Already up to date.\n")
	case res.Old.IsZero():
		e.printf("Checked out %s\n", res.New.Short())
	default:
		e.status("Fast-forward %s..%s\n", res.Old.Short(), res.New.Short())
	}
	return nil
}
