package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/fed-vcs/fed/governance"
	"github.com/fed-vcs/fed/governing"
	"github.com/fed-vcs/fed/objects"
)

type policyOptions struct {
	action, branch, remote string
	approvals              int
	attest                 []string
	validators             string
	maintainers            string
	voters                 string
	votes                  int
	requireProofs          bool
	message                string
	log, keys, json        bool
}

func newPolicyCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "policy",
		Usage:     "protect a branch of a remote repository with a signed policy",
		ArgsUsage: "set BRANCH [--approvals N] [--voters KEY,... [--votes N]] [--attestation METRIC>=VALUE]... [--validators KEY,...] [--require-proofs] [--maintainers KEY,...] | show [BRANCH] | unset BRANCH",
		Description: "A policy is a record the owner signs and pushes (refs/meta/policy/BRANCH on the\n" +
			"server; each replaces the one before, so 'show --log' lists every change). While\n" +
			"it is on, only the owner and the maintainers may move the branch, and only to a\n" +
			"commit with N approving reviews (fed review) by other collaborators, an\n" +
			"attestation within each bound by a listed validator (fed attest), and a proof\n" +
			"if required. With --voters, N of them (default: a majority) must approve the\n" +
			"commit: each voter's last review counts once, approve for, reject against.\n" +
			"'show' prints the policies fetched from the remote.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "remote", Value: "origin", Usage: "the `REMOTE` whose repository to change"},
			&cli.IntFlag{Name: "approvals", Usage: "`N` approving reviews by keys other than the commit's author"},
			&cli.StringSliceFlag{Name: "attestation", Usage: "a bound `METRIC>=VALUE` (or <=) a listed validator must attest (repeatable)"},
			&cli.StringFlag{Name: "validators", Usage: "the `KEY,...` whose attestations count"},
			&cli.StringFlag{Name: "maintainers", Usage: "the `KEY,...` who may move the branch besides the owner"},
			&cli.BoolFlag{Name: "require-proofs", Usage: "the new commit needs a proof"},
			&cli.StringFlag{Name: "voters", Usage: "the `KEY,...` who decide by vote (their approving or rejecting reviews)"},
			&cli.IntFlag{Name: "votes", Usage: "with --voters: `N` of them must approve", DefaultText: "a majority"},
			&cli.StringFlag{Name: "message", Aliases: []string{"m"}, Usage: "why (recorded in the policy)"},
			&cli.BoolFlag{Name: "log", Usage: "show: every policy the branch has had, newest first"},
			&cli.BoolFlag{Name: "keys", Usage: "show keys beside their names"},
			&cli.BoolFlag{Name: "json", Usage: "show: print JSON"},
		},
		Action: func(c *cli.Context) error {
			args, _, _ := splitDashDash(c.Args().Slice())
			if len(args) == 0 {
				args = []string{"show"}
			}
			o := policyOptions{action: args[0], remote: c.String("remote"), approvals: c.Int("approvals"), attest: c.StringSlice("attestation"),
				validators: c.String("validators"), maintainers: c.String("maintainers"), requireProofs: c.Bool("require-proofs"), voters: c.String("voters"), votes: c.Int("votes"),
				message: c.String("message"), log: c.Bool("log"), keys: c.Bool("keys"), json: c.Bool("json")}
			switch {
			case len(args) > 2:
				return usageErrorf("policy %s takes one branch", args[0])
			case len(args) == 2:
				o.branch = args[1]
			case o.action != "show":
				return usageErrorf("policy %s needs BRANCH", o.action)
			}
			return runPolicy(c.Context, o, e)
		},
	}
}

