package main

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/fed-vcs/fed/refs"
	"github.com/fed-vcs/fed/repo"
)

func newCompletionCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script (bash, zsh or fish)",
		ArgsUsage: "bash | zsh | fish",
		Description: "Prints a script that completes fed's commands, flags, branch, tag and remote\n" +
			"names and file paths in the shell. Set it up with:\n\n" +
			"  bash:  echo 'source <(fed completion bash)' >> ~/.bashrc\n" +
			"  zsh:   echo 'source <(fed completion zsh)' >> ~/.zshrc\n" +
			"  fish:  fed completion fish > ~/.config/fish/completions/fed.fish\n\n" +
			"The scripts ask 'fed __complete WORD...' for the candidates.",
		Action: func(c *cli.Context) error {
			args, _, _ := splitDashDash(c.Args().Slice())
			if len(args) != 1 {
				return usageErrorf("completion takes one shell: bash, zsh or fish")
			}
			script, ok := completionScripts[args[0]]
			if !ok {
				return usageErrorf("completion %q: want bash, zsh or fish", args[0])
			}
			e.printf("%s", script)
			return nil
		},
	}
}

var completionScripts = map[string]string{
	"bash": `# bash completion for fed (fed completion bash)
_fed() {
    local IFS=$'\n'
    COMPREPLY=($(fed __complete "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null))
    if [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == */ ]]; then
        compopt -o nospace 2>/dev/null
    fi
}
complete -F _fed fed
`,
	"zsh": `#compdef fed
# zsh completion for fed (fed completion zsh)
_fed() {
    local -a out dirs other
    local c
    out=("${(@f)$(fed __complete "${(@)words[2,CURRENT]}" 2>/dev/null)}")
    for c in $out; do
        [[ -z $c ]] && continue
        if [[ $c == */ ]]; then dirs+=("$c"); else other+=("$c"); fi
    done
    (( $#other )) && compadd -- "${other[@]}"
    (( $#dirs )) && compadd -S '' -- "${dirs[@]}"
    (( $#other + $#dirs ))
}
if (( $+functions[compdef] )); then compdef _fed fed; fi
`,
	"fish": `# fish completion for fed (fed completion fish)
function __fed_complete
    set -l tokens (commandline -opc) (commandline -ct)
    fed __complete $tokens[2..-1] 2>/dev/null
end
complete -c fed -f -a '(__fed_complete)'
`,
}

// subcommandWords are the first arguments of commands that take a verb.
var subcommandWords = map[string][]string{
	"remote":     {"add", "list", "remove"},
	"stash":      {"apply", "drop", "list", "pop", "push"},
	"nft":        {"link", "mint", "show", "transfer", "unlink"},
	"zk":         {"import", "list", "pin", "setup", "unpin"},
	"collab":     {"add", "list", "rm"},
	"completion": {"bash", "fish", "zsh"},
	"reflog":     {"show"},
}

// What a command's positional arguments are, for completion.
const (
	argFiles = iota
	argBranches
	argRevs     // branches, tags, remote-tracking branches
	argRevFiles // revisions, then files
	argRemote   // a remote, then a branch or tag
	argNone
)

var commandArgs = map[string]int{
	"switch": argBranches, "branch": argBranches, "merge": argRevs, "rebase": argRevs,
	"log": argRevs, "show": argRevs, "reset": argRevs, "revert": argRevs, "tag": argRevs,
	"anchor": argRevs, "prove": argRevs, "verify": argRevs, "reflog": argRevs,
	"checkout": argRevFiles, "diff": argRevFiles,
	"push": argRemote, "fetch": argRemote, "pull": argRemote, "remote": argRemote,
	"init": argFiles, "clone": argNone, "version": argNone, "keygen": argFiles,
}

// runComplete prints the candidates for the last of words (the word being
// typed, maybe empty), one per line: the protocol of the shell scripts.
func newCompleteCommand(e *env, app func() *cli.App) *cli.Command {
	return &cli.Command{
		Name:            "__complete",
		Hidden:          true,
		SkipFlagParsing: true,
		HideHelp:        true, // "help" is a word to complete, not a request
		Action: func(c *cli.Context) error {
			for _, s := range complete(c.Context, app(), c.Args().Slice(), e) {
				e.printf("%s\n", s)
			}
			return nil
		},
	}
}

