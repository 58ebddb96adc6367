package main

import (
	"context"
	"fmt"
	"regexp"
	"strconv"

	"github.com/urfave/cli/v2"
)

func newStashCommand(e *env) *cli.Command {
	msgFlag := &cli.StringFlag{Name: "message", Aliases: []string{"m"}, Usage: "describe the entry with `MSG`"}
	return &cli.Command{
		Name:      "stash",
		Usage:     "put local changes aside, and bring them back",
		ArgsUsage: "[push [-m MSG] | list | pop [N] | apply [N] | drop [N]]",
		Description: "Saves the changes to tracked files (staged and not) as a stash entry and resets\n" +
			"the files to HEAD, as git stash does; untracked files stay. 'pop' brings the newest\n" +
			"entry back and drops it, 'apply' keeps it. N is an entry, 0 the newest (stash@{N}\n" +
			"also names it in other commands). An entry whose paths HEAD or local changes have\n" +
			"touched since is not applied. Entries are signed commits kept under refs/stash/.",
		Flags: []cli.Flag{msgFlag},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageErrorf("unknown stash subcommand %q (push, list, pop, apply, drop)", c.Args().First())
			}
			return runStashPush(c.Context, c.String("message"), e)
		},
		Subcommands: []*cli.Command{
			{Name: "push", Usage: "save local changes and reset to HEAD", Flags: []cli.Flag{msgFlag},
				Action: func(c *cli.Context) error {
					if c.NArg() > 0 {
						return usageErrorf("stash push saves every tracked change; paths are not supported")
					}
					msg := c.String("message")
					if l := c.Lineage(); msg == "" && len(l) > 1 {
						msg = l[1].String("message") // "stash push -m X" puts -m before push
					}
					return runStashPush(c.Context, msg, e)
				}},
			{Name: "list", Usage: "list the entries, newest first", Action: func(c *cli.Context) error {
				return runStashList(c.Context, e)
			}},
			{Name: "pop", Usage: "apply an entry (default the newest) and drop it", ArgsUsage: "[N]", Action: func(c *cli.Context) error {
				return runStashApply(c.Context, c.Args().Slice(), true, e)
			}},
			{Name: "apply", Usage: "apply an entry (default the newest), keeping it", ArgsUsage: "[N]", Action: func(c *cli.Context) error {
				return runStashApply(c.Context, c.Args().Slice(), false, e)
			}},
			{Name: "drop", Usage: "delete an entry (default the newest)", ArgsUsage: "[N]", Action: func(c *cli.Context) error {
				return runStashDrop(c.Context, c.Args().Slice(), e)
			}},
		},
	}
}

var stashRef = regexp.MustCompile(`^(?:stash@\{([0-9]+)\}|([0-9]+))$`)

// stashIndex reads the entry argument: N or stash@{N}, default 0.
func stashIndex(args []string) (int, error) {
	args, _, _ = splitDashDash(args)
	switch len(args) {
	case 0:
		return 0, nil
	case 1:
		m := stashRef.FindStringSubmatch(args[0])
		if m == nil {
			return 0, usageErrorf("stash entry %q: want N or stash@{N}", args[0])
		}
		return strconv.Atoi(m[1] + m[2])
	}
	return 0, usageErrorf("stash takes one entry, got %d", len(args))
}

func runStashPush(ctx context.Context, msg string, e *env) error {
	r, err := e.openRepo(false)
	if err != nil {
		return err
	}
	if err := e.loadKey(r); err != nil {
		return err
	}
	s, err := r.StashPush(ctx, msg)
	if err != nil {
		return err
	}
	e.note("Saved working directory and index state %s\n", subject(s.Commit.Message))
	return nil
}

func runStashList(ctx context.Context, e *env) error {
	r, err := e.openRepo(false)
	if err != nil {
		return err
	}
	list, err := r.Stashes(ctx)
	if err != nil {
		return err
	}
	for i, s := range list {
		e.printf("stash@{%d}: %s\n", i, subject(s.Commit.Message))
	}
	return nil
}

func runStashApply(ctx context.Context, args []string, drop bool, e *env) error {
	n, err := stashIndex(args)
	if err != nil {
		return err
	}
	r, err := e.openRepo(false)
	if err != nil {
		return err
	}
	if err := e.loadKey(r); err != nil {
		return err
	}
	s, err := r.StashApply(ctx, n)
	if err != nil {
		return err
	}
	if drop {
		if _, err := r.StashDrop(ctx, n); err != nil {
			return fmt.Errorf("stash@{%d} applied, but not dropped: %w", n, err)
		}
		e.note("Dropped stash@{%d} (%s)\n", n, s.ID.Short())
	}
	return nil
}

func runStashDrop(ctx context.Context, args []string, e *env) error {
	n, err := stashIndex(args)
	if err != nil {
		return err
	}
	r, err := e.openRepo(false)
	if err != nil {
		return err
	}
	if err := e.loadKey(r); err != nil {
		return err
	}
	s, err := r.StashDrop(ctx, n)
	if err != nil {
		return err
	}
	e.printf("Dropped stash@{%d} (%s)\n", n, s.ID.Short())
	return nil
}
