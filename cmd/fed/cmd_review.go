package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/fed-vcs/fed/governance"
	"github.com/fed-vcs/fed/governing"
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/repo"
)

type reviewOptions struct {
	verdict, rev, message, remote string
	local, json                   bool
}

func newReviewCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "review",
		Usage:     "sign a review of a commit: approve, reject or comment",
		ArgsUsage: "approve|reject|comment REV",
		Description: "Signs a review of the commit REV with your key, keeps it under\n" +
			"refs/reviews/<commit>/<review> and pushes it to REMOTE (unless --local; every\n" +
			"'fed push' sends the reviews the server lacks). A branch whose policy asks for\n" +
			"approvals counts each key's last review of the commit, once. 'fed show REV'\n" +
			"lists the reviews of a commit.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "message", Aliases: []string{"m"}, Usage: "the review's text `MSG`"},
			&cli.StringFlag{Name: "remote", Value: "origin", Usage: "push the review to `REMOTE`"},
			&cli.BoolFlag{Name: "local", Usage: "keep the review here; the next push sends it"},
			&cli.BoolFlag{Name: "json", Usage: "print JSON"},
		},
		Action: func(c *cli.Context) error {
			args, _, _ := splitDashDash(c.Args().Slice())
			if len(args) != 2 {
				return usageErrorf("review needs approve, reject or comment, and REV")
			}
			return runReview(c.Context, reviewOptions{verdict: args[0], rev: args[1], message: c.String("message"), remote: c.String("remote"), local: c.Bool("local"), json: c.Bool("json")}, e)
		},
	}
}

// recordJSON is a review or an attestation as fed prints it.
type recordJSON struct {
	Kind    string            `json:"kind"` // review, attestation
	ID      string            `json:"id"`
	Ref     string            `json:"ref,omitempty"`
	Commit  string            `json:"commit"`
	Signer  string            `json:"signer"`
	Name    string            `json:"name,omitempty"` // the signer's label in the name map
	Time    string            `json:"time"`
	Verdict string            `json:"verdict,omitempty"`
	Metrics map[string]string `json:"metrics,omitempty"`
	Dataset string            `json:"dataset,omitempty"`
	Command string            `json:"command,omitempty"`
	Output  string            `json:"output,omitempty"`
	Message string            `json:"message,omitempty"`
}

func reviewJSON(rv *governance.Review, names map[objects.PublicKey]string) recordJSON {
	return recordJSON{Kind: governance.KindReview, ID: rv.ID.String(), Ref: governance.ReviewRef(rv.Commit, rv.ID), Commit: rv.Commit.String(), Signer: rv.Signer.String(),
		Name: names[rv.Signer], Time: time.Unix(rv.Time, 0).UTC().Format(time.RFC3339), Verdict: rv.Verdict, Message: rv.Message}
}

func attestationJSON(a *governance.Attestation, names map[objects.PublicKey]string) recordJSON {
	j := recordJSON{Kind: governance.KindAttestation, ID: a.ID.String(), Ref: governance.AttestationRef(a.Commit, a.ID), Commit: a.Commit.String(), Signer: a.Signer.String(),
		Name: names[a.Signer], Time: time.Unix(a.Time, 0).UTC().Format(time.RFC3339), Metrics: map[string]string{}, Dataset: a.Dataset, Command: a.Command, Output: a.Output, Message: a.Message}
	for _, m := range a.Metrics {
		j.Metrics[m.Name] = m.Text
	}
	return j
}

func runReview(ctx context.Context, opts reviewOptions, e *env) error {
	if err := governance.CheckVerdict(opts.verdict); err != nil {
		return usageErrorf("review: %v", err)
	}
	r, err := e.openRepo(opts.json)
	if err != nil {
		return err
	}
	if err := e.loadKey(r); err != nil {
		return err
	}
	rv, ref, err := governing.Review(ctx, r, opts.rev, governing.ReviewOptions{Verdict: opts.verdict, Message: opts.message})
	if err != nil {
		return err
	}
	if err := pushRecord(ctx, r, opts.remote, opts.local); err != nil {
		return err
	}
	if opts.json {
		return e.printJSON(reviewJSON(rv, nil))
	}
	e.printf("%s %s by %s: %s %s\n", governance.KindReview, rv.ID.Short(), rv.Signer, opts.verdict, rv.Commit.Short())
	e.note("%s\n", ref)
	return nil
}

// pushRecord sends the records held here to remoteName unless local, or
// when the repository has no such remote.
func pushRecord(ctx context.Context, r *repo.Repo, remoteName string, local bool) error {
	if local {
		return nil
	}
	if _, ok := r.Config.Get("remote." + remoteName + ".url"); !ok {
		return nil
	}
	if err := governing.PushRecords(ctx, r, remoteName); err != nil {
		return withHint(remoteError(err), "the record is kept here: 'fed push' sends it once the server takes it")
	}
	return nil
}

