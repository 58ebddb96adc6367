package main

import (
	"context"
	"encoding/csv"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/fed-vcs/fed/governing"
)

type contributorsOptions struct {
	rng       string
	json, csv bool
	keys      bool
}

func newContributorsCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "contributors",
		Usage:     "what each key gave to the main line: merged updates and their weights, discards, proofs, reviews",
		ArgsUsage: "[RANGE]",
		Description: "Reads the merge records of the first-parent line of RANGE (REV or A..B; default\n" +
			"HEAD): per round (a merge fed merge recorded) each side's contributor (its\n" +
			"commit's author), normalised weight, whether a robust strategy discarded it in\n" +
			"part or whole and why, and whether its proof is here. Per contributor: rounds,\n" +
			"updates, merged, discarded, Σ weight, Σ effective weight (weight × the share of\n" +
			"its values kept: 0 when not selected, 1 − discarded/elements), share (effective\n" +
			"over every contributor's effective), proofs, other commits of the main line,\n" +
			"and the reviews and attestations it signed of commits in the range. Enough to\n" +
			"compute rewards and penalties outside fed (--csv, --json).",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print the rounds and the contributors as JSON"},
			&cli.BoolFlag{Name: "csv", Usage: "print one CSV row per contributor"},
			&cli.BoolFlag{Name: "keys", Usage: "show keys beside their names"},
		},
		Action: func(c *cli.Context) error {
			args, _, _ := splitDashDash(c.Args().Slice())
			if len(args) > 1 {
				return usageErrorf("contributors takes at most one RANGE")
			}
			return runContributors(c.Context, contributorsOptions{rng: c.Args().First(), json: c.Bool("json"), csv: c.Bool("csv"), keys: c.Bool("keys")}, e)
		},
	}
}

func shareNum(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

func runContributors(ctx context.Context, opts contributorsOptions, e *env) error {
	if opts.json && opts.csv {
		return usageErrorf("--json and --csv cannot be used together")
	}
	r, err := e.openRepo(opts.json)
	if err != nil {
		return err
	}
	rep, err := governing.Contributors(ctx, r, opts.rng)
	if err != nil {
		return err
	}
	governing.LabelContributors(ctx, r, rep, namesRemote(r))
	switch {
	case opts.json:
		return e.printJSON(rep)
	case opts.csv:
		w := csv.NewWriter(e.stdout)
		_ = w.Write([]string{"key", "name", "rounds", "updates", "merged", "discarded", "weight", "effective", "share", "proofs", "commits", "reviews", "attestations"})
		for _, c := range rep.Contributors {
			_ = w.Write([]string{c.Key, c.Name, strconv.Itoa(c.Rounds), strconv.Itoa(c.Updates), strconv.Itoa(c.Merged), strconv.Itoa(c.Discarded),
				shareNum(c.Weight), shareNum(c.Effective), shareNum(c.Share), strconv.Itoa(c.Proofs), strconv.Itoa(c.Commits), strconv.Itoa(c.Reviews), strconv.Itoa(c.Attestations)})
		}
		w.Flush()
		return w.Error()
	}
	e.printf("%d round(s) on the main line of %s\n", len(rep.Rounds), rep.Range)
	for _, c := range rep.Contributors {
		who := c.Key
		if c.Name != "" {
			who = c.Name
			if opts.keys {
				who += " (" + c.Key + ")"
			}
		}
		e.printf("%s\n", who)
		e.printf("  share %.4f  weight %.4f  effective %.4f  rounds %d  updates %d  merged %d  discarded %d\n", c.Share, c.Weight, c.Effective, c.Rounds, c.Updates, c.Merged, c.Discarded)
		e.printf("  proofs %d  commits %d  reviews %d  attestations %d\n", c.Proofs, c.Commits, c.Reviews, c.Attestations)
		for _, why := range c.Reasons {
			e.printf("  discarded in %s\n", strings.TrimSpace(why))
		}
	}
	return nil
}
