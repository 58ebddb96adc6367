package main

import (
	"context"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/proving"
	"github.com/fed-vcs/fed/repo"
)

type commitOptions struct {
	message    string
	hasMessage bool
	all        bool
	samples    int64
	meta       []string
	prove      bool
}

func newCommitCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "commit",
		Usage: "record the staged changes as a new signed commit",
		Description: "Records the index as a commit on the current branch, signed with your key\n" +
			"(--keypair, $FED_KEYPAIR, config user.keypair, or ~/.config/solana/id.json).\n" +
			"Without -m, opens an editor ($FED_EDITOR, config core.editor, $VISUAL, $EDITOR,\n" +
			"then vi) on a template listing the changes; lines starting with '#' are dropped\n" +
			"and an empty message aborts the commit.\n" +
			"--samples records how many training examples produced this update (merges\n" +
			"weight each contribution by it).",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "message", Aliases: []string{"m"}, Usage: "the commit message `MSG` (several -m: one paragraph each)"},
			&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "stage every modified or deleted tracked file first"},
			&cli.Int64Flag{Name: "samples", Usage: "number of training examples `N` behind this update"},
			&cli.StringSliceFlag{Name: "meta", Usage: "extra metadata `KEY=VALUE` (repeatable)"},
			&cli.BoolFlag{Name: "prove", Usage: "attach a zero-knowledge proof (see 'fed prove'); default: config zk.prove"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageErrorf("commit takes no arguments (paths are staged with 'fed add'); got %q", c.Args().First())
			}
			return runCommit(c.Context, commitOptions{
				message: strings.Join(c.StringSlice("message"), "\n\n"), hasMessage: c.IsSet("message"),
				all: c.Bool("all"), samples: c.Int64("samples"), meta: c.StringSlice("meta"), prove: c.Bool("prove"),
			}, e)
		},
	}
}

// parseMeta parses KEY=VALUE pairs.
func parseMeta(kvs []string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, usageErrorf("--meta %q: want KEY=VALUE", kv)
		}
		if k == "samples" {
			return nil, usageErrorf("--meta samples=...: use --samples N")
		}
		out[k] = v
	}
	return out, nil
}

func runCommit(ctx context.Context, opts commitOptions, e *env) error {
	if opts.hasMessage && strings.TrimSpace(opts.message) == "" {
		return usageErrorf("aborting commit due to empty commit message")
	}
	if opts.samples < 0 {
		return usageErrorf("--samples %d: must not be negative", opts.samples)
	}
	meta, err := parseMeta(opts.meta)
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
	if !opts.hasMessage {
		editor := e.editorCommand(r.Config)
		if editor == "" {
			return &usageError{msg: "no commit message given", hint: "use 'fed commit -m MESSAGE', or set $FED_EDITOR, $VISUAL or $EDITOR to write it in an editor"}
		}
		tmpl, err := commitTemplate(ctx, r, opts.all)
		if err != nil {
			return err
		}
		if opts.message, err = e.editMessage(ctx, r, editor, tmpl); err != nil {
			return err
		}
		if opts.message == "" {
			return errEmptyMessage
		}
	}
	before, _, err := r.Head()
	if err != nil {
		return err
	}
	id, err := r.Commit(ctx, repo.CommitOptions{Message: opts.message, All: opts.all, Samples: opts.samples, Meta: meta})
	if err != nil {
		return err
	}
	e.printCommitLine(r, id, before.IsZero(), opts.message)
	if prove, err := proving.Wanted(r, opts.prove); err != nil || !prove {
		return err
	}
	return proveAfterCommit(ctx, e, r, id, true)
}

// printCommitLine prints git's "[main (root-commit) 1a2b3c4d5e6f] subject".
func (e *env) printCommitLine(r *repo.Repo, id objects.ID, root bool, msg string) {
	_, branch, _ := r.Head()
	where := "detached HEAD"
	if branch != "" {
		where = branch.Short()
	}
	if root {
		where += " (root-commit)"
	}
	e.printf("[%s %s] %s\n", where, id.Short(), subject(msg))
}
