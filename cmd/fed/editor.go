package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/fed-vcs/fed/internal/ui"
	"github.com/fed-vcs/fed/repo"
)

// errEmptyMessage aborts a commit whose edited message is empty.
var errEmptyMessage = errors.New("aborting commit due to empty commit message")

// editorCommand is the editor to run, in git's order: $FED_EDITOR, config
// core.editor, $VISUAL, $EDITOR, then vi when stdin is a terminal. ""
// means there is none.
func (e *env) editorCommand(cfg *repo.Config) string {
	if v := e.getenv("FED_EDITOR"); v != "" {
		return v
	}
	if cfg != nil {
		if v, ok := cfg.Get("core.editor"); ok && v != "" {
			return v
		}
	}
	for _, k := range []string{"VISUAL", "EDITOR"} {
		if v := e.getenv(k); v != "" {
			return v
		}
	}
	if f, ok := e.stdin.(*os.File); ok && ui.IsTerminal(f) {
		return "vi"
	}
	return ""
}

// editMessage writes template to .fed/COMMIT_EDITMSG, runs the editor on
// it, and returns what the user wrote without '#' comment lines and
// surrounding blank lines.
func (e *env) editMessage(ctx context.Context, r *repo.Repo, editor, template string) (string, error) {
	path := filepath.Join(r.Dir, "COMMIT_EDITMSG")
	if err := os.WriteFile(path, []byte(template), 0o644); err != nil {
		return "", fmt.Errorf("write commit message template: %w", err)
	}
	var cmd *exec.Cmd
	if runtime.GOOS == "windows" {
		f := strings.Fields(editor)
		cmd = exec.CommandContext(ctx, f[0], append(f[1:], path)...)
	} else {
		// through the shell, as git does: the editor may carry arguments
		cmd = exec.CommandContext(ctx, "sh", "-c", editor+` "$@"`, editor, path)
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = e.stdin, e.stderr, e.stderr
	if f, ok := e.stdout.(*os.File); ok && ui.IsTerminal(f) {
		cmd.Stdout = e.stdout // a terminal editor draws on the terminal
	}
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("editor %q on %s: %w", editor, path, err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read commit message: %w", err)
	}
	return cleanMessage(string(b)), nil
}

// cleanMessage drops comment lines ('#' first), trailing spaces and
// leading and trailing blank lines, and collapses runs of blank lines,
// as git's default cleanup does.
func cleanMessage(s string) string {
	var out []string
	blank := false
	for _, l := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
		if strings.HasPrefix(l, "#") {
			continue
		}
		l = strings.TrimRight(l, " \t")
		if l == "" {
			blank = len(out) > 0
			continue
		}
		if blank {
			out = append(out, "")
			blank = false
		}
		out = append(out, l)
	}
	if len(out) == 0 {
		return ""
	}
	return strings.Join(out, "\n") + "\n"
}

// commitTemplate is the text the editor starts with: an empty first line
// and, as comments, what the commit will record and what it leaves out.
func commitTemplate(ctx context.Context, r *repo.Repo, all bool) (string, error) {
	var b strings.Builder
	b.WriteString("\n# Please enter the commit message for your changes. Lines starting\n" +
		"# with '#' will be ignored, and an empty message aborts the commit.\n#\n")
	_, branch, err := r.Head()
	if err != nil {
		return "", err
	}
	if branch != "" {
		fmt.Fprintf(&b, "# On branch %s\n", branch.Short())
	} else {
		b.WriteString("# HEAD detached\n")
	}
	st, err := r.Status(ctx)
	if err != nil {
		return "", err
	}
	name := map[byte]string{'A': "new file:   ", 'M': "modified:   ", 'D': "deleted:    "}
	var staged, unstaged, untracked []string
	for _, s := range st {
		switch {
		case s.Worktree == '?':
			untracked = append(untracked, s.Path)
			if s.Staged != 0 {
				staged = append(staged, name[s.Staged]+s.Path)
			}
			continue
		case s.Staged != 0 && s.Staged != 'U':
			staged = append(staged, name[s.Staged]+s.Path)
		case all && (s.Worktree == 'M' || s.Worktree == 'D'):
			staged = append(staged, name[s.Worktree]+s.Path)
			continue
		}
		if !all && (s.Worktree == 'M' || s.Worktree == 'D') {
			unstaged = append(unstaged, name[s.Worktree]+s.Path)
		}
	}
	section := func(title string, lines []string) {
		if len(lines) == 0 {
			return
		}
		fmt.Fprintf(&b, "#\n# %s:\n", title)
		for _, l := range lines {
			fmt.Fprintf(&b, "#\t%s\n", l)
		}
	}
	section("Changes to be committed", staged)
	section("Changes not staged for commit", unstaged)
	section("Untracked files", untracked)
	b.WriteString("#\n")
	return b.String(), nil
}