func complete(ctx context.Context, app *cli.App, words []string, e *env) []string {
	if len(words) == 0 {
		words = []string{""}
	}
	cur, before := words[len(words)-1], words[:len(words)-1]
	global := flagTable(app.Flags)
	// the command: the first word that is not a global flag (or its value)
	var cmd *cli.Command
	var args []string // the command's words before cur
	for i := 0; i < len(before); i++ {
		w := before[i]
		if cmd == nil {
			if strings.HasPrefix(w, "-") {
				if w == "-C" && i+1 < len(before) {
					e.dir = before[i+1]
				}
				if takesValue(global, w) {
					i++
				}
				continue
			}
			cmd = findCommand(app, w)
			if cmd == nil {
				return nil
			}
			continue
		}
		args = append(args, w)
	}
	commands := func() []string {
		var names []string
		for _, c := range app.Commands {
			if !c.Hidden {
				names = append(names, c.Name)
			}
		}
		return matching(cur, append(names, "help"))
	}
	if cmd == nil {
		if strings.HasPrefix(cur, "-") {
			return matching(cur, flagNames(app.Flags))
		}
		return commands()
	}
	if cmd.Name == "help" {
		if len(args) == 0 {
			return commands()
		}
		return nil
	}
	local := flagTable(cmd.Flags)
	// the value of a flag
	if n := len(args); n > 0 && strings.HasPrefix(args[n-1], "-") && takesValue(local, args[n-1]) {
		switch flagName(args[n-1]) {
		case "source", "s", "onto":
			return matching(cur, revisionNames(e, argRevs))
		case "m", "message", "format", "pretty", "meta", "samples", "n", "max-count":
			return nil
		}
		return files(e, cur)
	}
	if strings.HasPrefix(cur, "-") {
		return matching(cur, append(flagNames(cmd.Flags), "--help"))
	}
	var positional []string
	for i := 0; i < len(args); i++ {
		if strings.HasPrefix(args[i], "-") {
			if takesValue(local, args[i]) {
				i++
			}
			continue
		}
		positional = append(positional, args[i])
	}
	if verbs, ok := subcommandWords[cmd.Name]; ok && len(positional) == 0 {
		return matching(cur, verbs)
	}
	kind, ok := commandArgs[cmd.Name]
	if !ok {
		kind = argFiles
	}
	switch kind {
	case argNone:
		return nil
	case argBranches, argRevs:
		return matching(cur, revisionNames(e, kind))
	case argRevFiles:
		out := matching(cur, revisionNames(e, argRevs))
		return append(out, files(e, cur)...)
	case argRemote:
		if cmd.Name == "remote" {
			if len(positional) == 1 && (positional[0] == "remove" || positional[0] == "rm") {
				return matching(cur, remoteNames(e))
			}
			return nil
		}
		if len(positional) == 0 {
			return matching(cur, remoteNames(e))
		}
		return matching(cur, revisionNames(e, argRevs))
	}
	return files(e, cur)
}

func findCommand(app *cli.App, name string) *cli.Command {
	for _, c := range app.Commands {
		if c.HasName(name) {
			return c
		}
	}
	if name == "help" || name == "h" {
		return &cli.Command{Name: "help"} // urfave adds it when the app runs
	}
	return nil
}

// flagNames lists flags as they are typed: --long, -s.
func flagNames(flags []cli.Flag) []string {
	var out []string
	for _, f := range flags {
		if v, ok := f.(cli.VisibleFlag); ok && !v.IsVisible() {
			continue
		}
		for _, n := range f.Names() {
			if len(n) == 1 {
				out = append(out, "-"+n)
			} else {
				out = append(out, "--"+n)
			}
		}
	}
	return out
}

func matching(prefix string, words []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, w := range words {
		if strings.HasPrefix(w, prefix) && !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	sort.Strings(out)
	return out
}

// revisionNames lists branch names, and for argRevs tags, remote-tracking
// branches and HEAD, of the repository fed runs in (none outside one).
func revisionNames(e *env, kind int) []string {
	r, err := repo.OpenWith(e.workdir(), e.repoOptions())
	if err != nil {
		return nil
	}
	prefixes := []string{refs.HeadsPrefix}
	if kind == argRevs {
		prefixes = append(prefixes, refs.TagsPrefix, refs.RemotesPrefix)
	}
	var out []string
	for _, p := range prefixes {
		list, err := r.ListRefs(p)
		if err != nil {
			continue
		}
		for _, ref := range list {
			out = append(out, strings.TrimPrefix(string(ref.Name), p))
		}
	}
	if kind == argRevs {
		out = append(out, "HEAD")
	}
	return out
}

func remoteNames(e *env) []string {
	r, err := repo.OpenWith(e.workdir(), e.repoOptions())
	if err != nil {
		return nil
	}
	list, err := r.Remotes()
	if err != nil {
		return nil
	}
	var out []string
	for _, rm := range list {
		out = append(out, rm.Name)
	}
	return out
}

// files lists the paths starting with cur: files, and directories with a
// trailing '/'; never the repository's .fed directory.
func files(e *env, cur string) []string {
	dir, base := filepath.Split(cur)
	entries, err := os.ReadDir(e.path(filepath.Join(".", dir)))
	if err != nil {
		return nil
	}
	var out []string
	for _, en := range entries {
		n := en.Name()
		if !strings.HasPrefix(n, base) || n == repo.DirName || strings.HasPrefix(n, ".") && !strings.HasPrefix(base, ".") {
			continue
		}
		p := dir + n
		if en.IsDir() {
			p += "/"
		}
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}
