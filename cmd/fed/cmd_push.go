package main

import (
	"context"
	"errors"

	"github.com/urfave/cli/v2"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/remote"
	"github.com/fed-vcs/fed/repo"
)

type pushOptions struct {
	remote, branch string
	force, json    bool
}

func newPushCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "push",
		Usage:     "upload a branch to a remote and move it there",
		ArgsUsage: "[REMOTE [BRANCH]]",
		Description: "Sends only the objects the server lacks, then moves the branch on the server\n" +
			"from the value this repository last saw to the local one (compare-and-swap).\n" +
			"REMOTE defaults to origin, BRANCH to the current branch. Pushes are signed with\n" +
			"your key; the first push to a repository that does not exist creates it, owned by you.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "allow a push that is not a fast-forward (owner only)"},
			&cli.BoolFlag{Name: "json", Usage: "print the result as JSON"},
		},
		Action: func(c *cli.Context) error {
			args, _, _ := splitDashDash(c.Args().Slice())
			if len(args) > 2 {
				return usageErrorf("push takes [REMOTE [BRANCH]], got %d arguments", len(args))
			}
			opts := pushOptions{force: c.Bool("force"), json: c.Bool("json")}
			if len(args) > 0 {
				opts.remote = args[0]
			}
			if len(args) > 1 {
				opts.branch = args[1]
			}
			return runPush(c.Context, opts, e)
		},
	}
}

type pushJSON struct {
	Remote   string     `json:"remote"`
	Ref      string     `json:"ref"`
	Old      objects.ID `json:"old"`
	New      objects.ID `json:"new"`
	UpToDate bool       `json:"up_to_date"`
	Objects  int        `json:"objects"`
	Bytes    int64      `json:"bytes"`
}

func runPush(ctx context.Context, opts pushOptions, e *env) error {
	r, err := e.openRepo(opts.json)
	if err != nil {
		return err
	}
	if err := e.loadKey(r); err != nil {
		return err
	}
	res, err := r.Push(ctx, repo.PushOptions{Remote: opts.remote, Branch: opts.branch, Force: opts.force})
	if err != nil {
		return remoteError(err)
	}
	if opts.json {
		return e.printJSON(pushJSON{res.Remote, res.Ref, res.Old, res.New, res.UpToDate, res.Stats.Objects, res.Stats.Bytes})
	}
	if res.UpToDate {
		e.note("Everything up-to-date\n")
		return nil
	}
	from := "(new)"
	if !res.Old.IsZero() {
		from = res.Old.Short()
	}
	e.printf("%s..%s  %s -> %s/%s\n", from, res.New.Short(), res.Ref, res.Remote, res.Ref[len("refs/heads/"):])
	return nil
}

// remoteError gives remote failures their exit codes and hints.
func remoteError(err error) error {
	switch {
	case errors.Is(err, repo.ErrRejected):
		return withHint(&exitError{code: exitConflict, msg: err.Error()}, "run 'fed pull' to bring in the remote commits, then push again")
	case errors.Is(err, repo.ErrDiverged):
		return withHint(&exitError{code: exitConflict, msg: err.Error()}, "merge the remote branch (fed merge is coming), or push --force if you own the repository")
	case errors.Is(err, remote.ErrStale):
		return withHint(&exitError{code: exitConflict, msg: err.Error()}, "someone pushed meanwhile: run 'fed pull', then push again")
	case errors.Is(err, remote.ErrUnauthorized):
		return withHint(err, "check your key (--keypair); a login signs a challenge from the server")
	case errors.Is(err, remote.ErrForbidden):
		return withHint(err, "ask the repository's owner to run 'fed collab add YOURKEY'")
	case errors.Is(err, remote.ErrVersion):
		return withHint(err, "upgrade the older of this fed and the server")
	}
	return err
}
