package main

import (
	"context"
	"errors"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/refs"
	"github.com/fed-vcs/fed/repo"
)

type tagOptions struct {
	message    string
	hasMessage bool
	force      bool
	delete     bool
	json       bool
	args       []string
}

func newTagCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "tag",
		Usage:     "list tags, or name a commit with a tag",
		ArgsUsage: "[NAME [REV]] | -d NAME...",
		Description: "Without arguments, lists tags. With NAME, tags REV (default HEAD): with -m a\n" +
			"signed tag object carrying the message, else a plain name. -d deletes the named\n" +
			"tags here (a remote's copy stays until pushed with --force by its owner).",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "message", Aliases: []string{"m"}, Usage: "make a signed tag with message `MSG`"},
			&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "replace an existing tag"},
			&cli.BoolFlag{Name: "delete", Aliases: []string{"d"}, Usage: "delete the named tags"},
			&cli.BoolFlag{Name: "json", Usage: "print the list as JSON"},
		},
		Action: func(c *cli.Context) error {
			args, _, _ := splitDashDash(c.Args().Slice())
			return runTag(c.Context, tagOptions{message: c.String("message"), hasMessage: c.IsSet("message"),
				force: c.Bool("force"), delete: c.Bool("delete"), json: c.Bool("json"), args: args}, e)
		},
	}
}

type tagJSON struct {
	Name      string     `json:"name"`
	ID        objects.ID `json:"id"`               // what the ref holds
	Commit    objects.ID `json:"commit"`           // the commit it names
	Tagger    string     `json:"tagger,omitempty"` // annotated tags only
	Time      string     `json:"time,omitempty"`
	Message   string     `json:"message,omitempty"`
	Signature string     `json:"signature,omitempty"` // good, bad
}

func toTagJSON(t *objects.Tag) tagJSON {
	j := tagJSON{Name: t.Name, Commit: t.Target, Tagger: t.Tagger.String(), Time: tagTime(t).Format(time.RFC3339), Message: t.Message, Signature: "good"}
	if objects.VerifyTag(t) != nil {
		j.Signature = "bad"
	}
	return j
}

func tagTime(t *objects.Tag) time.Time {
	return time.Unix(t.Time, 0).In(time.FixedZone("", int(t.TZ)*60))
}

func tagSignatureLine(t *objects.Tag) string {
	switch err := objects.VerifyTag(t); {
	case err == nil:
		return "Good signature from " + t.Tagger.String()
	case errors.Is(err, objects.ErrUnsigned):
		return "No signature"
	default:
		return "BAD signature from " + t.Tagger.String() + ": " + err.Error()
	}
}

func runTag(ctx context.Context, opts tagOptions, e *env) error {
	r, err := e.openRepo(opts.json)
	if err != nil {
		return err
	}
	if opts.delete {
		return deleteTags(r, opts, e)
	}
	switch len(opts.args) {
	case 0:
		if opts.hasMessage || opts.force {
			return usageErrorf("-m and --force need a tag NAME")
		}
		return listTags(ctx, r, opts.json, e)
	case 1, 2:
	default:
		return usageErrorf("tag takes NAME [REV], got %d arguments", len(opts.args))
	}
	if opts.json {
		return usageErrorf("--json only lists tags")
	}
	if opts.hasMessage && opts.message == "" {
		return usageErrorf("empty tag message")
	}
	if err := e.loadKey(r); err != nil {
		return err
	}
	rev := ""
	if len(opts.args) == 2 {
		rev = opts.args[1]
	}
	_, err = r.CreateTag(ctx, opts.args[0], rev, repo.TagOptions{Message: opts.message, Force: opts.force})
	return err
}

// deleteTags deletes each named tag, as git tag -d does: a missing name
// is an error after the others are deleted.
func deleteTags(r *repo.Repo, opts tagOptions, e *env) error {
	if len(opts.args) == 0 {
		return usageErrorf("tag -d needs the NAME of a tag")
	}
	if opts.hasMessage || opts.force || opts.json {
		return usageErrorf("-d takes no -m, --force or --json")
	}
	var errs []error
	for _, name := range opts.args {
		id, err := r.DeleteTag(name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		e.printf("Deleted tag %s (was %s).\n", name, id.Short())
	}
	return errors.Join(errs...)
}

func listTags(ctx context.Context, r *repo.Repo, jsonOut bool, e *env) error {
	list, err := r.ListRefs(refs.TagsPrefix)
	if err != nil {
		return err
	}
	out := []tagJSON{}
	for _, ref := range list {
		j := tagJSON{Name: ref.Name.Short(), ID: ref.ID, Commit: ref.ID}
		if t, err := r.ReadTag(ctx, ref.ID); err == nil {
			tj := toTagJSON(t)
			tj.Name, tj.ID = j.Name, ref.ID
			j = tj
		}
		out = append(out, j)
	}
	if jsonOut {
		return e.printJSON(out)
	}
	for _, t := range out {
		e.printf("%s\n", t.Name)
	}
	return nil
}
