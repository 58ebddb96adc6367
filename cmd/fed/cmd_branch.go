package main

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/refs"
)

type branchOptions struct {
	del, forceDel bool
	json          bool
	remotes, all  bool
	verbose       int
	args          []string
}

func newBranchCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "branch",
		Usage:     "list, create or delete branches",
		ArgsUsage: "[NAME [START]] | -d NAME | -D NAME",
		Description: "Without arguments, lists branches, the current one marked with '*'.\n" +
			"With NAME, creates a branch at START (default HEAD) without switching to it.\n" +
			"-d deletes a branch merged into HEAD; -D deletes it anyway. -r lists the\n" +
			"remote-tracking branches (what 'fed fetch' saw on each remote), -a both; -v adds\n" +
			"each tip's id and subject, -vv also the upstream and how far ahead or behind it is.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "delete", Aliases: []string{"d"}, Usage: "delete a branch merged into HEAD"},
			&cli.BoolFlag{Name: "D", Usage: "delete a branch even if not merged"},
			&cli.BoolFlag{Name: "json", Usage: "print the list as JSON"},
			&cli.BoolFlag{Name: "remotes", Aliases: []string{"r"}, Usage: "list the remote-tracking branches"},
			&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "list local and remote-tracking branches"},
			&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "show each tip's id and subject; twice: its upstream too"},
		},
		Action: func(c *cli.Context) error {
			args, _, _ := splitDashDash(c.Args().Slice())
			return runBranch(c.Context, branchOptions{del: c.Bool("delete"), forceDel: c.Bool("D"), json: c.Bool("json"),
				remotes: c.Bool("remotes"), all: c.Bool("all"), verbose: c.Count("verbose"), args: args}, e)
		},
	}
}

type branchJSON struct {
	Name    string     `json:"name"`
	ID      objects.ID `json:"id"`
	Current bool       `json:"current"`
	Remote  bool       `json:"remote,omitempty"` // a remote-tracking branch (-r, -a)
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
	listing := opts.remotes || opts.all || opts.verbose > 0
	switch len(opts.args) {
	case 0:
	case 1, 2:
		if listing {
			return usageErrorf("-r, -a and -v only list branches")
		}
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
	var list []refs.Ref
	if !opts.remotes {
		if list, err = r.Branches(); err != nil {
			return err
		}
	}
	var remotes []refs.Ref
	if opts.remotes || opts.all {
		if remotes, err = r.RemoteBranches(); err != nil {
			return err
		}
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
		for _, b := range remotes {
			out = append(out, branchJSON{Name: b.Name.Short(), ID: b.ID, Remote: true})
		}
		return e.printJSON(out)
	}
	type row struct {
		mark, name string
		id         objects.ID
		branch     string // local branch name, for -vv
	}
	var rows []row
	if cur == "" && !head.IsZero() && !opts.remotes {
		rows = append(rows, row{mark: "*", name: fmt.Sprintf("(HEAD detached at %s)", head.Short()), id: head})
	}
	for _, b := range list {
		mark := " "
		if b.Name == cur {
			mark = "*"
		}
		rows = append(rows, row{mark: mark, name: b.Name.Short(), id: b.ID, branch: b.Name.Short()})
	}
	for _, b := range remotes {
		name := b.Name.Short()
		if opts.all {
			name = "remotes/" + name
		}
		rows = append(rows, row{mark: " ", name: name, id: b.ID})
	}
	width := 0
	for _, rw := range rows {
		width = max(width, len(rw.name))
	}
	for _, rw := range rows {
		if opts.verbose == 0 {
			e.printf("%s %s\n", rw.mark, rw.name)
			continue
		}
		up := ""
		if opts.verbose > 1 && rw.branch != "" {
			t, err := branchTracking(ctx, r, rw.branch, rw.id)
			if err != nil {
				return err
			}
			if t.upstream != "" {
				up = "[" + t.upstream
				if c := t.counts(); c != "" {
					up += ": " + c
				}
				up += "] "
			}
		}
		e.printf("%s %-*s %s %s%s\n", rw.mark, width, rw.name, rw.id.Short(), up, commitSubject(ctx, r, rw.id))
	}
	return nil
}
