package main

import (
	"context"

	"github.com/urfave/cli/v2"

	"github.com/fed-vcs/fed/repo"
)

type resetOptions struct {
	soft, mixed, hard bool
	force             bool
	args              []string
}

func newResetCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "reset",
		Usage:     "move the current branch to a revision",
		ArgsUsage: "[--soft | --mixed | --hard] [REV]",
		Description: "Moves the current branch (or detached HEAD) to REV (default HEAD).\n" +
			"--soft moves only the branch; --mixed (the default) also resets the index;\n" +
			"--hard also resets the working tree, discarding uncommitted changes to tracked\n" +
			"files (untracked files stay).",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "soft", Usage: "move the branch only"},
			&cli.BoolFlag{Name: "mixed", Usage: "move the branch and reset the index", DefaultText: "when neither --soft nor --hard"},
			&cli.BoolFlag{Name: "hard", Usage: "move the branch, reset the index and the working tree"},
			// --force is what --hard always does; older scripts pass it
			&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Hidden: true},
		},
		Action: func(c *cli.Context) error {
			args, _, _ := splitDashDash(c.Args().Slice())
			return runReset(c.Context, resetOptions{soft: c.Bool("soft"), mixed: c.Bool("mixed"), hard: c.Bool("hard"),
				force: c.Bool("force"), args: args}, e)
		},
	}
}

func runReset(ctx context.Context, opts resetOptions, e *env) error {
	n := 0
	mode := repo.ResetMixed
	for _, m := range []struct {
		set  bool
		mode repo.ResetMode
	}{{opts.soft, repo.ResetSoft}, {opts.mixed, repo.ResetMixed}, {opts.hard, repo.ResetHard}} {
		if m.set {
			n++
			mode = m.mode
		}
	}
	if n > 1 {
		return usageErrorf("--soft, --mixed and --hard are mutually exclusive")
	}
	if opts.force && mode != repo.ResetHard {
		return usageErrorf("--force only applies to --hard")
	}
	if len(opts.args) > 1 {
		return usageErrorf("reset takes one revision (resetting paths is not supported)")
	}
	rev := "HEAD"
	if len(opts.args) == 1 {
		rev = opts.args[0]
	}
	r, err := e.openRepo(false)
	if err != nil {
		return err
	}
	if err := e.loadKey(r); err != nil {
		return err
	}
	id, err := r.Reset(ctx, rev, mode)
	if err != nil {
		return err
	}
	if mode == repo.ResetHard {
		e.status("HEAD is now at %s %s\n", id.Short(), commitSubject(ctx, r, id))
		return nil
	}
	if mode == repo.ResetMixed && !e.quiet {
		st, err := r.Status(ctx)
		if err != nil {
			return err
		}
		head := true
		for _, s := range st {
			if s.Worktree == 'M' || s.Worktree == 'D' {
				if head {
					e.printf("Unstaged changes after reset:\n")
					head = false
				}
				e.printf("%c\t%s\n", s.Worktree, s.Path)
			}
		}
	}
	return nil
}
