package main

import (
	"context"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/fed-vcs/fed/nft"
	"github.com/fed-vcs/fed/nftlink"
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/repo"
)

type anchorOptions struct {
	rev    string
	rpc    string
	verify bool
	json   bool
}

func newAnchorCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "anchor",
		Usage:     "record a commit id on Solana, or verify recorded anchors",
		ArgsUsage: "[REV]",
		Description: "Writes commit REV's id (default HEAD), its repository id and its zk root (when\n" +
			"the commit records zk.root) to the chain with the Memo program, signed by your\n" +
			"key: an immutable, time-stamped public record. Prints the transaction signature\n" +
			"and lists it in .fed/anchors.\n\n" +
			"With --verify, reads every anchor in .fed/anchors and those your key signed on\n" +
			"chain, and checks that each names this repository and a commit in its history;\n" +
			"exits 1 when one does not.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "rpc", Usage: "Solana JSON-RPC node `URL`"},
			&cli.BoolFlag{Name: "verify", Usage: "verify the anchors instead of writing one"},
			&cli.BoolFlag{Name: "json", Usage: "print --verify's result as JSON"},
		},
		Action: func(c *cli.Context) error {
			args, _, _ := splitDashDash(c.Args().Slice())
			if len(args) > 1 {
				return usageErrorf("anchor takes at most one REV")
			}
			opts := anchorOptions{rpc: c.String("rpc"), verify: c.Bool("verify"), json: c.Bool("json")}
			if len(args) == 1 {
				opts.rev = args[0]
			}
			return runAnchor(c.Context, opts, e)
		},
	}
}

func runAnchor(ctx context.Context, opts anchorOptions, e *env) error {
	if opts.verify && opts.rev != "" {
		return usageErrorf("--verify checks every anchor; it takes no REV")
	}
	if opts.json && !opts.verify {
		return usageErrorf("--json goes with --verify")
	}
	r, err := e.openRepo(true)
	if err != nil {
		return err
	}
	if err := e.loadKey(r); err != nil {
		return err
	}
	c, err := e.solanaClient(opts.rpc, r.Config)
	if err != nil {
		return err
	}
	defer c.Close()
	if opts.verify {
		return e.solanaError(verifyAnchors(ctx, r, c, opts, e), r)
	}
	a, err := nftlink.Anchor(ctx, r, c, opts.rev)
	if err != nil {
		return e.solanaError(err, r)
	}
	e.note("Anchored commit %s in slot %d at %s\n", a.Commit.Short(), a.Slot, a.Time.Format(time.RFC3339))
	e.printf("%s\n", a.Signature)
	return nil
}

func verifyAnchors(ctx context.Context, r *repo.Repo, c *nft.Client, opts anchorOptions, e *env) error {
	var signers []objects.PublicKey
	if r.Key != nil {
		signers = append(signers, r.Key.Public())
	}
	checks, err := nftlink.VerifyAnchors(ctx, r, c, signers...)
	if err != nil {
		return err
	}
	bad := 0
	for _, ch := range checks {
		if !ch.OK {
			bad++
		}
	}
	if opts.json {
		if checks == nil {
			checks = []nftlink.AnchorCheck{}
		}
		if err := e.printJSON(checks); err != nil {
			return err
		}
	} else {
		for _, ch := range checks {
			a := ch.Anchor
			when := "-"
			if !a.Time.IsZero() {
				when = a.Time.Format(time.RFC3339)
			}
			if ch.OK {
				e.printf("ok   %s %s %s\n", a.Commit.Short(), when, a.Signature)
			} else {
				e.printf("BAD  %s %s %s: %s\n", a.Commit.Short(), when, a.Signature, ch.Problem)
			}
		}
		if len(checks) == 0 {
			e.note("no anchors found\n")
		}
	}
	if bad > 0 {
		return &exitError{code: exitFailure, msg: "some anchors do not match this repository's history"}
	}
	return nil
}
