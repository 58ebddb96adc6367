package main

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/refs"
	"github.com/fed-vcs/fed/repo"
)

type statusOptions struct {
	short  bool
	branch bool
	json   bool
}

func newStatusCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "show the working tree status",
		Description: "Lists changes staged for the next commit, changes not staged, and untracked files.\n" +
			"--short prints two status letters per path, staged then unstaged, like git:\n" +
			"A added, M modified, D deleted, U unmerged, ?? untracked, W not checked out because\n" +
			"its weights were withheld by their contributor (a private push; not a change).\n" +
			"--branch adds a first line '## BRANCH...UPSTREAM [ahead N, behind M]'.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "short", Aliases: []string{"s"}, Usage: "one line per path"},
			&cli.BoolFlag{Name: "porcelain", Usage: "--short, for scripts"},
			&cli.BoolFlag{Name: "branch", Aliases: []string{"b"}, Usage: "with --short: the branch and how it stands against its upstream first"},
			&cli.BoolFlag{Name: "json", Usage: "print JSON"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageErrorf("status takes no arguments")
			}
			return runStatus(c.Context, statusOptions{short: c.Bool("short") || c.Bool("porcelain"), branch: c.Bool("branch"), json: c.Bool("json")}, e)
		},
	}
}

type statusJSON struct {
	Branch   string           `json:"branch,omitempty"`
	Head     string           `json:"head,omitempty"`
	Detached bool             `json:"detached"`
	Files    []statusFileJSON `json:"files"`
}

type statusFileJSON struct {
	Path     string `json:"path"`
	Staged   string `json:"staged,omitempty"`
	Worktree string `json:"worktree,omitempty"`
}

func code(b byte) string {
	if b == 0 {
		return ""
	}
	return string(b)
}

func runStatus(ctx context.Context, opts statusOptions, e *env) error {
	if opts.short && opts.json {
		return usageErrorf("--short and --json cannot be used together")
	}
	r, err := e.openRepo(opts.json)
	if err != nil {
		return err
	}
	head, branch, err := r.Head()
	if err != nil {
		return err
	}
	st, err := r.Status(ctx)
	if err != nil {
		return err
	}
	if opts.json {
		out := statusJSON{Branch: branch.Short(), Detached: branch == "", Files: []statusFileJSON{}}
		if !head.IsZero() {
			out.Head = head.String()
		}
		for _, s := range st {
			out.Files = append(out.Files, statusFileJSON{Path: s.Path, Staged: code(s.Staged), Worktree: code(s.Worktree)})
		}
		return e.printJSON(out)
	}
	if opts.short {
		if opts.branch {
			if err := printShortBranch(ctx, e, r, head, branch); err != nil {
				return err
			}
		}
		for _, s := range st {
			x, y := s.Staged, s.Worktree
			if y == '?' {
				if x != 0 {
					// staged deletion of a file that is back, untracked
					e.printf("%c  %s\n", x, s.Path)
				}
				x = '?'
			}
			if x == 0 {
				x = ' '
			}
			if y == 0 {
				y = ' '
			}
			if s.Staged == 'U' {
				x, y = 'U', 'U'
			}
			e.printf("%c%c %s\n", x, y, s.Path)
		}
		return nil
	}
	if branch != "" {
		e.printf("On branch %s\n", branch.Short())
		if !head.IsZero() {
			if err := printTracking(ctx, e, r, head, branch); err != nil {
				return err
			}
		}
	} else {
		e.printf("HEAD detached at %s\n", head.Short())
	}
	if head.IsZero() {
		e.printf("\nNo commits yet\n")
	}
	var staged, unmerged, changed, untracked, withheld []repo.FileState
	for _, s := range st {
		switch {
		case s.Staged == 'U':
			unmerged = append(unmerged, s)
		case s.Worktree == '?':
			untracked = append(untracked, s)
		case s.Worktree == 'W':
			withheld = append(withheld, s)
		}
		if s.Staged != 0 && s.Staged != 'U' {
			staged = append(staged, s)
		}
		if s.Worktree == 'M' || s.Worktree == 'D' {
			changed = append(changed, s)
		}
	}
	name := map[byte]string{'A': "new file:   ", 'M': "modified:   ", 'D': "deleted:    "}
	if len(unmerged) > 0 {
		e.printf("\nUnmerged paths:\n")
		e.hint(`  (use "fed add <file>..." to mark resolution)` + "\n")
		for _, s := range unmerged {
			e.printf("\tboth modified:   %s\n", s.Path)
		}
	}
	if len(staged) > 0 {
		e.printf("\nChanges to be committed:\n")
		if head.IsZero() {
			e.hint(`  (use "fed rm --cached <file>..." to unstage)` + "\n")
		} else {
			e.hint(`  (use "fed reset HEAD" to unstage everything)` + "\n")
		}
		for _, s := range staged {
			e.printf("\t%s%s\n", name[s.Staged], s.Path)
		}
	}
	if len(changed) > 0 {
		e.printf("\nChanges not staged for commit:\n")
		e.hint(`  (use "fed add <file>..." to update what will be committed)` + "\n")
		e.hint(`  (use "fed checkout -- <file>..." to discard changes in working directory)` + "\n")
		for _, s := range changed {
			e.printf("\t%s%s\n", name[s.Worktree], s.Path)
		}
	}
	if len(untracked) > 0 {
		e.printf("\nUntracked files:\n")
		e.hint(`  (use "fed add <file>..." to include in what will be committed)` + "\n")
		for _, s := range untracked {
			e.printf("\t%s\n", s.Path)
		}
	}
	if len(withheld) > 0 {
		e.printf("\nNot checked out (weights withheld by their contributor):\n")
		e.hint(`  ("fed verify" checks their commitments and proofs; commits keep them unchanged)` + "\n")
		for _, s := range withheld {
			e.printf("\t%s\n", s.Path)
		}
	}
	e.printf("\n")
	clean := len(st) == 0
	if !clean && len(st) == len(withheld) {
		clean = true
		for _, s := range withheld {
			clean = clean && s.Staged == 0
		}
	}
	switch {
	case clean && head.IsZero():
		e.printf("nothing to commit (create/copy files and use \"fed add\" to track)\n")
	case clean:
		e.printf("nothing to commit, working tree clean\n")
	case len(staged) == 0 && len(changed) > 0:
		e.printf("no changes added to commit (use \"fed add\" and/or \"fed commit -a\")\n")
	case len(staged) == 0 && len(unmerged) == 0:
		e.printf("nothing added to commit but untracked files present (use \"fed add\" to track)\n")
	}
	return nil
}

