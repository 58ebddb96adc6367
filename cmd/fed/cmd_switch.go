package main

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/fed-vcs/fed/refs"
	"github.com/fed-vcs/fed/repo"
)

type switchOptions struct {
	create bool
	force  bool
	args   []string
}

func newSwitchCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "switch",
		Usage:     "switch to a branch",
		ArgsUsage: "NAME | - | -c NAME [START]",
		Description: "Makes NAME the current branch and checks out its files, keeping local changes\n" +
			"to files the switch does not touch. -c creates NAME at START (default HEAD) first.\n" +
			"'-' is the branch switched from last (git's @{-1}).",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "create", Aliases: []string{"c"}, Usage: "create the branch first"},
			&cli.BoolFlag{Name: "force", Aliases: []string{"f", "discard-changes"}, Usage: "discard local changes in the way"},
		},
		Action: func(c *cli.Context) error {
			args, _, _ := splitDashDash(c.Args().Slice())
			return runSwitch(c.Context, switchOptions{create: c.Bool("create"), force: c.Bool("force"), args: args}, e)
		},
	}
}

func runSwitch(ctx context.Context, opts switchOptions, e *env) error {
	max := 1
	if opts.create {
		max = 2
	}
	if len(opts.args) == 0 || len(opts.args) > max {
		if opts.create {
			return usageErrorf("switch -c takes NAME [START]")
		}
		return usageErrorf("switch takes one branch name")
	}
	r, err := e.openRepo(false)
	if err != nil {
		return err
	}
	if err := e.loadKey(r); err != nil {
		return err
	}
	name := opts.args[0]
	if name == "-" && !opts.create {
		// git's "switch -": back to the branch of the last switch
		prev, err := r.PreviousCheckout(1)
		if err != nil {
			return err
		}
		if _, err := r.ReadRef(refs.Branch(prev)); err != nil {
			return withHint(fmt.Errorf("switch -: HEAD was detached at %s before, not on a branch", prev),
				"go back to it with 'fed checkout -'")
		}
		name = prev
	}
	so := repo.SwitchOptions{Create: opts.create, Force: opts.force}
	if len(opts.args) == 2 {
		so.Start = opts.args[1]
	}
	if !opts.create {
		if _, cur, err := r.Head(); err == nil && cur.Short() == name && cur != "" {
			e.note("Already on '%s'\n", name)
			return nil
		}
	}
	if err := r.Switch(ctx, name, so); err != nil {
		return err
	}
	if opts.create {
		e.note("Switched to a new branch '%s'\n", name)
	} else {
		e.note("Switched to branch '%s'\n", name)
	}
	return nil
}
