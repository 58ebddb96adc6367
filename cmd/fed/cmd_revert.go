package main

import (
	"context"

	"github.com/urfave/cli/v2"

	"github.com/fed-vcs/fed/mergeexec"
)

type revertOptions struct {
	mainline int
	noCommit bool
	message  string
	args     []string
}

func newRevertCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "revert",
		Usage:     "make a commit that undoes an earlier commit",
		ArgsUsage: "REV",
		Description: "Undoes the changes REV made, on top of HEAD: every tensor becomes\n" +
			"HEAD − (REV − parent), so later changes stay. A merge needs -m PARENT (1-based)\n" +
			"to say which parent to revert to.",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "mainline", Aliases: []string{"m"}, Usage: "revert a merge to parent number `PARENT`"},
			&cli.BoolFlag{Name: "no-commit", Aliases: []string{"n"}, Usage: "update the index and working tree only"},
			&cli.StringFlag{Name: "message", Usage: "commit message `MSG` (default: Revert \"<subject>\")"},
		},
		Action: func(c *cli.Context) error {
			args, _, _ := splitDashDash(c.Args().Slice())
			return runRevert(c.Context, revertOptions{mainline: c.Int("mainline"), noCommit: c.Bool("no-commit"),
				message: c.String("message"), args: args}, e)
		},
	}
}

func runRevert(ctx context.Context, opts revertOptions, e *env) error {
	if len(opts.args) != 1 {
		return usageErrorf("revert takes one revision, got %d", len(opts.args))
	}
	if opts.mainline < 0 {
		return usageErrorf("-m %d: parent numbers start at 1", opts.mainline)
	}
	r, err := e.openRepo(false)
	if err != nil {
		return err
	}
	if err := e.loadKey(r); err != nil {
		return err
	}
	id, err := mergeexec.Revert(ctx, r, opts.args[0], mergeexec.RevertOptions{Mainline: opts.mainline, NoCommit: opts.noCommit, Message: opts.message})
	if err != nil {
		return err
	}
	if opts.noCommit {
		e.note("Reverted %s in the index and working tree; commit with 'fed commit'\n", opts.args[0])
		return nil
	}
	e.printCommitLine(r, id, false, commitSubject(ctx, r, id))
	return nil
}
