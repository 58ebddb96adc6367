package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/fed-vcs/fed/remote"
	"github.com/fed-vcs/fed/repo"
)

type configOptions struct {
	remote string
	global bool
	list   bool
	unset  bool
	args   []string
}

func newConfigCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "config",
		Usage:     "get and set options",
		ArgsUsage: "KEY [VALUE] | --list | --unset KEY",
		Description: "Reads KEY (section.key or section.subsection.key) from the repository's\n" +
			".fed/config, else the user's file (~/.config/fed/config, or $FED_CONFIG); with\n" +
			"VALUE sets it in the repository file, or the user's with --global.\n" +
			"Keys: user.keypair (signing key file); zk.linf, zk.l2, zk.chunk, zk.prove, zk.vk\n" +
			"(proofs; a value fed cannot use is refused when it is set).\n\n" +
			"--remote REMOTE reads and sets the zk settings of the repository REMOTE hosts\n" +
			"(zk.chunk, zk.linf, zk.l2, zk.vk): the bounds and chunk size that server proves\n" +
			"with (fed serve --prove) and checks proofs against (--require-proofs). Setting\n" +
			"them needs the repository's owner; the server refuses values fed would refuse.\n" +
			"Each change also signs the whole set with your key and stores it on REMOTE as\n" +
			"refs/meta/settings: fetch and clone bring it, check that the owner signed it,\n" +
			"and fed verify and fed prove use it for every key .fed/config leaves unset.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "global", Usage: "use the user's file instead of the repository's"},
			&cli.StringFlag{Name: "remote", Usage: "the zk settings of the repository on `REMOTE` instead"},
			&cli.BoolFlag{Name: "list", Aliases: []string{"l"}, Usage: "list every KEY=VALUE"},
			&cli.BoolFlag{Name: "unset", Usage: "remove KEY"},
		},
		Action: func(c *cli.Context) error {
			args, _, _ := splitDashDash(c.Args().Slice())
			return runConfig(c.Context, configOptions{remote: c.String("remote"), global: c.Bool("global"), list: c.Bool("list"), unset: c.Bool("unset"), args: args}, e)
		},
	}
}

func runConfig(ctx context.Context, opts configOptions, e *env) error {
	switch {
	case opts.list && (opts.unset || len(opts.args) > 0):
		return usageErrorf("--list takes no KEY")
	case opts.unset && len(opts.args) != 1:
		return usageErrorf("--unset takes one KEY")
	case !opts.list && (len(opts.args) == 0 || len(opts.args) > 2):
		return usageErrorf("config takes KEY [VALUE]")
	}
	writing := opts.unset || len(opts.args) == 2
	if opts.remote != "" {
		if opts.global {
			return usageErrorf("--remote and --global cannot be used together")
		}
		return runRemoteConfig(ctx, opts, e)
	}
	var cfg *repo.Config
	if opts.global {
		c, err := repo.LoadUserConfig(e.userConfigPath())
		if err != nil {
			return err
		}
		cfg = c
	} else {
		r, err := e.openRepo(false)
		switch {
		case err == nil:
			cfg = r.Config
		case errors.Is(err, repo.ErrNotRepo) && !writing:
			// outside a repository, reading sees the user's file
			if cfg, err = repo.LoadUserConfig(e.userConfigPath()); err != nil {
				return err
			}
		default:
			if writing {
				return withHint(err, "use --global to set a value in your user config")
			}
			return err
		}
	}
	switch {
	case opts.list:
		for _, kv := range cfg.All() {
			e.printf("%s\n", kv)
		}
		return nil
	case opts.unset:
		if err := cfg.Unset(opts.args[0]); err != nil {
			return usageErrorf("%v", err)
		}
		return cfg.Save()
	case len(opts.args) == 2:
		if err := cfg.Set(opts.args[0], opts.args[1]); err != nil {
			return usageErrorf("%v", err)
		}
		return cfg.Save()
	}
	v, ok := cfg.Get(opts.args[0])
	if !ok {
		return &exitError{code: exitFailure, msg: fmt.Sprintf("config key %s is not set", opts.args[0])}
	}
	e.printf("%s\n", v)
	return nil
}

// runRemoteConfig reads or changes the zk settings of the repository on
// opts.remote (GET/PUT settings).
func runRemoteConfig(ctx context.Context, opts configOptions, e *env) error {
	if len(opts.args) > 0 && !slices.Contains(remote.ZKSettingKeys, opts.args[0]) {
		return usageErrorf("a server keeps only %s, not %s", strings.Join(remote.ZKSettingKeys, ", "), opts.args[0])
	}
	r, err := e.openRepo(false)
	if err != nil {
		return err
	}
	c, err := e.signedClient(r, opts.remote)
	if err != nil {
		return err
	}
	var st *remote.Settings
	switch {
	case opts.unset:
		st, err = c.UpdateSettings(ctx, remote.SettingsUpdate{ZK: map[string]string{opts.args[0]: ""}})
	case len(opts.args) == 2:
		if opts.args[1] == "" {
			return usageErrorf("an empty value: use --unset to remove %s", opts.args[0])
		}
		st, err = c.UpdateSettings(ctx, remote.SettingsUpdate{ZK: map[string]string{opts.args[0]: opts.args[1]}})
	default:
		st, err = c.Settings(ctx)
	}
	if err != nil {
		return remoteError(err)
	}
	// a server of an earlier release ignores the zk member: say so
	// rather than report a change that did not happen
	if len(opts.args) == 2 && st.ZK[opts.args[0]] != opts.args[1] || opts.unset && st.ZK[opts.args[0]] != "" {
		return fmt.Errorf("%s did not keep %s (a server of an earlier fed release keeps no zk settings)", opts.remote, opts.args[0])
	}
	if opts.unset || len(opts.args) == 2 {
		// the settings clones check against: signed by the owner, so a
		// server can drop them but not weaken them
		id, err := r.PublishSettings(ctx, opts.remote, st.ZK)
		if err != nil {
			return remoteError(fmt.Errorf("%s kept %s, but its signed settings were not updated: %w", opts.remote, opts.args[0], err))
		}
		e.note("Signed the zk settings of %s (settings %s): fetch and clone bring them to every copy\n", opts.remote, id.Short())
	}
	switch {
	case opts.list:
		for _, k := range remote.ZKSettingKeys {
			if v, ok := st.ZK[k]; ok {
				e.printf("%s=%s\n", k, v)
			}
		}
	case !opts.unset && len(opts.args) == 1:
		v, ok := st.ZK[opts.args[0]]
		if !ok {
			return &exitError{code: exitFailure, msg: fmt.Sprintf("config key %s is not set on %s", opts.args[0], opts.remote)}
		}
		e.printf("%s\n", v)
	}
	return nil
}
