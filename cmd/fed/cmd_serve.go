package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/fed-vcs/fed/remote/server"
)

type serveOptions struct {
	root, addr, domain, addrFile string
	noCreate, private            bool
	gcGrace                      time.Duration
}

func newServeCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "host repositories for push, fetch and clone",
		Description: "Serves every repository under --root over HTTP until interrupted. Users push with\n" +
			"their Solana keys; the first push to a new repository name creates it, owned by the\n" +
			"pusher. Put a TLS reverse proxy in front to serve beyond localhost.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "root", Usage: "`DIR` holding the repositories (required)"},
			&cli.StringFlag{Name: "addr", Value: "127.0.0.1:8417", Usage: "listen on `HOST:PORT` (port 0: any free port)"},
			&cli.StringFlag{Name: "domain", Usage: "host name clients use, for sign-in messages (default: each request's Host)"},
			&cli.StringFlag{Name: "addr-file", Usage: "write the address listened on to `FILE`"},
			&cli.BoolFlag{Name: "no-create", Usage: "do not create repositories on a first push"},
			&cli.BoolFlag{Name: "private", Usage: "make new repositories private"},
			&cli.DurationFlag{Name: "gc-grace", Usage: "collect unreferenced uploads older than this (default 24h)"},
		},
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return usageErrorf("serve takes no arguments")
			}
			if c.String("root") == "" {
				return usageErrorf("serve needs --root DIR")
			}
			return runServe(c.Context, serveOptions{root: e.path(c.String("root")), addr: c.String("addr"), domain: c.String("domain"),
				addrFile: c.String("addr-file"), noCreate: c.Bool("no-create"), private: c.Bool("private"), gcGrace: c.Duration("gc-grace")}, e)
		},
	}
}

func runServe(ctx context.Context, opts serveOptions, e *env) error {
	var ferr error
	err := server.Serve(ctx, server.Options{
		Root: opts.root, Addr: opts.addr, Domain: opts.domain, NoCreate: opts.noCreate,
		PrivateByDefault: opts.private, GCGrace: opts.gcGrace,
		ErrorLog: func(format string, args ...any) { fmt.Fprintf(e.stderr, "fed: serve: "+format+"\n", args...) },
	}, func(a net.Addr) {
		if opts.addrFile != "" {
			ferr = os.WriteFile(opts.addrFile, []byte(a.String()+"\n"), 0o644)
		}
		e.note("Serving %s on http://%s\n", opts.root, a)
	})
	if err != nil {
		return err
	}
	return ferr
}
