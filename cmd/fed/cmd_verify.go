package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/fed-vcs/fed/governing"
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/proving"
	"github.com/fed-vcs/fed/repo"
	"github.com/fed-vcs/fed/zk"
)

type verifyOptions struct {
	revs    string
	workers int
	json    bool
	anchors bool
	rpc     string
	// requireProofs fails every commit without a verifying proof
	requireProofs bool
	// governance replays the push log of remote (doc/design.md §19)
	governance bool
	remote     string
	// noMemo verifies cold: neither reads nor writes .fed/verified
	noMemo bool
}

func newVerifyCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "verify",
		Usage:     "check signatures and zero-knowledge proofs of commits (a CI step)",
		ArgsUsage: "[REV | A..B | ..B]",
		Description: "Checks each commit (default HEAD; A..B: the commits reachable from B but not\n" +
			"from A; ..B: the whole history of B): its signature, its attached proof against\n" +
			"its verifying key (only keys pinned in zk.vk when that is set), its commitment\n" +
			"against its weights when they are here (else against its signed zk.root), its\n" +
			"parents' commitments, the update bound against zk.linf and zk.l2 and a merge's\n" +
			"weights against merge.weights.\n" +
			"Works without weights (a --depth 1 clone, withheld contributions): then only\n" +
			"commitments and proofs are checked. Exits 0 only when every commit verifies;\n" +
			"the last line is a summary. Development keys are named in every report.\n\n" +
			"The zk settings are .fed/config's, else the ones the repository's owner signed\n" +
			"(fed config --remote), which fetch and clone bring. A commit that records zk.root\n" +
			"or merge.weights fails without a proof that verifies, and an update proof fails\n" +
			"when no zk.linf is known to check its bound against: verify never passes what it\n" +
			"cannot check. --require-proofs (for CI) fails every commit without a verifying proof.\n\n" +
			"What a verification establishes about content-addressed objects (the commitment\n" +
			"of a commit's weights, that a proof verified against a key and the pinned keys)\n" +
			"is kept in .fed/verified, so a later verify of a longer range does only what is\n" +
			"new; --no-cache verifies everything cold and leaves the file alone.",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "workers", Usage: "verify `N` chunks at once", DefaultText: "all cores"},
			&cli.BoolFlag{Name: "json", Usage: "print the report as JSON"},
			&cli.BoolFlag{Name: "require-proofs", Usage: "fail every commit in range that has no verifying proof (CI)"},
			&cli.BoolFlag{Name: "anchors", Usage: "also check that every commit anchored on Solana (fed anchor) is in this history"},
			&cli.StringFlag{Name: "rpc", Usage: "Solana JSON-RPC `URL` for --anchors (default: config solana.rpc, then the Solana CLI's)"},
			&cli.BoolFlag{Name: "governance", Usage: "also replay REMOTE's push log: every update of a branch under a policy met the policy that held when it arrived"},
			&cli.StringFlag{Name: "remote", Value: "origin", Usage: "the `REMOTE` whose push log --governance replays"},
			&cli.BoolFlag{Name: "no-cache", Usage: "verify every commitment and proof cold, without reading or writing .fed/verified"},
		},
		Action: func(c *cli.Context) error {
			args, _, _ := splitDashDash(c.Args().Slice())
			if len(args) > 1 {
				return usageErrorf("verify takes at most one revision or range")
			}
			opts := verifyOptions{revs: "HEAD", workers: c.Int("workers"), json: c.Bool("json"),
				anchors: c.Bool("anchors"), rpc: c.String("rpc"), requireProofs: c.Bool("require-proofs"),
				governance: c.Bool("governance"), remote: c.String("remote"), noMemo: c.Bool("no-cache")}
			if opts.governance && opts.json {
				return usageErrorf("--governance prints text")
			}
			if opts.anchors && opts.json {
				return usageErrorf("--anchors prints text; use 'fed anchor --verify --json' for JSON")
			}
			if len(args) == 1 {
				opts.revs = args[0]
			}
			if opts.workers < 0 {
				return usageErrorf("--workers must not be negative")
			}
			return runVerify(c.Context, opts, e)
		},
	}
}

