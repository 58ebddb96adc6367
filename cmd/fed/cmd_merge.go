package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/fed-vcs/fed/merge"
	"github.com/fed-vcs/fed/mergeexec"
	"github.com/fed-vcs/fed/proving"
	"github.com/fed-vcs/fed/repo"
)

type mergeOptions struct {
	strategy   string
	weights    string
	params     []string
	noCommit   bool
	noFF       bool
	message    string
	onConflict string
	metadata   string
	abort      bool
	cont       bool
	json       bool
	prove      bool
	args       []string
}

func newMergeCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "merge",
		Usage:     "merge contributions into HEAD: FedAvg, robust aggregators, model merging",
		ArgsUsage: "REV...",
		Description: "Merges HEAD with one or more revisions. The merge base is their best common\n" +
			"ancestor. When HEAD is the base (a federated round: every contributor started\n" +
			"from HEAD), HEAD is not a side and the result is the merge of the named\n" +
			"revisions alone. Weights default to each side's samples metadata, else equal.\n" +
			"Strategies: " + strings.Join(merge.Strategies(), ", ") + ".\n" +
			"The merge commit records strategy, parameters, weights, base and sides.\n" +
			"Model files that differ only in container details (archive names, record\n" +
			"order) merge into the base's container; their metadata (safetensors\n" +
			"__metadata__, ONNX producer and metadata_props) merges key by key, and a key\n" +
			"changed differently on several sides keeps HEAD's value (see --metadata),\n" +
			"listed in the output and in the commit's merge.metadata.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "strategy", Aliases: []string{"s"}, Value: merge.DefaultMethod, Usage: "merge strategy `S`"},
			&cli.StringFlag{Name: "weights", Aliases: []string{"w"}, Usage: "comma-separated weights `W1,W2,...`, one per side"},
			&cli.StringSliceFlag{Name: "param", Aliases: []string{"p"}, Usage: "strategy parameter `KEY=VALUE` (repeatable)"},
			&cli.BoolFlag{Name: "no-commit", Usage: "stop before committing; finish with 'fed merge --continue'"},
			&cli.BoolFlag{Name: "no-ff", Usage: "make a merge commit even when a fast-forward would do"},
			&cli.StringFlag{Name: "message", Aliases: []string{"m"}, Usage: "commit message `MSG`"},
			&cli.StringFlag{Name: "on-conflict", Usage: "settle conflicts with the file of `SIDE`: ours, theirs (the first REV) or base"},
			&cli.StringFlag{Name: "metadata", Value: mergeexec.MetaOurs, Usage: "metadata keys changed differently on several sides: `POLICY` ours (HEAD's value), base, union (a JSON array of the values) or fail (a conflict)"},
			&cli.BoolFlag{Name: "abort", Usage: "give up a merge in progress and restore HEAD's files"},
			&cli.BoolFlag{Name: "continue", Usage: "commit a merge whose conflicts are resolved"},
			&cli.BoolFlag{Name: "json", Usage: "print the result as JSON"},
			&cli.BoolFlag{Name: "prove", Usage: "attach a zero-knowledge proof (implies fedavg with exact=true); default: config zk.prove"},
		},
		Action: func(c *cli.Context) error {
			args, _, _ := splitDashDash(c.Args().Slice())
			return runMerge(c.Context, mergeOptions{
				strategy: c.String("strategy"), weights: c.String("weights"), params: c.StringSlice("param"),
				noCommit: c.Bool("no-commit"), noFF: c.Bool("no-ff"), message: c.String("message"),
				onConflict: c.String("on-conflict"), metadata: c.String("metadata"), abort: c.Bool("abort"), cont: c.Bool("continue"),
				json: c.Bool("json"), prove: c.Bool("prove"), args: args,
			}, e)
		},
	}
}

