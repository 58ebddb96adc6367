package repo

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/remote"
)

// RepairResult is what Repair did.
type RepairResult struct {
	// Replaced lists the objects fetched again and stored in place of a
	// corrupt or missing copy.
	Replaced []objects.ID
	// Failed lists those the remote could not supply, or supplied wrong.
	Failed []RepairFailure
	// Report is fsck's report after the repair.
	Report *objects.FsckReport
}

// RepairFailure is one object Repair could not replace.
type RepairFailure struct {
	ID  objects.ID
	Err error
}

// Repair fetches from the remote a fresh copy of every object fsck finds
// corrupt or missing (objects absent on purpose are not problems),
// checks it against its id, and only then replaces the local file. A
// fetch cannot do this: it skips everything reachable from commits the
// repository already has. Problems of another kind (a bad signature) are
// left to the report.
func (r *Repo) Repair(ctx context.Context, remoteName string, opts remote.Options) (*RepairResult, error) {
	rep, err := r.Fsck(ctx)
	if err != nil {
		return nil, err
	}
	var todo []objects.ID
	seen := map[objects.ID]bool{}
	for _, p := range rep.Problems {
		var ce *objects.CorruptError
		if !errors.As(p.Err, &ce) && !errors.Is(p.Err, objects.ErrNotFound) {
			continue
		}
		if !seen[p.ID] {
			seen[p.ID] = true
			todo = append(todo, p.ID)
		}
	}
	res := &RepairResult{}
	if len(todo) > 0 {
		c, err := r.Client(remoteName, opts)
		if err != nil {
			return nil, err
		}
		for _, id := range todo {
			if err := r.replaceObject(ctx, c, id); err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				res.Failed = append(res.Failed, RepairFailure{ID: id, Err: err})
				continue
			}
			res.Replaced = append(res.Replaced, id)
		}
	}
	if res.Report, err = r.Fsck(ctx); err != nil {
		return nil, err
	}
	return res, nil
}

// replaceObject downloads id (self-contained), checks it, and replaces
// the local copy.
func (r *Repo) replaceObject(ctx context.Context, c *remote.Client, id objects.ID) error {
	disk, err := r.Disk()
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if _, err := c.GetObject(ctx, id, 0, &b); err != nil {
		return fmt.Errorf("download %s: %w", id.Short(), err)
	}
	obj, err := objects.DecodeStored(b.Bytes())
	if err != nil {
		return fmt.Errorf("object %s from the remote: %w", id.Short(), err)
	}
	if got := objects.Sum(obj); got != id {
		return fmt.Errorf("object %s from the remote: %w: hashes to %s", id.Short(), objects.ErrMismatch, got.Short())
	}
	if err := r.Objects.Delete(ctx, id); err != nil {
		return err
	}
	if _, err := disk.PutStored(ctx, id, b.Bytes()); err != nil {
		return fmt.Errorf("store %s: %w", id.Short(), err)
	}
	return nil
}