type attestOptions struct {
	rev, dataset, command, model, message, remote string
	metrics                                       []string
	local, json                                   bool
}

func newAttestCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "attest",
		Usage:     "sign an evaluation of a commit's model (as a validator)",
		ArgsUsage: "REV --metric NAME=VALUE... [--dataset-digest SHA256] [--command CMD]",
		Description: "Signs an attestation of the commit REV: the metrics you measured on your own\n" +
			"data (--metric, repeatable), the SHA-256 of that data, and the command. With\n" +
			"--command, fed writes REV's model file to a temporary directory, runs CMD through\n" +
			"the shell (sh; cmd /C on Windows) with the file's path as $FED_MODEL and as its\n" +
			"last argument, and records its output, which must be a JSON object: its numeric\n" +
			"members are the metrics (--metric values win). The attestation is kept under\n" +
			"refs/attestations/<commit>/<attestation> and pushed to REMOTE unless --local.",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "metric", Usage: "a measured value `NAME=VALUE` (repeatable)"},
			&cli.StringFlag{Name: "dataset-digest", Usage: "the `SHA256` (hex) of the evaluation data"},
			&cli.StringFlag{Name: "command", Usage: "evaluate by running `CMD` on the model"},
			&cli.StringFlag{Name: "model", Usage: "with --command: the model file's `PATH` in REV (default: its only model file)"},
			&cli.StringFlag{Name: "message", Aliases: []string{"m"}, Usage: "a note `MSG`"},
			&cli.StringFlag{Name: "remote", Value: "origin", Usage: "push the attestation to `REMOTE`"},
			&cli.BoolFlag{Name: "local", Usage: "keep the attestation here; the next push sends it"},
			&cli.BoolFlag{Name: "json", Usage: "print JSON"},
		},
		Action: func(c *cli.Context) error {
			args, _, _ := splitDashDash(c.Args().Slice())
			if len(args) != 1 {
				return usageErrorf("attest needs one REV")
			}
			return runAttest(c.Context, attestOptions{rev: args[0], metrics: c.StringSlice("metric"), dataset: c.String("dataset-digest"), command: c.String("command"),
				model: c.String("model"), message: c.String("message"), remote: c.String("remote"), local: c.Bool("local"), json: c.Bool("json")}, e)
		},
	}
}

func runAttest(ctx context.Context, opts attestOptions, e *env) error {
	if len(opts.metrics) == 0 && opts.command == "" {
		return usageErrorf("attest needs --metric NAME=VALUE or --command CMD")
	}
	if err := governance.CheckDataset(opts.dataset); err != nil {
		return usageErrorf("--dataset-digest: %v", err)
	}
	r, err := e.openRepo(opts.json)
	if err != nil {
		return err
	}
	if err := e.loadKey(r); err != nil {
		return err
	}
	metrics := map[string]governance.Metric{}
	var output string
	if opts.command != "" {
		out, ms, err := e.evaluate(ctx, r, opts)
		if err != nil {
			return err
		}
		output = out
		for _, m := range ms {
			metrics[m.Name] = m
		}
	}
	for _, s := range opts.metrics {
		name, value, ok := strings.Cut(s, "=")
		if !ok {
			return usageErrorf("--metric %q: want NAME=VALUE", s)
		}
		m, err := governance.ParseMetric(name, value)
		if err != nil {
			return usageErrorf("--metric: %v", err)
		}
		metrics[name] = m
	}
	if len(metrics) == 0 {
		return fmt.Errorf("attest: the command's output has no numeric member and no --metric is given: nothing to attest")
	}
	ao := governing.AttestOptions{Dataset: opts.dataset, Command: opts.command, Output: output, Message: opts.message}
	for _, m := range metrics {
		ao.Metrics = append(ao.Metrics, m)
	}
	a, ref, err := governing.Attest(ctx, r, opts.rev, ao)
	if err != nil {
		return err
	}
	if err := pushRecord(ctx, r, opts.remote, opts.local); err != nil {
		return err
	}
	if opts.json {
		return e.printJSON(attestationJSON(a, nil))
	}
	var ms []string
	for _, m := range a.Metrics {
		ms = append(ms, m.Name+"="+m.Text)
	}
	e.printf("%s %s by %s: %s %s\n", governance.KindAttestation, a.ID.Short(), a.Signer, a.Commit.Short(), strings.Join(ms, " "))
	e.note("%s\n", ref)
	return nil
}

