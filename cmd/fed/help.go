package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"
)

// commandGroups orders 'fed help' as git's does: by what the user is
// about to do. A command in no group is listed under "other commands".
var commandGroups = []struct {
	name     string
	commands []string
}{
	{"start a working area", []string{"init", "clone"}},
	{"work on the current change", []string{"add", "rm", "restore", "stash"}},
	{"examine the history and state", []string{"status", "log", "show", "diff", "reflog"}},
	{"grow, mark and tweak your history", []string{"commit", "branch", "switch", "checkout", "tag", "merge", "reset", "revert"}},
	{"collaborate", []string{"remote", "fetch", "pull", "push", "collab", "serve"}},
	{"govern a shared model", []string{"policy", "review", "attest", "contributors"}},
	{"proofs and ownership", []string{"keygen", "prove", "verify", "zk", "nft", "anchor"}},
	{"set up and maintain", []string{"config", "fsck", "gc", "version", "completion", "help"}},
}

// groupCommands sets each command's Category and makes the app's help
// list the commands by group, in commandGroups' order (urfave sorts
// categories by name).
func groupCommands(app *cli.App) {
	byName := map[string]*cli.Command{}
	width := len("help, h")
	for _, c := range app.Commands {
		byName[c.Name] = c
		width = max(width, len(strings.Join(c.Names(), ", ")))
	}
	listed := map[string]bool{}
	var b strings.Builder
	line := func(names, usage string) {
		fmt.Fprintf(&b, "     %-*s  %s\n", width, names, usage)
	}
	section := func(title string, cmds []*cli.Command, help bool) {
		if len(cmds) == 0 && !help {
			return
		}
		fmt.Fprintf(&b, "\n   %s:\n", title)
		for _, c := range cmds {
			line(strings.Join(c.Names(), ", "), c.Usage)
		}
		if help {
			// urfave adds the help command when the app runs
			line("help, h", "show the commands, or the help of one command")
		}
	}
	for _, g := range commandGroups {
		var cmds []*cli.Command
		help := false
		for _, n := range g.commands {
			if n == "help" {
				help = true
				continue
			}
			c := byName[n]
			if c == nil || c.Hidden {
				continue
			}
			if c.Category == "" {
				c.Category = g.name
			}
			listed[n] = true
			cmds = append(cmds, c)
		}
		section(g.name, cmds, help)
	}
	var other []*cli.Command
	for _, c := range app.Commands {
		if !listed[c.Name] && !c.Hidden && c.Name != "help" {
			other = append(other, c)
		}
	}
	section("other commands", other, false)
	block := strings.ReplaceAll(strings.TrimRight(b.String(), "\n"), "{{", "{{`{{`}}")
	const def = `COMMANDS:{{template "visibleCommandCategoryTemplate" .}}`
	app.CustomAppHelpTemplate = strings.Replace(cli.AppHelpTemplate, def, "COMMANDS:"+block, 1)
}
