package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/refs"
	"github.com/fed-vcs/fed/repo"
)

// tracking is how a branch stands against the remote-tracking branch it
// follows.
type tracking struct {
	upstream      string // "origin/main"; "" when the branch follows none
	gone          bool   // the remote-tracking branch does not exist
	ahead, behind int
}

func branchTracking(ctx context.Context, r *repo.Repo, branch string, id objects.ID) (tracking, error) {
	up, ok := r.Upstream(branch)
	if !ok {
		return tracking{}, nil
	}
	t := tracking{upstream: up.Short()}
	uid, err := r.ReadRef(up)
	if errors.Is(err, refs.ErrNotFound) {
		t.gone = true
		return t, nil
	}
	if err != nil {
		return t, err
	}
	t.ahead, t.behind, err = r.AheadBehind(ctx, id, uid)
	return t, err
}

// counts is git's "ahead 1, behind 2" ("" when level, "gone" when the
// remote-tracking branch is missing).
func (t tracking) counts() string {
	if t.gone {
		return "gone"
	}
	var parts []string
	if t.ahead > 0 {
		parts = append(parts, fmt.Sprintf("ahead %d", t.ahead))
	}
	if t.behind > 0 {
		parts = append(parts, fmt.Sprintf("behind %d", t.behind))
	}
	return strings.Join(parts, ", ")
}
