package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"

	"github.com/urfave/cli/v2"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/remote"
	"github.com/fed-vcs/fed/repo"
	"github.com/fed-vcs/fed/transfer"
)

type cloneOptions struct {
	url, dir, branch string
	depth            int
}

func newCloneCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "clone",
		Usage:     "copy a repository from a fed server",
		ArgsUsage: "URL [DIR]",
		Description: "Creates DIR (default: the last part of the repository name), fetches the remote as\n" +
			"origin and checks out its default branch. --depth 1 fetches only the latest commit\n" +
			"and its files (a light client); the history behind it stays on the server.",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "depth", Usage: "fetch only the last `N` commits"},
			&cli.StringFlag{Name: "branch", Aliases: []string{"b"}, Usage: "check out `BRANCH` instead of the remote's default"},
		},
		Action: func(c *cli.Context) error {
			args, _, _ := splitDashDash(c.Args().Slice())
			if len(args) < 1 || len(args) > 2 {
				return usageErrorf("clone takes URL [DIR]")
			}
			opts := cloneOptions{url: args[0], branch: c.String("branch"), depth: c.Int("depth")}
			if len(args) == 2 {
				opts.dir = e.path(args[1])
			}
			if opts.depth < 0 {
				return usageErrorf("--depth must not be negative")
			}
			return runClone(c.Context, opts, e)
		},
	}
}

func runClone(ctx context.Context, opts cloneOptions, e *env) error {
	key, err := e.userKey()
	if err != nil {
		return err
	}
	if opts.dir == "" {
		_, name, err := remote.ParseURL(opts.url)
		if err != nil {
			return usageErrorf("%v", err)
		}
		opts.dir = e.path(path.Base(name))
	}
	r, err := transfer.Clone(ctx, transfer.CloneOptions{URL: opts.url, Dir: opts.dir, Depth: opts.depth, Branch: opts.branch, Key: key, Progress: e.progress(false), UserConfig: e.userConfigPath()})
	if err != nil {
		return remoteError(err)
	}
	h, _, _ := r.Head()
	if h.IsZero() {
		e.note("Cloned an empty repository into %s\n", r.Root)
		return nil
	}
	// Like git, clone has no result for stdout: what it did goes to stderr.
	_, branch, _ := r.Head()
	e.note("Cloned %s into %s (%s at %s)\n", opts.url, r.Root, branch.Short(), h.Short())
	if private, err := r.WeightsWithheld(ctx, h); err != nil {
		return err
	} else if private {
		e.note("The weights of %s were withheld by its contributor: its model files are tracked but not checked out ('fed status' lists them; 'fed verify' checks their commitments and proofs)\n", h.Short())
	}
	return nil
}

// userKey loads the signing key outside a repository (from --keypair,
// $FED_KEYPAIR, the user config or the default file); none is fine.
func (e *env) userKey() (*objects.Keypair, error) {
	cfg, err := repo.LoadUserConfig(e.userConfigPath())
	if err != nil {
		return nil, err
	}
	p, explicit := e.keyPath(cfg)
	k, err := objects.LoadKeypair(p)
	if err != nil {
		if !explicit && errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, withHint(fmt.Errorf("load signing key %s: %w", p, err), "create a key with 'fed keygen "+p+"'")
	}
	return k, nil
}