func runMerge(ctx context.Context, opts mergeOptions, e *env) error {
	if opts.abort && opts.cont {
		return usageErrorf("--abort and --continue exclude each other")
	}
	r, err := e.openRepo(opts.json)
	if err != nil {
		return err
	}
	switch {
	case opts.abort:
		if len(opts.args) > 0 {
			return usageErrorf("--abort takes no revisions")
		}
		if err := r.MergeAbort(ctx); err != nil {
			return err
		}
		e.note("Merge aborted; HEAD's files are back\n")
		return nil
	case opts.cont:
		if len(opts.args) > 0 {
			return usageErrorf("--continue takes no revisions")
		}
		if err := e.loadKey(r); err != nil {
			return err
		}
		id, err := r.MergeContinue(ctx, opts.message)
		if err != nil {
			return mergeHint(err)
		}
		e.printCommitLine(r, id, false, commitSubject(ctx, r, id))
		if prove, err := proving.Wanted(r, opts.prove); err != nil || !prove {
			return err
		}
		return proveAfterCommit(ctx, e, r, id, true)
	}
	if len(opts.args) == 0 {
		return usageErrorf("merge needs at least one revision")
	}
	mo := mergeexec.Options{Strategy: opts.strategy, NoCommit: opts.noCommit, NoFF: opts.noFF,
		Message: opts.message, OnConflict: opts.onConflict, Metadata: opts.metadata, Params: map[string]string{}}
	if opts.weights != "" {
		for _, s := range strings.Split(opts.weights, ",") {
			w, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if err != nil {
				return usageErrorf("--weights %q: %q is not a number", opts.weights, s)
			}
			mo.Weights = append(mo.Weights, w)
		}
	}
	for _, p := range opts.params {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return usageErrorf("--param %q: want KEY=VALUE", p)
		}
		mo.Params[k] = v
	}
	prove, err := proving.Wanted(r, opts.prove)
	if err != nil {
		return err
	}
	if prove { // also with --no-commit: --continue proves the result
		if err := exactForProof(&mo); err != nil {
			return err
		}
	}
	if err := mo.Validate(); err != nil {
		return usageErrorf("%v", err)
	}
	if !opts.noCommit {
		if err := e.loadKey(r); err != nil {
			return err
		}
	}
	res, err := mergeexec.Merge(ctx, r, opts.args, mo)
	if err != nil {
		if errors.Is(err, merge.ErrInvalidOptions) || errors.Is(err, merge.ErrUnknownStrategy) {
			return usageErrorf("%v", err)
		}
		if res != nil && len(res.Conflicts) > 0 {
			for _, c := range res.Conflicts {
				e.printf("CONFLICT %s\n", c)
			}
		}
		return mergeHint(err)
	}
	if opts.json {
		if prove && !res.UpToDate && !res.FastForward && !opts.noCommit {
			if err := proveAfterCommit(ctx, e, r, res.Commit, false); err != nil {
				return err
			}
		}
		return e.printJSON(res)
	}
	switch {
	case res.UpToDate:
		e.printf("Already up to date.\n")
		return nil
	case res.FastForward:
		e.status("Fast-forward to %s\n", res.Commit.Short())
		return nil
	}
	printMergeReport(e, r, res)
	if opts.noCommit {
		e.note("Merge result is in the index and working tree; commit it with 'fed merge --continue'\n")
		return nil
	}
	e.printCommitLine(r, res.Commit, false, commitSubject(ctx, r, res.Commit))
	if prove {
		return proveAfterCommit(ctx, e, r, res.Commit, true)
	}
	return nil
}

func printMergeReport(e *env, r *repo.Repo, res *mergeexec.Result) {
	head := res.Parents[0]
	rep := res.Report
	strategy := ""
	if rep != nil {
		strategy = rep.Strategy
	}
	e.printf("Merging %d side(s) with %s, base %s\n", len(res.Sides), strategy, res.Base.Short())
	labels := e.names(context.Background(), r) // the name map (fed collab add --name), when there is one
	for i, s := range res.Sides {
		name := s.Short()
		if c, err := r.ReadCommit(context.Background(), s); err == nil && labels[c.Author] != "" {
			name += " " + labels[c.Author]
		}
		if s == head {
			name += " (HEAD)"
		}
		line := fmt.Sprintf("  %s  weight %g", name, res.Weights[i])
		if rep != nil && i < len(rep.Sides) {
			sr := rep.Sides[i]
			line += fmt.Sprintf(" (%.4f)", sr.Weight)
			if sr.Score != 0 {
				line += fmt.Sprintf("  score %.6g", sr.Score)
			}
			if !sr.Selected {
				line += "  DISCARDED"
			}
			if sr.Discarded > 0 {
				line += fmt.Sprintf("  %d values discarded", sr.Discarded)
			}
			if sr.Reason != "" && (!sr.Selected || sr.Discarded > 0) {
				line += ": " + sr.Reason
			}
		}
		e.printf("%s\n", line)
	}
	for _, m := range res.Metadata {
		var vals []string
		for _, v := range m.Sides {
			vals = append(vals, metaValue(v))
		}
		e.printf("Metadata %s: %s changed differently on several sides (base %s; sides %s); kept %s\n",
			m.Path, strconv.Quote(m.Key), metaValue(m.Base), strings.Join(vals, ", "), metaValue(m.Kept))
	}
}

// metaValue shows a metadata value, quoted, or "absent".
func metaValue(v *string) string {
	if v == nil {
		return "absent"
	}
	return strconv.Quote(*v)
}

func mergeHint(err error) error {
	switch {
	case errors.Is(err, repo.ErrMergeInProgress):
		return withHint(&exitError{code: exitConflict, msg: err.Error()}, "run 'fed merge --continue' after resolving, or 'fed merge --abort'")
	case errors.Is(err, repo.ErrConflict):
		return withHint(err, "resolve each conflict (edit, or 'fed checkout REV -- PATH'), 'fed add' it, then 'fed merge --continue'; or 'fed merge --abort'")
	}
	return err
}
