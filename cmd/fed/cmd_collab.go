package main

import (
	"context"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/fed-vcs/fed/governance"
	"github.com/fed-vcs/fed/governing"
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/remote"
	"github.com/fed-vcs/fed/repo"
)

type collabOptions struct {
	action, remote string
	keys           []string
	json           bool
	name           string
	hasName        bool
}

func newCollabCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "collab",
		Usage:     "manage who may push to a remote repository",
		ArgsUsage: "add PUBKEY... [--name LABEL] | rm PUBKEY... | list",
		Description: "Collaborators (Solana public keys) may push to the repository on the server;\n" +
			"only its owner may add or remove them, force-push or push to protected branches.\n" +
			"--name labels the key in the repository's name map, which the owner signs\n" +
			"(refs/meta/names): log, show, policy and collab list show the label. Names are\n" +
			"labels, never identities: signatures are checked on keys. '--name \"\"' removes one.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "remote", Value: "origin", Usage: "the `REMOTE` whose repository to change"},
			&cli.BoolFlag{Name: "json", Usage: "print the list as JSON"},
			&cli.StringFlag{Name: "name", Usage: "add: label the key `LABEL` in the signed name map"},
		},
		Action: func(c *cli.Context) error {
			args, _, _ := splitDashDash(c.Args().Slice())
			if len(args) == 0 {
				args = []string{"list"}
			}
			return runCollab(c.Context, collabOptions{action: args[0], keys: args[1:], remote: c.String("remote"), json: c.Bool("json"), name: c.String("name"), hasName: c.IsSet("name")}, e)
		},
	}
}

func runCollab(ctx context.Context, opts collabOptions, e *env) error {
	r, err := e.openRepo(true)
	if err != nil {
		return err
	}
	c, err := e.signedClient(r, opts.remote)
	if err != nil {
		return err
	}
	switch opts.action {
	case "add", "rm", "remove":
		if len(opts.keys) == 0 {
			return usageErrorf("collab %s needs PUBKEY...", opts.action)
		}
		if opts.hasName && (opts.action != "add" || len(opts.keys) != 1) {
			return usageErrorf("--name labels one key: collab add PUBKEY --name LABEL")
		}
		if opts.hasName && opts.name != "" {
			if err := governance.CheckLabel(opts.name); err != nil {
				return usageErrorf("--name: %v", err)
			}
		}
		for _, s := range opts.keys {
			k, err := objects.ParsePublicKey(s)
			if err != nil {
				return usageErrorf("%v", err)
			}
			if opts.action == "add" {
				// the owner needs no adding, only a name
				if s, serr := c.Settings(ctx); serr != nil || s.Owner != k.String() || !opts.hasName {
					err = c.AddCollaborator(ctx, k)
				}
			} else {
				err = c.RemoveCollaborator(ctx, k)
			}
			if err != nil {
				return remoteError(err)
			}
			if opts.hasName {
				if _, err := governing.SetNames(ctx, r, opts.remote, map[objects.PublicKey]string{k: opts.name}); err != nil {
					return remoteError(err)
				}
			}
		}
		return nil
	case "list":
		if len(opts.keys) != 0 {
			return usageErrorf("collab list takes no arguments")
		}
		s, err := c.Settings(ctx)
		if err != nil {
			return remoteError(err)
		}
		names, err := governing.FetchNames(ctx, r, opts.remote)
		if err != nil {
			return remoteError(err)
		}
		label := func(k string) string {
			if pk, err := objects.ParsePublicKey(k); err == nil && names.Labels[pk] != "" {
				return "  " + names.Labels[pk]
			}
			return ""
		}
		if opts.json {
			type listJSON struct {
				*remote.Settings
				Names map[string]string `json:"names,omitempty"`
			}
			out := listJSON{Settings: s}
			for k, v := range names.Labels {
				if out.Names == nil {
					out.Names = map[string]string{}
				}
				out.Names[k.String()] = v
			}
			return e.printJSON(out)
		}
		if s.Owner != "" {
			e.printf("%s owner%s\n", s.Owner, label(s.Owner))
		} else {
			e.note("no owner now: the repository's NFT (%s) has no holder the server can confirm\n", s.NFT)
		}
		for _, k := range s.Collaborators {
			e.printf("%s%s\n", k, label(k))
		}
		if len(s.Protected) > 0 {
			e.note("protected: %s\n", strings.Join(s.Protected, " "))
		}
		// the branch policies fetched or set here (fed policy show)
		if ps, err := governing.Policies(ctx, r, opts.remote); err == nil {
			lbl := governing.Label(ctx, r, opts.remote, false)
			for _, p := range ps {
				if !p.Off {
					e.note("policy of %s: %s\n", p.Branch, policySummary(p, lbl))
				}
			}
		}
		return nil
	}
	return usageErrorf("unknown collab command %q (want add, rm or list)", opts.action)
}

// signedClient loads the signing key into r and returns a client for the
// repository r's remote name points at.
func (e *env) signedClient(r *repo.Repo, name string) (*remote.Client, error) {
	if err := e.loadKey(r); err != nil {
		return nil, err
	}
	url, ok := r.Config.Get("remote." + name + ".url")
	if !ok {
		return nil, usageErrorf("no remote named %s (add it with 'fed remote add %s URL')", name, name)
	}
	return remote.New(url, remote.Options{Key: r.Key})
}
