package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/refs"
	"github.com/fed-vcs/fed/remote"
	"github.com/fed-vcs/fed/repo"
	"github.com/fed-vcs/fed/transfer"
)

type pushOptions struct {
	remote, branch string
	remoteBranch   string // LOCAL:REMOTE
	force, json    bool
	private        bool
	aggregator     string
	tags           bool
	release        bool
}

func newPushCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "push",
		Usage:     "upload a branch or tags to a remote and move them there",
		ArgsUsage: "[REMOTE [BRANCH | LOCAL:REMOTE | TAG]]",
		Description: "Sends only the objects the server lacks, then moves the branch on the server\n" +
			"from the value this repository last saw to the local one (compare-and-swap).\n" +
			"REMOTE defaults to origin, BRANCH to the current branch. LOCAL:REMOTE pushes the\n" +
			"local branch LOCAL to the server's branch REMOTE ('+LOCAL:REMOTE' forces, as\n" +
			"--force does). Pushes are signed with\n" +
			"your key; the first push to a repository that does not exist creates it, owned by you.\n" +
			"A name that is not a local branch but a tag pushes that tag; --tags pushes every\n" +
			"tag the server lacks. A tag the server holds with another value is replaced only\n" +
			"with --force (the owner's right).\n\n" +
			"Private contributions: --private-weights sends the branch's commits, trees, models\n" +
			"and proofs to REMOTE, but not the weights (the tensors of its model files): anyone\n" +
			"can verify the commits' proofs there, nobody can read the weights. Every commit\n" +
			"whose weights are withheld must be proven first (fed commit --prove, or fed prove)\n" +
			"in a repository with zk settings. --aggregator AGGREGATOR first pushes the branch\n" +
			"in full, weights included, to the remote AGGREGATOR (whoever merges the\n" +
			"contributions with 'fed merge --prove'), then the withheld form to REMOTE:\n\n" +
			"  fed push --private-weights --aggregator lab origin alice\n\n" +
			"is 'fed push lab alice' followed by 'fed push --private-weights origin alice'.\n" +
			"'fed config remote.origin.private-weights true' makes every push to origin private;\n" +
			"the first --private-weights push to a remote sets it, so that a later push without\n" +
			"the flag does not publish weights (set it to false to publish them there).\n" +
			"Only tensors of model files fed understands are withheld; other files are pushed as is.\n\n" +
			"The push to --aggregator marks the weights private to that remote: whoever fetches\n" +
			"them from there (the aggregator) keeps them off every other remote, as if each of\n" +
			"its pushes elsewhere were --private-weights for them (their commits' proofs go).\n" +
			"--release-weights pushes them anyway: the decision of whoever holds them.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "allow a push that is not a fast-forward (owner only)"},
			&cli.BoolFlag{Name: "private-weights", Usage: "push commitments and proofs but not the weights (each commit needs a proof)"},
			&cli.StringFlag{Name: "aggregator", Usage: "first push in full, weights included, to the remote `AGGREGATOR` (needs --private-weights)"},
			&cli.BoolFlag{Name: "tags", Usage: "push every local tag (instead of a branch)"},
			&cli.BoolFlag{Name: "release-weights", Usage: "also push weights fetched as private to their aggregator (contributors' weights)"},
			&cli.BoolFlag{Name: "json", Usage: "print the result as JSON"},
		},
		Action: func(c *cli.Context) error {
			args, _, _ := splitDashDash(c.Args().Slice())
			if len(args) > 2 {
				return usageErrorf("push takes [REMOTE [BRANCH | TAG]], got %d arguments", len(args))
			}
			opts := pushOptions{force: c.Bool("force"), json: c.Bool("json"), private: c.Bool("private-weights"), aggregator: c.String("aggregator"), tags: c.Bool("tags"), release: c.Bool("release-weights")}
			if opts.tags && len(args) > 1 {
				return usageErrorf("--tags pushes every tag: name only the REMOTE")
			}
			if opts.tags && (opts.private || c.IsSet("aggregator")) {
				return usageErrorf("--tags does not go with --private-weights or --aggregator")
			}
			if len(args) > 0 {
				opts.remote = args[0]
			}
			if len(args) > 1 {
				opts.branch = args[1]
				if local, remote, ok := strings.Cut(args[1], ":"); ok {
					if strings.HasPrefix(local, "+") {
						local, opts.force = local[1:], true
					}
					local = strings.TrimPrefix(local, refs.HeadsPrefix)
					remote = strings.TrimPrefix(remote, refs.HeadsPrefix)
					if local == "" {
						return usageErrorf("push %s: deleting a branch on the server is not supported", args[1])
					}
					if remote == "" || strings.Contains(remote, ":") {
						return usageErrorf("push %s: want LOCAL:REMOTE, two branch names", args[1])
					}
					opts.branch, opts.remoteBranch = local, remote
				}
			}
			if c.IsSet("aggregator") && !opts.private {
				return usageErrorf("--aggregator needs --private-weights (a plain push to it is 'fed push %s')", opts.aggregator)
			}
			if opts.release && opts.private {
				return usageErrorf("--release-weights publishes the weights --private-weights withholds: use one")
			}
			if c.IsSet("aggregator") && opts.aggregator == "" {
				return usageErrorf("--aggregator needs a remote name")
			}
			if opts.aggregator != "" && opts.aggregator == pushRemoteName(opts.remote) {
				return usageErrorf("the aggregator %s is also the remote the weights are withheld from", opts.aggregator)
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
	// Private: the push withheld weights; Withheld counts the tensor
	// objects it kept off the server.
	Private bool `json:"private,omitempty"`
	// PrivateDefault: this push set remote.<name>.private-weights true.
	PrivateDefault bool `json:"private_default_set,omitempty"`
	Withheld       int  `json:"withheld,omitempty"`
	// KeptPrivate: withheld weights fetched as private to their
	// aggregator; Released: such weights --release-weights sent; Marked:
	// weights a push to an aggregator marked private there.
	KeptPrivate int `json:"kept_private,omitempty"`
	Released    int `json:"released,omitempty"`
	Marked      int `json:"marked_private,omitempty"`
	// Aggregator is the full push to --aggregator that came first.
	Aggregator *pushJSON `json:"aggregator,omitempty"`
}

func pushRemoteName(name string) string {
	if name == "" {
		return repo.DefaultRemote
	}
	return name
}

func runPush(ctx context.Context, opts pushOptions, e *env) error {
	r, err := e.openRepo(opts.json)
	if err != nil {
		return err
	}
	if err := e.loadKey(r); err != nil {
		return err
	}
	if opts.tags {
		return runPushTags(ctx, r, opts, e)
	}
	var tag string
	exists := func(n refs.Name) bool { _, err := r.ReadRef(n); return err == nil }
	if opts.branch != "" && !exists(refs.Branch(opts.branch)) {
		if opts.remoteBranch != "" {
			return withHint(fmt.Errorf("push: no local branch named %s", opts.branch), "list them with 'fed branch'")
		}
		if !exists(refs.Tag(opts.branch)) {
			return withHint(fmt.Errorf("push: no local branch or tag named %s", opts.branch), "list them with 'fed branch' and 'fed tag'")
		}
		tag, opts.branch = opts.branch, ""
	}
	var agg *transfer.PushResult
	if opts.aggregator != "" {
		if agg, err = transfer.Push(ctx, r, transfer.PushOptions{Remote: opts.aggregator, Branch: opts.branch, RemoteBranch: opts.remoteBranch, Tag: tag, Force: opts.force, MarkPrivate: true}); err != nil {
			return remoteError(fmt.Errorf("push to the aggregator %s: %w", opts.aggregator, err))
		}
		if agg.Private {
			return fmt.Errorf("push to the aggregator %s withheld weights (this repository lacks them, or remote.%s.private-weights is set)", opts.aggregator, opts.aggregator)
		}
		if !opts.json {
			printPush(e, agg)
		}
	}
	res, err := transfer.Push(ctx, r, transfer.PushOptions{Remote: opts.remote, Branch: opts.branch, RemoteBranch: opts.remoteBranch, Tag: tag, Force: opts.force, PrivateWeights: opts.private, ReleaseWeights: opts.release})
	if err != nil {
		return remoteError(err)
	}
	if opts.json {
		out := toPushJSON(res)
		if agg != nil {
			a := toPushJSON(agg)
			out.Aggregator = &a
		}
		return e.printJSON(out)
	}
	printPush(e, res)
	return nil
}

// runPushTags pushes every local tag; tags already on the server with
// the same value are up to date. A tag the server refuses (one it holds
// with another value) does not stop the others; the first refusal is the
// command's error.
func runPushTags(ctx context.Context, r *repo.Repo, opts pushOptions, e *env) error {
	tags, err := r.ListRefs(refs.TagsPrefix)
	if err != nil {
		return err
	}
	var out []pushJSON
	var first error
	pushed := 0
	for _, t := range tags {
		res, err := transfer.Push(ctx, r, transfer.PushOptions{Remote: opts.remote, Tag: strings.TrimPrefix(string(t.Name), refs.TagsPrefix), Force: opts.force})
		if errors.Is(err, transfer.ErrRejected) {
			e.note("rejected: %v\n", err)
			if first == nil {
				first = err
			}
			continue
		}
		if err != nil {
			return remoteError(err)
		}
		out = append(out, toPushJSON(res))
		if !res.UpToDate {
			pushed++
			if !opts.json {
				printPush(e, res)
			}
		}
	}
	if opts.json {
		if out == nil {
			out = []pushJSON{}
		}
		if err := e.printJSON(out); err != nil {
			return err
		}
	} else if pushed == 0 && first == nil {
		e.note("Everything up-to-date\n")
	}
	if first != nil {
		return remoteError(first)
	}
	return nil
}

func toPushJSON(res *transfer.PushResult) pushJSON {
	return pushJSON{Remote: res.Remote, Ref: res.Ref, Old: res.Old, New: res.New, UpToDate: res.UpToDate, Objects: res.Stats.Objects, Bytes: res.Stats.Bytes,
		Private: res.Private, Withheld: res.Withheld, PrivateDefault: res.PrivateDefault,
		KeptPrivate: res.KeptPrivate, Released: res.Released, Marked: res.Marked}
}

func printPush(e *env, res *transfer.PushResult) {
	if res.UpToDate {
		e.note("Everything up-to-date\n")
		return
	}
	from := "(new)"
	if !res.Old.IsZero() {
		from = res.Old.Short()
	}
	suffix := ""
	if res.Private {
		suffix = fmt.Sprintf("  (weights withheld: %d tensor object(s) kept off %s)", res.Withheld, res.Remote)
	}
	if strings.HasPrefix(res.Ref, refs.TagsPrefix) {
		e.printf("%s..%s  %s -> %s%s\n", from, res.New.Short(), res.Ref, res.Remote, suffix)
	} else {
		e.printf("%s..%s  %s -> %s/%s%s\n", from, res.New.Short(), res.Ref, res.Remote, strings.TrimPrefix(res.Ref, refs.HeadsPrefix), suffix)
	}
	if res.Marked > 0 {
		e.note("%d weight object(s) marked private to %s: whoever fetches them there keeps them off other remotes\n", res.Marked, res.Remote)
	}
	if res.AggregatorDefault {
		e.note("Later pushes to %s mark weights private too: remote.%s.aggregator is now true\n", res.Remote, res.Remote)
	}
	if res.KeptPrivate > 0 {
		e.note("%d weight object(s) of private contributions kept off %s (their authors sent them to their aggregator only; --release-weights publishes them)\n", res.KeptPrivate, res.Remote)
	}
	if res.Released > 0 {
		e.note("Released %d weight object(s) of private contributions to %s (--release-weights)\n", res.Released, res.Remote)
	}
	if res.PrivateDefault {
		e.note("Later pushes to %s withhold weights too: remote.%s.private-weights is now true (set it to false to publish weights there)\n", res.Remote, res.Remote)
	}
}

// hasCode reports whether err carries a server problem with code.
func hasCode(err error, code string) bool {
	var p *remote.Problem
	return errors.As(err, &p) && p.Code == code
}

// remoteError gives remote failures their exit codes and hints.
func remoteError(err error) error {
	switch {
	case errors.Is(err, transfer.ErrRejected):
		return withHint(&exitError{code: exitConflict, msg: err.Error()}, "run 'fed pull' to bring in the remote commits, then push again")
	case errors.Is(err, transfer.ErrDiverged):
		return withHint(&exitError{code: exitConflict, msg: err.Error()}, "merge the remote branch ('fed pull' without --ff-only does), or push --force if you own the repository")
	case errors.Is(err, remote.ErrStale):
		return withHint(&exitError{code: exitConflict, msg: err.Error()}, "someone pushed meanwhile: run 'fed pull', then push again")
	case errors.Is(err, remote.ErrUnauthorized):
		return withHint(err, "check your key (--keypair); a login signs a challenge from the server")
	case hasCode(err, remote.CodeForeignAuthor):
		return withHint(err, "ask its author or the repository's owner to push it, or commit on top of it with your key and push that")
	case errors.Is(err, remote.ErrForbidden) && strings.Contains(err.Error(), "may not push"):
		return withHint(err, "ask the repository's owner to run 'fed collab add YOURKEY'")
	case errors.Is(err, remote.ErrForbidden):
		return withHint(err, "only the repository's owner may do this: run it with the owner's key (--keypair FILE), or ask the owner")
	case errors.Is(err, remote.ErrVersion), errors.Is(err, remote.ErrNoFeature):
		return withHint(err, "upgrade the older of this fed and the server")
	case hasCode(err, remote.CodeInvalidProof):
		return withHint(err, "prove the commit again ('fed prove --force REV') with the repository's settings ('fed config --remote REMOTE --list'), then push again")
	case hasCode(err, remote.CodeZKSettingMissing):
		return withHint(err, "the repository's owner sets it ('fed config --remote REMOTE zk.linf BOUND'), then push again")
	case errors.Is(err, transfer.ErrProofNeeded), errors.Is(err, remote.ErrProofRequired):
		return withHint(err, "prove the commits first ('fed prove ..BRANCH' in a repository with zk settings), then push again")
	}
	return err
}
