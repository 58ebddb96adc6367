package main

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// reorderArgs lets flags follow arguments, as git users type them
// ("fed log main --oneline", "fed commit -m x --quiet"). Go's flag parsing
// stops at the first argument, so this moves, for the command named in
// args, every flag before its arguments; global flags given after the
// command move before it. An argument "--" ends the flags: it and what
// follows stay where they are, and stay visible to the command (so
// "fed diff HEAD -- a.txt" can tell revisions from paths). A "--" is put
// between the flags and the arguments, so an argument after a user's "--"
// is never taken for a flag.
func reorderArgs(app *cli.App, args []string) []string {
	global := flagTable(app.Flags)
	var pre []string
	i := 0
	for i < len(args) && strings.HasPrefix(args[i], "-") && args[i] != "--" && args[i] != "-" {
		pre = append(pre, args[i])
		if takesValue(global, args[i]) && i+1 < len(args) {
			pre = append(pre, args[i+1])
			i++
		}
		i++
	}
	if i >= len(args) {
		return args
	}
	var cmd *cli.Command
	for _, c := range app.Commands {
		if c.HasName(args[i]) {
			cmd = c
		}
	}
	if cmd == nil || cmd.SkipFlagParsing {
		return args
	}
	local := flagTable(cmd.Flags)
	name := args[i]
	var flags, positional, tail []string
	for j := i + 1; j < len(args); j++ {
		a := args[j]
		if a == "--" {
			tail = args[j:]
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			positional = append(positional, a)
			continue
		}
		if n, ok := countFlag(a); ok && local["max-count"] {
			flags = append(flags, "--max-count="+n)
			continue
		}
		if g, rest, ok := splitGlobalShorts(local, global, a); ok {
			// "commit -qm msg": the global -q moves before the
			// command, the command keeps -m and its value
			pre = append(pre, g...)
			if rest == "" {
				continue
			}
			a = rest
		}
		dst := &flags
		if _, ok := local[flagName(a)]; !ok {
			if _, ok := global[flagName(a)]; ok {
				dst = &pre
			}
		}
		*dst = append(*dst, a)
		tbl := local
		if dst == &pre {
			tbl = global
		}
		if takesValue(tbl, a) {
			if j+1 == len(args) {
				// the value is missing: nothing may become it, so that
				// the flag parser reports it (the command fails anyway)
				return append(append(pre, name), flags...)
			}
			*dst = append(*dst, args[j+1])
			j++
		}
	}
	out := append(pre, name)
	out = append(out, flags...)
	out = append(out, "--")
	out = append(out, positional...)
	return append(out, tail...)
}

// flagTable maps each flag name and alias to whether the flag takes a value.
func flagTable(flags []cli.Flag) map[string]bool {
	t := map[string]bool{"h": false, "help": false}
	for _, f := range flags {
		_, isBool := f.(*cli.BoolFlag)
		for _, n := range f.Names() {
			t[n] = !isBool
		}
	}
	return t
}

func flagName(a string) string {
	n := strings.TrimLeft(a, "-")
	if k := strings.IndexByte(n, '='); k >= 0 {
		n = n[:k]
	}
	return n
}

// takesValue reports whether flag argument a consumes the next argument:
// a known flag with a value and no "=", or a group of short flags ("-am")
// whose last one takes a value.
func takesValue(tbl map[string]bool, a string) bool {
	if strings.Contains(a, "=") {
		return false
	}
	n := flagName(a)
	if v, ok := tbl[n]; ok {
		return v
	}
	if strings.HasPrefix(a, "--") || len(n) < 2 {
		return false
	}
	for _, c := range n {
		if _, ok := tbl[string(c)]; !ok {
			return false
		}
	}
	return tbl[string(n[len(n)-1])]
}

// splitGlobalShorts splits a group of short flags ("-qm") that mixes the
// command's flags with global boolean ones: it returns the global flags,
// each alone ("-q"), and the group of the command's flags left ("-m", or ""
// when none are). ok is false for anything else: a long flag, a flag with
// "=", a name the command knows, a group with a letter neither knows.
func splitGlobalShorts(local, global map[string]bool, a string) (globals []string, rest string, ok bool) {
	n := flagName(a)
	if strings.HasPrefix(a, "--") || strings.Contains(a, "=") || len(n) < 2 {
		return nil, "", false
	}
	if _, known := local[n]; known {
		return nil, "", false
	}
	var kept []rune
	for _, c := range n {
		if _, isLocal := local[string(c)]; isLocal {
			kept = append(kept, c)
			continue
		}
		if takes, isGlobal := global[string(c)]; isGlobal && !takes {
			globals = append(globals, "-"+string(c))
			continue
		}
		return nil, "", false
	}
	if len(globals) == 0 {
		return nil, "", false
	}
	if len(kept) == 0 {
		return globals, "", true
	}
	return globals, "-" + string(kept), true
}

// countFlag reads git's short forms of -n N: "-N" and "-nN".
func countFlag(a string) (string, bool) {
	n := strings.TrimPrefix(strings.TrimPrefix(a, "-"), "n")
	if n == "" || len(a) < 2 || a[1] == '-' {
		return "", false
	}
	for _, c := range n {
		if c < '0' || c > '9' {
			return "", false
		}
	}
	return n, true
}
