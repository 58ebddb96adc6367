package main

import (
	"context"
	"fmt"
	"math"

	"github.com/urfave/cli/v2"

	"github.com/fed-vcs/fed/merge"
	"github.com/fed-vcs/fed/mergeexec"
	"github.com/fed-vcs/fed/objects"
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
	res, err := r.Prove(ctx, opts.revs, repo.ProveOptions{Cache: cache, Setup: opts.setup, Force: opts.force, Workers: opts.workers})
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
func (e *env) printProveResult(p repo.ProveResult) {
	if p.Skipped {
		e.printf("%s already proven (proof %s); --force proves it again\n", p.Commit.Short(), p.Proof.Short())
		return
	}
	e.printf("proved %s: %s, %d chunk(s), %s keys, proof %s\n", p.Commit.Short(), p.Kind, p.Chunks, p.Keys, p.Proof.Short())
}

// devKeysNote warns once when any result used development keys.
func (e *env) devKeysNote(res []repo.ProveResult) {
	for _, p := range res {
		if p.Keys == "development" {
			e.note("note: development keys come from a single-party setup: whoever made them can forge proofs;\n" +
				"note: use ceremony keys ('fed zk import') and pin them ('fed zk pin') for proofs others can trust\n")
			return
		}
	}
}

// proveAfterCommit proves a commit just made by commit or merge (--prove
// or zk.prove always) and, when print is set, prints the result. The
// commit stays when proving fails; the error says how to prove it later.
func proveAfterCommit(ctx context.Context, e *env, r *repo.Repo, id objects.ID, print bool) error {
	useProveMemoryLimit() // zk.prove always: the command line did not say --prove
	cache, err := e.zkCache()
	if err != nil {
		return err
	}
	res, err := r.Prove(ctx, id.String(), repo.ProveOptions{Cache: cache})
	if err != nil {
		return withHint(fmt.Errorf("commit %s was made, but proving it failed: %w", id.Short(), err),
			fmt.Sprintf("fix the cause, then run 'fed prove %s'", id.Short()))
	}
	if print {
		for _, p := range res {
			e.printProveResult(p)
		}
	}
	e.devKeysNote(res)
	return nil
}

// wantProof reports whether a new commit gets a proof: --prove, or config
// zk.prove always.
func wantProof(r *repo.Repo, flag bool) (bool, error) {
	if flag {
		return true, nil
	}
	s, err := r.ZKSettings()
	if err != nil {
		return false, err
	}
	return s.Always, nil
}

// exactForProof makes a merge provable: the merge circuit proves fedavg's
// exact mode (integer weights, fixed-point floor average) and nothing else.
func exactForProof(mo *mergeexec.Options) error {
	const hint = "merge with --strategy fedavg and integer weights, or without proofs ('fed config zk.prove never')"
	if mo.Strategy != "" && mo.Strategy != merge.FedAvg {
		return &usageError{msg: fmt.Sprintf("a proven merge must use fedavg (the merge circuit proves its exact mode), not %s", mo.Strategy), hint: hint}
	}
	if v, ok := mo.Params["exact"]; ok && v != "true" {
		return &usageError{msg: fmt.Sprintf("a proven merge needs fedavg's exact mode, not exact=%s", v), hint: hint}
	}
	for i, w := range mo.Weights {
		if w != math.Trunc(w) || w < 0 || w > merge.MaxFixedWeight {
			return &usageError{msg: fmt.Sprintf("a proven merge needs integer weights in [0, %d]; weight %d is %v", uint64(merge.MaxFixedWeight), i+1, w), hint: hint}
		}
	}
	mo.Strategy = merge.FedAvg
	mo.Params["exact"] = "true"
	return nil
}