// evaluate runs opts.command on REV's model file and returns its output
// and the numeric members of that JSON object as metrics.
func (e *env) evaluate(ctx context.Context, r *repo.Repo, opts attestOptions) (string, []governance.Metric, error) {
	id, err := r.Resolve(ctx, opts.rev)
	if err != nil {
		return "", nil, err
	}
	c, err := r.ReadCommit(ctx, id)
	if err != nil {
		return "", nil, err
	}
	path := opts.model
	if path == "" {
		files, err := r.Files(ctx, c.Tree)
		if err != nil {
			return "", nil, err
		}
		var models []string
		for p, f := range files {
			if f.Kind == objects.KindModel {
				models = append(models, p)
			}
		}
		sort.Strings(models)
		if len(models) != 1 {
			return "", nil, usageErrorf("commit %s has %d model files (%s): name one with --model PATH", id.Short(), len(models), strings.Join(models, ", "))
		}
		path = models[0]
	}
	dir, err := os.MkdirTemp("", "fed-attest-")
	if err != nil {
		return "", nil, err
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, filepath.Base(filepath.FromSlash(path)))
	f, err := os.Create(file)
	if err != nil {
		return "", nil, err
	}
	err = r.WriteFileAt(ctx, id.String(), path, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", nil, fmt.Errorf("attest: write %s of %s: %w", path, id.Short(), err)
	}
	cmd := exec.CommandContext(ctx, "sh", "-c", opts.command+` "$FED_MODEL"`)
	if runtime.GOOS == "windows" {
		cmd = exec.CommandContext(ctx, "cmd", "/C", opts.command+` "`+file+`"`)
	}
	cmd.Dir = e.workdir()
	cmd.Env = append(os.Environ(), "FED_MODEL="+file)
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, e.stderr
	if err := cmd.Run(); err != nil {
		return "", nil, fmt.Errorf("attest: --command %q: %w", opts.command, err)
	}
	out := strings.TrimSpace(stdout.String())
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &obj); err != nil {
		return "", nil, fmt.Errorf("attest: --command %q printed no JSON object: %w", opts.command, err)
	}
	if len(out) > governance.MaxOutput {
		return "", nil, fmt.Errorf("attest: --command %q printed %d bytes (at most %d are recorded)", opts.command, len(out), governance.MaxOutput)
	}
	var ms []governance.Metric
	for k, v := range obj {
		var n json.Number
		d := json.NewDecoder(bytes.NewReader(v))
		d.UseNumber()
		if d.Decode(&n) != nil {
			continue
		}
		if _, err := strconv.ParseFloat(n.String(), 64); err != nil {
			continue
		}
		m, err := governance.ParseMetric(k, n.String())
		if err != nil {
			return "", nil, fmt.Errorf("attest: --command output: %w", err)
		}
		ms = append(ms, m)
	}
	return out, ms, nil
}

// setLabels makes e name keys by the name map of the current branch's
// remote (origin by default), when one was fetched; withKey adds the key.
func (e *env) setLabels(ctx context.Context, r *repo.Repo, withKey bool) {
	if len(e.names(ctx, r)) > 0 {
		e.label = governing.Label(ctx, r, namesRemote(r), withKey)
	}
}

// names returns the name map of namesRemote(r), empty when none.
func (e *env) names(ctx context.Context, r *repo.Repo) map[objects.PublicKey]string {
	n, err := governing.Names(ctx, r, namesRemote(r))
	if err != nil {
		return nil
	}
	return n.Labels
}

// namesRemote is the remote whose name map labels keys: the current
// branch's, else origin.
func namesRemote(r *repo.Repo) string {
	if _, cur, err := r.Head(); err == nil && cur != "" {
		if v, ok := r.Config.Get("branch." + cur.Short() + ".remote"); ok && v != "" {
			return v
		}
	}
	return repo.DefaultRemote
}

// printRecords lists a commit's reviews and attestations under its
// header in fed show, with who signed each.
func printRecords(e *env, reviews []*governance.Review, attestations []*governance.Attestation) {
	for _, rv := range reviews {
		line := fmt.Sprintf("Review: %s by %s at %s (%s)", rv.Verdict, e.keyName(rv.Signer), time.Unix(rv.Time, 0).UTC().Format(time.RFC3339), signatureState(rv.Build()))
		if m := strings.TrimSpace(rv.Message); m != "" {
			line += ": " + strings.ReplaceAll(m, "\n", " ")
		}
		e.printf("%s\n", line)
	}
	for _, a := range attestations {
		var ms []string
		for _, m := range a.Metrics {
			ms = append(ms, m.Name+"="+m.Text)
		}
		line := fmt.Sprintf("Attestation: %s by %s at %s (%s)", strings.Join(ms, " "), e.keyName(a.Signer), time.Unix(a.Time, 0).UTC().Format(time.RFC3339), signatureState(a.Build()))
		if a.Dataset != "" {
			line += " dataset " + a.Dataset[:12]
		}
		e.printf("%s\n", line)
	}
}

func signatureState(c *objects.Commit) string {
	if objects.VerifyCommit(c) != nil {
		return "BAD signature"
	}
	return "good signature"
}