// printShortBranch prints git's "## main...origin/main [ahead 1]" line.
func printShortBranch(ctx context.Context, e *env, r *repo.Repo, head objects.ID, branch refs.Name) error {
	switch {
	case branch == "":
		e.printf("## HEAD (no branch)\n")
		return nil
	case head.IsZero():
		e.printf("## No commits yet on %s\n", branch.Short())
		return nil
	}
	t, err := branchTracking(ctx, r, branch.Short(), head)
	if err != nil {
		return err
	}
	line := "## " + branch.Short()
	if t.upstream != "" {
		line += "..." + t.upstream
		if c := t.counts(); c != "" {
			line += " [" + c + "]"
		}
	}
	e.printf("%s\n", line)
	return nil
}

// printTracking prints git's lines on how the branch stands against its
// upstream ("Your branch is ahead of 'origin/main' by 1 commit.").
func printTracking(ctx context.Context, e *env, r *repo.Repo, head objects.ID, branch refs.Name) error {
	t, err := branchTracking(ctx, r, branch.Short(), head)
	if err != nil || t.upstream == "" {
		return err
	}
	commits := func(n int) string {
		if n == 1 {
			return "1 commit"
		}
		return fmt.Sprintf("%d commits", n)
	}
	switch {
	case t.gone:
		e.printf("Your branch is based on '%s', but the upstream is gone.\n", t.upstream)
	case t.ahead == 0 && t.behind == 0:
		e.printf("Your branch is up to date with '%s'.\n", t.upstream)
	case t.behind == 0:
		e.printf("Your branch is ahead of '%s' by %s.\n", t.upstream, commits(t.ahead))
		e.hint(`  (use "fed push" to publish your local commits)` + "\n")
	case t.ahead == 0:
		e.printf("Your branch is behind '%s' by %s, and can be fast-forwarded.\n", t.upstream, commits(t.behind))
		e.hint(`  (use "fed pull" to update your local branch)` + "\n")
	default:
		e.printf("Your branch and '%s' have diverged,\nand have %d and %d different commits each, respectively.\n", t.upstream, t.ahead, t.behind)
		e.hint(`  (use "fed pull" to merge the remote branch into yours)` + "\n")
	}
	return nil
}
