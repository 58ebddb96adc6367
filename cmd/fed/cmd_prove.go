package main

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/fed-vcs/fed/mergeexec"
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/proving"
	"github.com/fed-vcs/fed/repo"
)

type proveOptions struct {
	revs    string
	setup   bool
	force   bool
	workers int
	json    bool
}

func newProveCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "prove",
		Usage:     "attach zero-knowledge proofs to commits",
		ArgsUsage: "[REV | A..B | ..B]",
		Description: "Proves each commit (default HEAD; A..B: the commits reachable from B but not\n" +
			"from A; ..B: the whole history of B; oldest first) with Groth16 and attaches the proof under\n" +
			"refs/proofs/<commit>: a root commit gets a commitment proof, an ordinary commit a\n" +
			"bounded-update proof (|change| <= zk.linf per weight, squared L2 norm <= zk.l2),\n" +
			"a merge a proof that it is the exact integer-weighted FedAvg of its parents.\n" +
			"Proving needs the weights of each commit and of its parents. Keys come from the\n" +
			"key cache ($FED_ZK_CACHE, else ~/.cache/fed/zk); --setup makes development keys\n" +
			"for missing circuit shapes (single-party: their maker can forge proofs).",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "setup", Usage: "make development keys for circuit shapes the cache lacks"},
			&cli.BoolFlag{Name: "force", Usage: "prove again commits that already have a proof"},
			&cli.IntFlag{Name: "workers", Usage: "prove `N` chunks at once", DefaultText: "2 for commitments and updates, 1 for merges; all cores below 4096 values"},
			&cli.BoolFlag{Name: "json", Usage: "print the results as JSON"},
		},
		Action: func(c *cli.Context) error {
			args, _, _ := splitDashDash(c.Args().Slice())
			if len(args) > 1 {
				return usageErrorf("prove takes at most one revision or range")
			}
			opts := proveOptions{revs: "HEAD", setup: c.Bool("setup"), force: c.Bool("force"), workers: c.Int("workers"), json: c.Bool("json")}
			if len(args) == 1 {
				opts.revs = args[0]
			}
			if opts.workers < 0 {
				return usageErrorf("--workers must not be negative")
			}
			return runProve(c.Context, opts, e)
		},
	}
}

// proveJSON is one commit of 'fed prove --json'.
type proveJSON struct {
	Commit  objects.ID  `json:"commit"`
	Proof   *objects.ID `json:"proof,omitempty"`
	Kind    string      `json:"kind,omitempty"`
	Chunks  int         `json:"chunks"`
	Keys    string      `json:"keys,omitempty"` // development or ceremony
	Skipped bool        `json:"skipped"`        // already proven
}

func runProve(ctx context.Context, opts proveOptions, e *env) error {
	r, err := e.openRepo(opts.json)
	if err != nil {
		return err
	}
	cache, err := e.zkCache()
	if err != nil {
		return err
	}
	res, err := proving.Prove(ctx, r, opts.revs, proving.ProveOptions{Cache: cache, Setup: opts.setup, Force: opts.force, Workers: opts.workers})
	if opts.json {
		out := []proveJSON{}
		for _, p := range res {
			pj := proveJSON{Commit: p.Commit, Kind: p.Kind, Chunks: p.Chunks, Keys: p.Keys, Skipped: p.Skipped}
			if !p.Proof.IsZero() {
				id := p.Proof
				pj.Proof = &id
			}
			out = append(out, pj)
		}
		if jerr := e.printJSON(out); jerr != nil && err == nil {
			err = jerr
		}
	} else {
		for _, p := range res {
			e.printProveResult(p)
		}
		e.devKeysNote(res)
	}
	return err
}

// printProveResult prints one line per proven commit; development keys
// are named on it.
func (e *env) printProveResult(p proving.Result) {
	if p.Skipped {
		e.printf("%s already proven (proof %s); --force proves it again\n", p.Commit.Short(), p.Proof.Short())
		return
	}
	e.printf("proved %s: %s, %d chunk(s), %s keys, proof %s\n", p.Commit.Short(), p.Kind, p.Chunks, p.Keys, p.Proof.Short())
}

// devKeysNote warns once when any result used development keys.
func (e *env) devKeysNote(res []proving.Result) {
	for _, p := range res {
		if p.Keys == "development" {
			e.note("note: development keys come from a single-party setup: whoever made them can forge proofs;\n" +
				"note: use ceremony keys ('fed zk import') and pin them ('fed zk pin') for proofs others can trust\n")
			return
		}
	}
}

// proveAfterCommit proves a commit just made by commit or merge (--prove
// or zk.prove always; proving.AfterCommit) and, when print is set, prints
// the result. The commit stays when proving fails; the hint says how to
// prove it later.
func proveAfterCommit(ctx context.Context, e *env, r *repo.Repo, id objects.ID, print bool) error {
	useProveMemoryLimit() // zk.prove always: the command line did not say --prove
	cache, err := e.zkCache()
	if err != nil {
		return err
	}
	res, err := proving.AfterCommit(ctx, r, id, proving.ProveOptions{Cache: cache})
	if err != nil {
		return withHint(err, fmt.Sprintf("fix the cause, then run 'fed prove %s'", id.Short()))
	}
	if print {
		for _, p := range res {
			e.printProveResult(p)
		}
	}
	e.devKeysNote(res)
	return nil
}

// exactForProof makes a merge provable (proving.ProvableMerge), or says
// why it cannot be and what to do.
func exactForProof(mo *mergeexec.Options) error {
	strategy, err := proving.ProvableMerge(mo.Strategy, mo.Params, mo.Weights)
	if err != nil {
		return &usageError{msg: err.Error(), hint: "merge with --strategy fedavg and integer weights, or without proofs ('fed config zk.prove never')"}
	}
	mo.Strategy = strategy
	return nil
}
