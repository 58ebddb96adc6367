package main

import (
	"context"

	"github.com/urfave/cli/v2"
)

type remoteOptions struct {
	action  string // add, remove, list
	args    []string
	verbose bool
	json    bool
}

func newRemoteCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "remote",
		Usage:     "add, remove or list remotes",
		ArgsUsage: "[list [-v]] | add NAME URL | remove NAME",
		Description: "Remotes are fed servers holding a copy of the repository, named in .fed/config\n" +
			"(remote.NAME.url). URL is http(s)://HOST[:PORT]/REPOSITORY, e.g. http://127.0.0.1:8417/alice/mnist.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "list URLs too"},
			&cli.BoolFlag{Name: "json", Usage: "print the list as JSON"},
		},
		Action: func(c *cli.Context) error {
			args, _, _ := splitDashDash(c.Args().Slice())
			opts := remoteOptions{action: "list", verbose: c.Bool("verbose"), json: c.Bool("json")}
			if len(args) > 0 {
				opts.action, opts.args = args[0], args[1:]
			}
			return runRemote(c.Context, opts, e)
		},
	}
}

type remoteJSON struct {
	Name string `json:"name"`
	URL  string `json:"url"`
}

func runRemote(ctx context.Context, opts remoteOptions, e *env) error {
	r, err := e.openRepo(true)
	if err != nil {
		return err
	}
	switch opts.action {
	case "add":
		if len(opts.args) != 2 {
			return usageErrorf("remote add takes NAME URL")
		}
		return r.RemoteAdd(opts.args[0], opts.args[1])
	case "remove", "rm":
		if len(opts.args) != 1 {
			return usageErrorf("remote remove takes NAME")
		}
		return r.RemoteRemove(opts.args[0])
	case "list":
		if len(opts.args) != 0 {
			return usageErrorf("remote list takes no arguments")
		}
		rs, err := r.Remotes()
		if err != nil {
			return err
		}
		if opts.json {
			out := []remoteJSON{}
			for _, x := range rs {
				out = append(out, remoteJSON{x.Name, x.URL})
			}
			return e.printJSON(out)
		}
		for _, x := range rs {
			if opts.verbose {
				e.printf("%s\t%s\n", x.Name, x.URL)
			} else {
				e.printf("%s\n", x.Name)
			}
		}
		return nil
	}
	return usageErrorf("unknown remote command %q (want add, remove or list)", opts.action)
}
