package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/fed-vcs/fed/objects"
)

func newVersionCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print fed's version",
		Description: "Prints the release and commit fed was built from (stamped by 'make build' with\n" +
			"-ldflags, else read from the Go build information), the storage format it\n" +
			"writes, and the Go version and platform. 'fed --version' prints the same.",
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageErrorf("version takes no arguments")
			}
			return runVersion(c.Context, e)
		},
	}
}

// version and commit are set at build time:
//
//	go build -ldflags "-X main.version=v1.2.3 -X main.commit=<git commit id>"
//
// (the Makefile's LDFLAGS). Unset, they come from the build information
// the go command records: the module version of 'go install …@v1.2.3',
// the VCS revision of a build in a git checkout.
var (
	version = ""
	commit  = ""
)

// buildVersion returns the version and commit fed was built from; commit
// is "" when unknown, and "+dirty" marks a build of modified sources.
func buildVersion() (v, c string) {
	v, c = version, commit
	bi, ok := debug.ReadBuildInfo()
	if v == "" {
		v = "(devel)"
		if ok && bi.Main.Version != "" {
			v = bi.Main.Version
		}
	}
	if c == "" && ok {
		dirty := false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				c = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if c != "" && dirty {
			c += "+dirty"
		}
	}
	return v, c
}

func runVersion(ctx context.Context, e *env) error {
	v, c := buildVersion()
	var about []string
	if c != "" {
		about = append(about, "commit "+c)
	}
	about = append(about, fmt.Sprintf("storage format %d", objects.FormatVersion), runtime.Version()+" "+runtime.GOOS+"/"+runtime.GOARCH)
	e.printf("fed version %s (%s)\n", v, strings.Join(about, ", "))
	return nil
}