// policyJSON is a policy as `fed policy show --json` prints it.
type policyJSON struct {
	Branch        string   `json:"branch"`
	ID            string   `json:"id"`
	State         string   `json:"state"` // on, off
	Signer        string   `json:"signer"`
	Time          string   `json:"time"`
	Replaces      string   `json:"replaces,omitempty"`
	Approvals     int      `json:"approvals,omitempty"`
	Attestations  []string `json:"attestations,omitempty"`
	Validators    []string `json:"validators,omitempty"`
	Maintainers   []string `json:"maintainers,omitempty"`
	RequireProofs bool     `json:"require_proofs,omitempty"`
	Voters        []string `json:"voters,omitempty"`
	Votes         int      `json:"votes,omitempty"`
	Message       string   `json:"message,omitempty"`
}

func toPolicyJSON(p *governance.Policy) policyJSON {
	j := policyJSON{Branch: p.Branch, ID: p.ID.String(), State: "on", Signer: p.Signer.String(), Time: time.Unix(p.Time, 0).UTC().Format(time.RFC3339),
		Approvals: p.Approvals, RequireProofs: p.RequireProofs, Message: p.Message, Validators: keyStrings(p.Validators), Maintainers: keyStrings(p.Maintainers), Voters: keyStrings(p.Voters), Votes: p.Votes}
	if p.Off {
		j.State = "off"
	}
	if !p.Parent.IsZero() {
		j.Replaces = p.Parent.String()
	}
	for _, c := range p.Attest {
		j.Attestations = append(j.Attestations, c.String())
	}
	return j
}

func keyStrings(keys []objects.PublicKey) []string {
	var s []string
	for _, k := range keys {
		s = append(s, k.String())
	}
	return s
}

func parseKeyList(flag, s string) ([]objects.PublicKey, error) {
	if s == "" {
		return nil, nil
	}
	var keys []objects.PublicKey
	for _, f := range strings.Split(s, ",") {
		k, err := objects.ParsePublicKey(strings.TrimSpace(f))
		if err != nil {
			return nil, usageErrorf("--%s: %v", flag, err)
		}
		keys = append(keys, k)
	}
	return governance.SortKeys(keys), nil
}

