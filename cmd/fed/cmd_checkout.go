package main

import (
	"context"

	"github.com/urfave/cli/v2"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/refs"
	"github.com/fed-vcs/fed/repo"
)

type checkoutOptions struct {
	force bool
	revs  []string
	paths []string
}

func newCheckoutCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "checkout",
		Usage:     "check out a revision (detaching HEAD) or restore files",
		ArgsUsage: "REV | - | [REV] -- PATH...",
		Description: "With a branch name, switches to it (see 'fed switch'). With any other revision,\n" +
			"detaches HEAD at that commit and checks out its files. With paths, restores\n" +
			"those files from REV (into the index too), or from the index when REV is absent,\n" +
			"leaving HEAD where it is.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "discard local changes in the way"},
		},
		Action: func(c *cli.Context) error {
			before, after, dash := splitDashDash(c.Args().Slice())
			opts := checkoutOptions{force: c.Bool("force"), revs: before, paths: after}
			if !dash && len(before) > 1 {
				opts.revs, opts.paths = before[:1], before[1:]
			}
			return runCheckout(c.Context, opts, e)
		},
	}
}

func runCheckout(ctx context.Context, opts checkoutOptions, e *env) error {
	if len(opts.revs) > 1 {
		return usageErrorf("checkout takes one revision, got %d", len(opts.revs))
	}
	if len(opts.revs) == 0 && len(opts.paths) == 0 {
		return usageErrorf("checkout needs a revision or '-- PATH...'")
	}
	r, err := e.openRepo(false)
	if err != nil {
		return err
	}
	if err := e.loadKey(r); err != nil {
		return err
	}
	rev := ""
	if len(opts.revs) == 1 {
		rev = opts.revs[0]
	}
	if len(opts.paths) > 0 {
		if opts.force {
			return usageErrorf("--force is not used when restoring paths (local changes to them are always overwritten)")
		}
		return r.CheckoutPaths(ctx, rev, e.paths(opts.paths))
	}
	if rev == "-" {
		// git's "checkout -": back to where the last switch or checkout came from
		if rev, err = r.PreviousCheckout(1); err != nil {
			return err
		}
	}
	if _, err := r.ReadRef(refs.Branch(rev)); err == nil {
		return runSwitch(ctx, switchOptions{force: opts.force, args: []string{rev}}, e)
	}
	_, wasBranch, err := r.Head()
	if err != nil {
		return err
	}
	id, err := r.Checkout(ctx, rev, opts.force)
	if err != nil {
		return err
	}
	if wasBranch != "" {
		e.note(detachedAdvice, rev)
	}
	e.note("HEAD is now at %s %s\n", id.Short(), commitSubject(ctx, r, id))
	return nil
}

const detachedAdvice = `Note: switching to '%s'.

You are in 'detached HEAD' state. You can look around, make experimental
changes and commit them, and you can discard any commits you make in this
state without impacting any branches by switching back to a branch.

If you want to create a new branch to retain commits you create, you may
do so (now or later) by using -c with the switch command. Example:

  fed switch -c <new-branch-name>

Or go back to your branch with:

  fed switch <branch>

`

func commitSubject(ctx context.Context, r *repo.Repo, id objects.ID) string {
	c, err := r.ReadCommit(ctx, id)
	if err != nil {
		return ""
	}
	return subject(c.Message)
}
