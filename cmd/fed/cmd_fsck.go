package main

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/remote"
)

type fsckOptions struct {
	json     bool
	dangling bool
	repair   string // remote to fetch fresh copies of broken objects from
}

func newFsckCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "fsck",
		Usage: "verify every object, reference and commit signature",
		Description: "Reads every stored object and checks it against its id, checks that\n" +
			"everything reachable from refs, reflogs and the index is present, and verifies\n" +
			"commit signatures. Exits 1 when it finds a problem.\n\n" +
			"--repair REMOTE fetches a fresh copy of every corrupt or missing object from\n" +
			"REMOTE, checks it against its id, replaces the local one, and checks again\n" +
			"(a fetch would not: it skips what commits already here reach).",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print JSON"},
			&cli.BoolFlag{Name: "dangling", Usage: "list unreachable objects"},
			&cli.StringFlag{Name: "repair", Usage: "replace corrupt or missing objects with copies from `REMOTE`"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageErrorf("fsck takes no arguments")
			}
			return runFsck(c.Context, fsckOptions{json: c.Bool("json"), dangling: c.Bool("dangling"), repair: c.String("repair")}, e)
		},
	}
}

type fsckJSON struct {
	Objects   int           `json:"objects"`
	Reachable int           `json:"reachable"`
	Problems  []problemJSON `json:"problems"`
	Dangling  []objects.ID  `json:"dangling"`
	// Withheld lists weight objects absent on purpose: their contributors
	// withheld them (fed push --private-weights). Not problems.
	Withheld []objects.ID `json:"withheld,omitempty"`
}

type problemJSON struct {
	ID    objects.ID  `json:"id"`
	From  *objects.ID `json:"from,omitempty"`
	Error string      `json:"error"`
}

func runFsck(ctx context.Context, opts fsckOptions, e *env) error {
	r, err := e.openRepo(opts.json)
	if err != nil {
		return err
	}
	var rep *objects.FsckReport
	if opts.repair != "" {
		if err := e.loadKey(r); err != nil {
			return err
		}
		res, err := r.Repair(ctx, opts.repair, remote.Options{})
		if err != nil {
			return remoteError(err)
		}
		for _, id := range res.Replaced {
			e.note("repaired %s from %s\n", id, opts.repair)
		}
		for _, f := range res.Failed {
			e.note("could not repair %s from %s: %v\n", f.ID, opts.repair, f.Err)
		}
		rep = res.Report
	} else if rep, err = r.Fsck(ctx); err != nil {
		return err
	}
	withheld, err := r.WithheldAbsent(ctx)
	if err != nil {
		return err
	}
	if opts.json {
		out := fsckJSON{Objects: rep.Objects, Reachable: rep.Reachable, Problems: []problemJSON{}, Dangling: rep.Dangling, Withheld: withheld}
		if out.Dangling == nil {
			out.Dangling = []objects.ID{}
		}
		for _, p := range rep.Problems {
			pj := problemJSON{ID: p.ID, Error: message(p.Err)}
			if !p.From.IsZero() {
				from := p.From
				pj.From = &from
			}
			out.Problems = append(out.Problems, pj)
		}
		if err := e.printJSON(out); err != nil {
			return err
		}
	} else {
		for _, p := range rep.Problems {
			e.printf("error: %s\n", messageText(p.String()))
		}
		if opts.dangling {
			for _, id := range rep.Dangling {
				e.printf("dangling %s\n", id)
			}
		}
		e.note("checked %d objects, %d reachable, %d dangling\n", rep.Objects, rep.Reachable, len(rep.Dangling))
		if len(withheld) > 0 {
			e.note("withheld: %d weight object(s) their contributors keep private (not errors)\n", len(withheld))
		}
	}
	if n := len(rep.Problems); n > 0 {
		return &exitError{code: exitFailure, msg: fmt.Sprintf("fsck found %d problem(s)", n)}
	}
	return nil
}
