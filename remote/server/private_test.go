package server_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/remote"
	"github.com/fed-vcs/fed/remote/server"
)

// TestPrivateMarks: a contributor's full push to the aggregator marks its
// weights private (doc/protocol.md §6.5.2); the server keeps the marks,
// lists them in fetch plans, refuses such a plan to a client that does not
// announce private-weights, and refuses marks of anything but tensors it
// holds.
func TestPrivateMarks(t *testing.T) {
	ctx := context.Background()
	ts := newServer(t, server.Options{})
	owner, contributor := keyN(1), keyN(2)
	url := ts.URL + "/lab/m"
	h := newHistory(t, owner)
	c1, _, ids1 := h.commit(objects.ZeroID, 1, 4096, 1, nil)
	co := newClient(t, url, owner, remote.Options{})
	if err := push(ctx, co, h.store, ids1, "refs/heads/main", objects.ZeroID, c1, false); err != nil {
		t.Fatal(err)
	}
	if err := co.AddCollaborator(ctx, contributor.Public()); err != nil {
		t.Fatal(err)
	}
	hc := &history{t: t, store: h.store, key: contributor, seq: 10}
	c2, tn, ids2 := hc.commit(c1, 1, 4096, 2, nil)
	b, _ := objects.Encode(tn)
	tensor := objects.Sum(b)
	cc := newClient(t, url, contributor, remote.Options{})
	if _, err := cc.SendMissing(ctx, h.store, ids2); err != nil {
		t.Fatal(err)
	}
	mark := func(ids ...objects.ID) error {
		_, err := cc.UpdateRefsPrivate(ctx, []remote.RefUpdate{{Name: "refs/heads/alice", New: c2}}, nil, ids)
		return err
	}
	for name, id := range map[string]objects.ID{"a commit": c1, "an absent object": objects.Sum([]byte("nothing"))} {
		var p *remote.Problem
		if err := mark(id); !errors.As(err, &p) || p.Code != remote.CodeBadObject {
			t.Errorf("marking %s private: %v, want bad-object", name, err)
		}
	}
	if err := mark(tensor); err != nil {
		t.Fatalf("marking the contributor's tensor private: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(ts.root, "lab/m.fed/private"))
	if err != nil || string(b) != tensor.String()+"\n" {
		t.Fatalf("private file %q, %v", b, err)
	}
	// the push log keeps the marks with the statement they were signed in
	log, err := co.PushLog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	last := log.Entries[len(log.Entries)-1]
	if !slices.Equal(last.Private, []objects.ID{tensor}) {
		t.Fatalf("push log entry %+v lacks the mark", last)
	}
	plan, err := co.Plan(ctx, remote.PlanRequest{Want: []objects.ID{c2}, Have: []objects.ID{c1}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(plan.Private, []objects.ID{tensor}) {
		t.Fatalf("plan lists private %v, want [%s]", plan.Private, tensor.Short())
	}
	// a client that would not keep them private gets no plan
	status, p := rawJSON(t, ts.URL, "POST", remote.RepoPath("lab/m", "objects/plan"), "", remote.PlanRequest{Want: []objects.ID{c2}, Have: []objects.ID{c1}}, nil)
	if status != 422 || p.Code != remote.CodeWithheld || !strings.Contains(p.Detail, "private") {
		t.Fatalf("plan for a client without private-weights: %d %+v", status, p)
	}
	// what does not reach marked objects plans as before
	if _, p := rawJSON(t, ts.URL, "POST", remote.RepoPath("lab/m", "objects/plan"), "", remote.PlanRequest{Want: []objects.ID{c1}}, nil); p != nil {
		t.Fatalf("plan of unmarked history: %+v", p)
	}
}
