package main

import (
	"context"

	"github.com/urfave/cli/v2"

	"github.com/fed-vcs/fed/objects"
)

type branchOptions struct {
	del, forceDel bool
	json          bool
	args          []string
}

func newBranchCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "branch",
		Usage:     "list, create or delete branches",
		ArgsUsage: "[NAME [START]] | -d NAME | -D NAME",
		Description: "Without arguments, lists branches, the current one marked with '*'.\n" +
			"With NAME, creates a branch at START (default HEAD) without switching to it.\n" +
			"-d deletes a branch merged into HEAD; -D deletes it anyway.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "delete", Aliases: []string{"d"}, Usage: "delete a branch merged into HEAD"},
			&cli.BoolFlag{Name: "D", Usage: "delete a branch even if not merged"},
			&cli.BoolFlag{Name: "json", Usage: "print the list as JSON"},
		},
		Action: func(c *cli.Context) error {
			args, _, _ := splitDashDash(c.Args().Slice())
			return runBranch(c.Context, branchOptions{del: c.Bool("delete"), forceDel: c.Bool("D"), json: c.Bool("json"), args: args}, e)
		},
	}
}

type branchJSON struct {
	Name    string     `json:"name"`
	ID      objects.ID `json:"id"`
	Current bool       `json:"current"`
}

func runBranch(ctx context.Context, opts branchOptions, e *env) error {
	r, err := e.openRepo(opts.json)
	if err != nil {
		return err
	}
	if opts.del || opts.forceDel {
		if len(opts.args) == 0 {
			return usageErrorf("branch -d needs a branch name")
		}
		if err := e.loadKey(r); err != nil {
			return err
		}
		for _, name := range opts.args {
			id, err := r.DeleteBranch(ctx, name, opts.forceDel)
			if err != nil {
				return err
			}
			e.printf("Deleted branch %s (was %s).\n", name, id.Short())
		}
		return nil
	}
	switch len(opts.args) {
	case 0:
	case 1, 2:
		if opts.json {
			return usageErrorf("--json only lists branches")
		}
		start := ""
		if len(opts.args) == 2 {
			start = opts.args[1]
		}
		if err := e.loadKey(r); err != nil {
			return err
		}
		_, err := r.CreateBranch(ctx, opts.args[0], start)
		return err
	default:
		return usageErrorf("branch takes NAME [START], got %d arguments", len(opts.args))
	}
	list, err := r.Branches()
	if err != nil {
		return err
	}
	head, cur, err := r.Head()
	if err != nil {
		return err
	}
	if opts.json {
		out := []branchJSON{}
		for _, b := range list {
			out = append(out, branchJSON{Name: b.Name.Short(), ID: b.ID, Current: b.Name == cur})
		}
		return e.printJSON(out)
	}
	if cur == "" && !head.IsZero() {
		e.printf("* (HEAD detached at %s)\n", head.Short())
	}
	for _, b := range list {
		mark := " "
		if b.Name == cur {
			mark = "*"
		}
		e.printf("%s %s\n", mark, b.Name.Short())
	}
	return nil
}
