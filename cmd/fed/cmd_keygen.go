package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/fed-vcs/fed/objects"
)

type keygenOptions struct {
	force bool
	path  string
}

func newKeygenCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "keygen",
		Usage:     "create a signing key (a Solana wallet keypair)",
		ArgsUsage: "[PATH]",
		Description: "Writes a new ed25519 keypair in solana-keygen's JSON format to PATH (default\n" +
			"~/.config/solana/id.json, the Solana CLI's default) with mode 0600, and prints its\n" +
			"public key (the wallet address) in base58. Refuses to overwrite an existing\n" +
			"file unless --force is given.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "overwrite an existing key file"},
		},
		Action: func(c *cli.Context) error {
			args, _, _ := splitDashDash(c.Args().Slice())
			if len(args) > 1 {
				return usageErrorf("keygen takes at most one PATH")
			}
			return runKeygen(c.Context, keygenOptions{force: c.Bool("force"), path: c.Args().First()}, e)
		},
	}
}

func runKeygen(ctx context.Context, opts keygenOptions, e *env) error {
	path := defaultKeyPath()
	if opts.path != "" {
		path = e.path(opts.path)
	}
	if _, err := os.Lstat(path); err == nil && !opts.force {
		return withHint(fmt.Errorf("keypair file %s already exists", path), "use --force to replace it (the old key is lost)")
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	k, err := objects.GenerateKeypair()
	if err != nil {
		return err
	}
	// write beside the target, then rename: a crash never leaves a
	// half-written key, and --force replaces the file atomically
	tmp := filepath.Join(filepath.Dir(path), fmt.Sprintf(".%s.tmp-%d", filepath.Base(path), os.Getpid()))
	os.Remove(tmp)
	if err := k.Save(tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("save keypair %s: %w", path, err)
	}
	e.note("Wrote new keypair to %s\n", path)
	e.printf("%s\n", k.Public())
	return nil
}