func runVerify(ctx context.Context, opts verifyOptions, e *env) error {
	r, err := e.openRepo(opts.json)
	if err != nil {
		return err
	}
	cache, err := e.zkCache()
	if err != nil {
		return err
	}
	var memo *proving.Memo
	if !opts.noMemo {
		if memo, err = proving.OpenMemo(filepath.Join(r.Dir, proving.MemoFile)); err != nil {
			return err
		}
	}
	rep, err := proving.Verify(ctx, r, opts.revs, proving.VerifyOptions{Cache: cache, Workers: opts.workers, RequireProof: opts.requireProofs, Memo: memo})
	if merr := memo.Close(); merr != nil {
		e.note("warning: the verification memo was not saved (the next verify starts cold): %v\n", merr)
	}
	if err != nil && !errors.Is(err, proving.ErrVerify) {
		return err
	}
	failed, dev := 0, false
	for _, c := range rep.Commits {
		if !c.OK {
			failed++
		}
		dev = dev || c.Keys == "development"
	}
	if opts.json {
		if rep.Commits == nil {
			rep.Commits = []*proving.CommitReport{}
		}
		if err := e.printJSON(rep); err != nil {
			return err
		}
	} else {
		e.printf("settings: %s\n", rep.Settings)
		for _, c := range rep.Commits {
			printCommitReport(e, c)
		}
		keys := ""
		if dev {
			keys = " (development keys: not sound against whoever made them)"
		}
		status := "OK"
		if failed > 0 {
			status = "FAILED"
		}
		if memo != nil && memo.Hits > 0 {
			e.printf("memo: %d of %d check(s) remembered from earlier runs (.fed/verified; --no-cache verifies cold)\n", memo.Hits, memo.Hits+memo.Misses)
		}
		e.printf("verify: %s: %d of %d commit(s) verified%s\n", status, len(rep.Commits)-failed, len(rep.Commits), keys)
	}
	var govErr error
	if opts.governance {
		govErr = verifyGovernance(ctx, r, opts.remote, e)
	}
	var anchorErr error
	if opts.anchors {
		_ = e.loadKey(r) // anchors signed by this key are found on chain too
		c, err := e.solanaClient(opts.rpc, r.Config)
		if err != nil {
			return err
		}
		defer c.Close()
		anchorErr = e.solanaError(verifyAnchors(ctx, r, c, anchorOptions{}, e), r)
	}
	if failed > 0 {
		var hints []string
		if errors.Is(err, proving.ErrProofMissing) {
			hints = append(hints, "a missing proof: 'fed fetch' brings the proofs its remote holds; else its author proves it ('fed prove REV') and pushes")
		}
		if errors.Is(err, proving.ErrSettingsMissing) {
			hints = append(hints, "missing zk settings: 'fed fetch' brings the settings the repository's owner signed ('fed config --remote REMOTE KEY VALUE')")
		}
		if errors.Is(err, zk.ErrNoKeys) {
			hints = append(hints, "missing verifying keys: import them with 'fed zk import' (or make development keys with 'fed zk setup')")
		}
		return withHint(&exitError{code: exitFailure, msg: fmt.Sprintf("verification failed: %d of %d commit(s)", failed, len(rep.Commits))}, hints...)
	}
	if govErr != nil {
		return govErr
	}
	return anchorErr
}

func printCommitReport(e *env, c *proving.CommitReport) {
	status := "ok"
	if !c.OK {
		status = "FAILED"
	}
	e.printf("commit %s: %s\n", c.Commit.Short(), status)
	field := func(name, value string) {
		if value != "" {
			e.printf("  %-11s %s\n", name+":", value)
		}
	}
	field("signature", c.Signature)
	proof := c.Proof
	if c.Kind != "" && c.Proof == "ok" {
		var more []string
		more = append(more, c.Kind, fmt.Sprintf("%d chunk(s)", c.Chunks))
		if c.Kind == "update" {
			more = append(more, "linf "+strconv.FormatFloat(c.Linf, 'g', 6, 64))
		}
		if len(c.Weights) > 0 {
			var ws []string
			for _, w := range c.Weights {
				ws = append(ws, strconv.FormatUint(w, 10))
			}
			more = append(more, "weights "+strings.Join(ws, ","))
		}
		proof += " (" + strings.Join(more, ", ") + ")"
	}
	field("proof", proof)
	keys := c.Keys
	if keys == "development" {
		keys += " (single-party setup: its maker can forge proofs)"
	}
	field("keys", keys)
	field("commitment", c.Commitment)
	field("parents", strings.Join(c.Parents, ", "))
	for _, err := range c.Errors {
		field("error", messageText(err))
	}
}

// verifyGovernance prints the replay of remoteName's push log
// (governing.VerifyGovernance), one line per check.
func verifyGovernance(ctx context.Context, r *repo.Repo, remoteName string, e *env) error {
	rep, err := governing.VerifyGovernance(ctx, r, remoteName)
	if rep == nil {
		return remoteError(err)
	}
	label := governing.Label(ctx, r, remoteName, false)
	failed := 0
	for _, ck := range rep.Checks {
		what := ck.Ref
		if !ck.New.IsZero() {
			what += " -> " + ck.New.Short()
		}
		if ck.Pusher != "" {
			who := ck.Pusher
			if k, perr := objects.ParsePublicKey(ck.Pusher); perr == nil {
				who = label(k)
			}
			what += " by " + who
		}
		if !ck.Time.IsZero() {
			what = ck.Time.UTC().Format(time.RFC3339) + " " + what
		}
		if !ck.Policy.IsZero() {
			what += " (policy " + ck.Policy.Short() + ")"
		}
		if ck.OK {
			e.printf("governance: ok %s\n", what)
			continue
		}
		failed++
		e.printf("governance: FAILED %s: %s\n", what, strings.Join(ck.Problems, "; "))
	}
	status := "OK"
	if failed > 0 {
		status = "FAILED"
	}
	e.printf("governance: %s: %d push(es) of %s replayed, %d review(s) and attestation(s), %d check(s), %d failed\n", status, rep.Pushes, remoteName, rep.Records, len(rep.Checks), failed)
	if failed > 0 {
		return withHint(&exitError{code: exitFailure, msg: fmt.Sprintf("governance verification failed: %d of %d check(s)", failed, len(rep.Checks))},
			"a record that is not held here: 'fed fetch "+remoteName+"' brings the server's reviews, attestations and policies")
	}
	return nil
}
