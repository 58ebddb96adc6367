package main

import (
	"context"
	"runtime"
	"runtime/debug"

	"github.com/urfave/cli/v2"

	"github.com/fed-vcs/fed/objects"
)

func newVersionCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print fed's version",
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageErrorf("version takes no arguments")
			}
			return runVersion(c.Context, e)
		},
	}
}

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = ""

func runVersion(ctx context.Context, e *env) error {
	v := version
	if v == "" {
		v = "(devel)"
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
			v = bi.Main.Version
		}
	}
	e.printf("fed version %s (storage format %d, %s %s/%s)\n", v, objects.FormatVersion, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}