func runPolicy(ctx context.Context, opts policyOptions, e *env) error {
	r, err := e.openRepo(opts.json)
	if err != nil {
		return err
	}
	if opts.action != "show" {
		if err := governance.CheckBranch(opts.branch); err != nil {
			return usageErrorf("%v", err)
		}
		if err := e.loadKey(r); err != nil {
			return err
		}
	}
	switch opts.action {
	case "set":
		p := &governance.Policy{Head: governance.Head{Message: opts.message}, Branch: opts.branch, Approvals: opts.approvals, RequireProofs: opts.requireProofs}
		if opts.approvals < 0 || opts.approvals > governance.MaxApprovals {
			return usageErrorf("--approvals %d: want 0 to %d", opts.approvals, governance.MaxApprovals)
		}
		for _, a := range opts.attest {
			c, err := governance.ParseCondition(a)
			if err != nil {
				return usageErrorf("--attestation: %v", err)
			}
			p.Attest = append(p.Attest, c)
		}
		if p.Validators, err = parseKeyList("validators", opts.validators); err != nil {
			return err
		}
		if p.Maintainers, err = parseKeyList("maintainers", opts.maintainers); err != nil {
			return err
		}
		if p.Voters, err = parseKeyList("voters", opts.voters); err != nil {
			return err
		}
		switch {
		case len(p.Voters) == 0 && opts.votes != 0:
			return usageErrorf("--votes needs --voters")
		case len(p.Voters) > 0 && opts.votes == 0:
			p.Votes = governance.Majority(len(p.Voters))
		case opts.votes < 0 || opts.votes > len(p.Voters):
			return usageErrorf("--votes %d: want 1 to the number of voters (%d)", opts.votes, len(p.Voters))
		default:
			p.Votes = opts.votes
		}
		if len(p.Attest) > 0 && len(p.Validators) == 0 {
			return usageErrorf("--attestation needs --validators: only listed validators' attestations count")
		}
		if len(p.Validators) > 0 && len(p.Attest) == 0 {
			return usageErrorf("--validators without --attestation: name the bounds they attest (--attestation METRIC>=VALUE)")
		}
		id, err := governing.SetPolicy(ctx, r, opts.remote, p)
		if err != nil {
			return remoteError(err)
		}
		e.printf("policy %s of %s on %s: %s\n", id.Short(), opts.branch, opts.remote, policySummary(p, governing.Label(ctx, r, opts.remote, opts.keys)))
		return nil
	case "unset":
		old, err := governing.Policy(ctx, r, opts.remote, opts.branch)
		if err != nil {
			return err
		}
		p := &governance.Policy{Head: governance.Head{Message: opts.message}, Branch: opts.branch, Off: true}
		id, err := governing.SetPolicy(ctx, r, opts.remote, p)
		if err != nil {
			return remoteError(err)
		}
		e.printf("policy %s of %s on %s: unprotected\n", id.Short(), opts.branch, opts.remote)
		if old == nil {
			e.note("note: no policy of %s was fetched here; the server's chain now ends with this one\n", opts.branch)
		}
		return nil
	case "show":
		var ps []*governance.Policy
		if opts.branch != "" {
			p, err := governing.Policy(ctx, r, opts.remote, opts.branch)
			if err != nil {
				return err
			}
			if p == nil {
				return fmt.Errorf("no policy of %s from %s here (fetch first: 'fed fetch %s')", opts.branch, opts.remote, opts.remote)
			}
			ps = append(ps, p)
		} else if ps, err = governing.Policies(ctx, r, opts.remote); err != nil {
			return err
		}
		label := governing.Label(ctx, r, opts.remote, opts.keys)
		var js []policyJSON
		for _, p := range ps {
			chain := []*governance.Policy{p}
			if opts.log {
				if chain, err = governing.PolicyLog(ctx, r, p); err != nil {
					return err
				}
			}
			for _, q := range chain {
				if opts.json {
					js = append(js, toPolicyJSON(q))
					continue
				}
				e.printf("%s %s %s by %s at %s\n", q.Branch, q.ID.Short(), policySummary(q, label), label(q.Signer), time.Unix(q.Time, 0).UTC().Format(time.RFC3339))
				if m := strings.TrimSpace(q.Message); m != "" {
					e.printf("    %s\n", strings.ReplaceAll(m, "\n", "\n    "))
				}
			}
		}
		if opts.json {
			if js == nil {
				js = []policyJSON{}
			}
			return e.printJSON(js)
		}
		if len(ps) == 0 {
			e.note("no policies from %s here (fetch first; 'fed policy set BRANCH' protects one)\n", opts.remote)
		}
		return nil
	}
	return usageErrorf("unknown policy command %q (want set, show or unset)", opts.action)
}

// policySummary says what a policy asks in one line.
func policySummary(p *governance.Policy, label func(objects.PublicKey) string) string {
	if p.Off {
		return "unprotected"
	}
	parts := []string{"protected"}
	if p.Approvals > 0 {
		parts = append(parts, fmt.Sprintf("approvals>=%d", p.Approvals))
	}
	if len(p.Voters) > 0 {
		parts = append(parts, fmt.Sprintf("votes>=%d of %s", p.Votes, labels(p.Voters, label)))
	}
	for _, c := range p.Attest {
		parts = append(parts, "attestation "+c.String())
	}
	if len(p.Validators) > 0 {
		parts = append(parts, "validators "+labels(p.Validators, label))
	}
	if p.RequireProofs {
		parts = append(parts, "proof")
	}
	if len(p.Maintainers) > 0 {
		parts = append(parts, "maintainers "+labels(p.Maintainers, label))
	}
	return strings.Join(parts, "; ")
}

func labels(keys []objects.PublicKey, label func(objects.PublicKey) string) string {
	s := make([]string, len(keys))
	for i, k := range keys {
		s[i] = label(k)
	}
	return strings.Join(s, ", ")
}
