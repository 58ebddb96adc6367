package server_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/remote"
	"github.com/fed-vcs/fed/remote/server"
)

// privateCommit stores a commit on parent like history.commit, with a
// zk.root when root is set, and returns it, its tensor (the weights a
// private push withholds) with its pieces, and the other new objects.
func (h *history) privateCommit(parent objects.ID, seed uint64, root bool) (cid, tensor objects.ID, pieces, rest []objects.ID) {
	t := h.t
	ctx := context.Background()
	c0, tn, ids := h.commit(parent, 2, 1024, seed, nil)
	c, err := objects.ReadCommit(ctx, h.store, c0)
	if err != nil {
		t.Fatal(err)
	}
	if root {
		c.Meta = append(c.Meta, objects.KV{Key: remote.MetaZKRoot, Value: strings.Repeat("ab", 32)})
	}
	if err := objects.SignCommit(c, h.key); err != nil {
		t.Fatal(err)
	}
	if cid, err = objects.Write(ctx, h.store, c); err != nil {
		t.Fatal(err)
	}
	m, _ := objects.Read(ctx, h.store, ids[len(ids)-3], objects.KindModel)
	tensor = m.(*objects.Model).Segments[0].ID
	for _, id := range ids {
		switch {
		case id == c0 || id == tensor:
		case slices.Contains(tn.Pieces, id):
			pieces = append(pieces, id)
		default:
			rest = append(rest, id)
		}
	}
	return cid, tensor, pieces, append(rest, cid)
}

func (h *history) proof(commit objects.ID, body string) objects.ID {
	id, err := objects.Write(context.Background(), h.store, &objects.Proof{Commit: commit, System: "test", Body: []byte(body)})
	if err != nil {
		h.t.Fatal(err)
	}
	return id
}

func TestWithheldWeights(t *testing.T) {
	ctx := context.Background()
	type check struct{ Commit, Proof objects.ID }
	var mu sync.Mutex
	var checks []check
	var bad objects.ID
	opts := withHooks(t, server.Options{}, hooks{CheckProof: func(ctx context.Context, repo string, commit objects.ID, proofs map[objects.ID]objects.ID) error {
		proof := proofs[commit]
		mu.Lock()
		defer mu.Unlock()
		checks = append(checks, check{commit, proof})
		if proof == bad {
			return errors.New("tampered")
		}
		return nil
	}})
	ts := newServer(t, opts)
	owner := keyN(1)
	url := ts.URL + "/lab/m"
	h := newHistory(t, owner)
	co := newClient(t, url, owner, remote.Options{})
	info, err := co.Info(ctx)
	if err != nil || !info.HasFeature(remote.FeatureWithheld) || info.HasFeature(remote.FeatureProve) {
		t.Fatalf("info features %v %v", info, err)
	}
	c1, _, ids1 := h.commit(objects.ZeroID, 1, 4096, 1, nil)
	if err := push(ctx, co, h.store, ids1, "refs/heads/main", objects.ZeroID, c1, false); err != nil {
		t.Fatal(err)
	}
	c2, t2, pieces2, send2 := h.privateCommit(c1, 2, true)
	if _, err := co.SendMissing(ctx, h.store, send2); err != nil {
		t.Fatal(err)
	}
	main := func(old, new objects.ID) []remote.RefUpdate {
		return []remote.RefUpdate{{Name: "refs/heads/main", Old: old, New: new}}
	}
	// Not declared: the weights are simply missing.
	_, err = co.UpdateRefs(ctx, main(c1, c2))
	var p *remote.Problem
	if !errors.As(err, &p) || p.Code != remote.CodeIncomplete || !slices.Contains(p.Missing, t2) {
		t.Fatalf("private push without declaring: %v", err)
	}
	// Pieces of a tensor that is sent cannot be withheld.
	if _, err := co.SendMissing(ctx, h.store, []objects.ID{t2}); err != nil {
		t.Fatal(err)
	}
	_, err = co.UpdateRefsWithheld(ctx, main(c1, c2), pieces2)
	if !errors.As(err, &p) || p.Code != remote.CodeIncomplete {
		t.Fatalf("withholding pieces: %v", err)
	}
	// Start again with a commit whose tensor the server never saw.
	c2, t2, _, send2 = h.privateCommit(c1, 3, true)
	if _, err := co.SendMissing(ctx, h.store, send2); err != nil {
		t.Fatal(err)
	}
	// Declared, but no proof.
	_, err = co.UpdateRefsWithheld(ctx, main(c1, c2), []objects.ID{t2})
	if !errors.Is(err, remote.ErrProofRequired) || !strings.Contains(err.Error(), "no proof") {
		t.Fatalf("withheld without proof: %v", err)
	}
	// A proof the server's check refuses.
	bad = h.proof(c2, "bad")
	good := h.proof(c2, "good")
	if _, err := co.SendMissing(ctx, h.store, []objects.ID{bad, good}); err != nil {
		t.Fatal(err)
	}
	proofRef := remote.ProofsPrefix + c2.String()
	_, err = co.UpdateRefsWithheld(ctx, append(main(c1, c2), remote.RefUpdate{Name: proofRef, New: bad}), []objects.ID{t2})
	if !errors.Is(err, remote.ErrProofRequired) || !strings.Contains(err.Error(), "tampered") {
		t.Fatalf("withheld with a refused proof: %v", err)
	}
	// The proof in the same request: accepted, and checked.
	mu.Lock()
	checks = nil
	mu.Unlock()
	if _, err := co.UpdateRefsWithheld(ctx, append(main(c1, c2), remote.RefUpdate{Name: proofRef, New: good}), []objects.ID{t2}); err != nil {
		t.Fatalf("private push: %v", err)
	}
	mu.Lock()
	if diff := cmp.Diff([]check{{c2, good}}, checks); diff != "" {
		t.Errorf("CheckProof calls (-want +got):\n%s", diff)
	}
	mu.Unlock()
	// A later commit reusing the withheld weights needs its own zk root,
	// even without declaring them (the server remembers).
	tree := func(id objects.ID) objects.ID {
		c, err := objects.ReadCommit(ctx, h.store, id)
		if err != nil {
			t.Fatal(err)
		}
		return c.Tree
	}
	c3 := &objects.Commit{Tree: tree(c2), Parents: []objects.ID{c2}, Time: 1_800_000_000, Message: "no root"}
	if err := objects.SignCommit(c3, owner); err != nil {
		t.Fatal(err)
	}
	c3id, _ := objects.Write(ctx, h.store, c3)
	if _, err := co.SendMissing(ctx, h.store, []objects.ID{c3id}); err != nil {
		t.Fatal(err)
	}
	if _, err := co.UpdateRefs(ctx, main(c2, c3id)); !errors.Is(err, remote.ErrProofRequired) || !strings.Contains(err.Error(), remote.MetaZKRoot) {
		t.Fatalf("commit reusing withheld weights without zk root: %v", err)
	}
	// The push log keeps the withheld ids under the signature.
	log, err := co.PushLog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	last := log.Entries[len(log.Entries)-1]
	if diff := cmp.Diff([]objects.ID{t2}, last.Withheld); diff != "" {
		t.Fatalf("push log withheld (-want +got):\n%s", diff)
	}
	// Replacing the proof of a commit is a rewrite: it needs force, which
	// only the owner has.
	other := h.proof(c2, "good, again")
	if _, err := co.SendMissing(ctx, h.store, []objects.ID{other}); err != nil {
		t.Fatal(err)
	}
	if _, err := co.UpdateRefs(ctx, []remote.RefUpdate{{Name: proofRef, Old: good, New: other}}); !errors.Is(err, remote.ErrNonFastForward) {
		t.Fatalf("replacing a proof without force: %v", err)
	}
	if _, err := co.UpdateRefs(ctx, []remote.RefUpdate{{Name: proofRef, Old: good, New: other, Force: true}}); err != nil {
		t.Fatalf("the owner replaces a proof with force: %v", err)
	}
	if _, err := co.UpdateRefs(ctx, []remote.RefUpdate{{Name: proofRef, Old: other, New: good, Force: true}}); err != nil {
		t.Fatalf("the owner puts the first proof back: %v", err)
	}
	host := strings.TrimPrefix(ts.URL, "http://")
	sig, _ := remote.DecodeSignature(last.Signature)
	if !objects.Verify(owner.Public(), []byte(remote.StatementWithheld("lab/m", host, owner.Public(), last.Time, last.Updates, last.Withheld)), sig) {
		t.Fatal("push log signature does not cover the withheld ids")
	}
	if objects.Verify(owner.Public(), []byte(remote.Statement("lab/m", host, owner.Public(), last.Time, last.Updates)), sig) {
		t.Fatal("push log signature verifies without the withheld ids")
	}

	// Fetch: a client announcing the feature gets the plan with the
	// withheld tensor listed apart; an old client gets a clear refusal.
	checkPlan := func(ts *testServer) {
		t.Helper()
		anon := newClient(t, ts.URL+"/lab/m", nil, remote.Options{})
		plan, err := anon.Plan(ctx, remote.PlanRequest{Want: []objects.ID{c2}})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]objects.ID{t2}, plan.Withheld); diff != "" {
			t.Fatalf("plan withheld (-want +got):\n%s", diff)
		}
		for _, o := range plan.Objects {
			if o.ID == t2 {
				t.Fatal("plan lists the withheld tensor as an object")
			}
		}
		dst := newHistory(t, nil).store
		if _, err := anon.FetchObjects(ctx, dst, plan); err != nil {
			t.Fatal(err)
		}
		status, prob := rawJSON(t, ts.URL, "POST", remote.RepoPath("lab/m", "objects/plan"), "", remote.PlanRequest{Want: []objects.ID{c2}}, nil)
		if status != 422 || prob.Code != remote.CodeWithheld {
			t.Fatalf("plan for a client without %s: %d %+v", remote.FeatureWithheld, status, prob)
		}
		// A plan that does not reach withheld objects is served to anyone.
		status, prob = rawJSON(t, ts.URL, "POST", remote.RepoPath("lab/m", "objects/plan"), "", remote.PlanRequest{Want: []objects.ID{good}}, nil)
		if status != 200 {
			t.Fatalf("proof plan for an old client: %d %+v", status, prob)
		}
	}
	checkPlan(ts)

	// gc and fsck: withheld objects are not corruption.
	if _, err := ts.srv.GC(ctx); err != nil {
		t.Fatalf("gc with withheld weights: %v", err)
	}
	res, err := ts.srv.Fsck(ctx, "lab/m")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Report.Problems) != 0 {
		t.Fatalf("fsck problems: %v", res.Report.Problems)
	}
	if diff := cmp.Diff([]objects.ID{t2}, res.Withheld); diff != "" {
		t.Fatalf("fsck withheld (-want +got):\n%s", diff)
	}

	// A restarted server still knows what was withheld.
	opts.Root = ts.root
	checkPlan(newServer(t, opts))

	// Weights uploaded later are served like any other object.
	tn, err := objects.ReadTensor(ctx, h.store, t2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := co.SendMissing(ctx, h.store, append([]objects.ID{t2}, tn.Pieces...)); err != nil {
		t.Fatal(err)
	}
	anon := newClient(t, url, nil, remote.Options{})
	plan, err := anon.Plan(ctx, remote.PlanRequest{Want: []objects.ID{c2}})
	if err != nil || len(plan.Withheld) != 0 {
		t.Fatalf("plan after the weights were uploaded: %+v %v", plan, err)
	}
}

func TestWithheldNeedsFeature(t *testing.T) {
	// A client that would push withheld weights asks the server first.
	ctx := context.Background()
	ts := newServer(t, server.Options{})
	c := newClient(t, ts.URL+"/a/b", nil, remote.Options{})
	if err := c.RequireFeature(ctx, remote.FeatureWithheld); err != nil {
		t.Fatal(err)
	}
	err := c.RequireFeature(ctx, remote.FeatureProve)
	if !errors.Is(err, remote.ErrNoFeature) {
		t.Fatalf("RequireFeature(prove) on a server without Prove: %v", err)
	}
}

func TestProver(t *testing.T) {
	ctx := context.Background()
	proved := make(chan objects.ID, 10)
	release := make(chan struct{})
	first := true
	ts := newServer(t, withHooks(t, server.Options{}, hooks{Prove: func(ctx context.Context, repo string, commit objects.ID) error {
		if repo != "lab/p" {
			t.Errorf("Prove of repository %q", repo)
		}
		if first {
			first = false
			select {
			case <-release:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		proved <- commit
		return nil
	}}))
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { ts.srv.RunProver(runCtx); close(done) }()

	owner := keyN(1)
	h := newHistory(t, owner)
	co := newClient(t, ts.URL+"/lab/p", owner, remote.Options{})
	info, err := co.Info(ctx)
	if err != nil || !info.HasFeature(remote.FeatureProve) {
		t.Fatalf("info of a proving server: %+v %v", info, err)
	}
	c1, _, ids1 := h.commit(objects.ZeroID, 1, 1024, 1, nil)
	c2, _, ids2 := h.commit(c1, 1, 1024, 2, nil)
	if err := push(ctx, co, h.store, append(ids1, ids2...), "refs/heads/main", objects.ZeroID, c2, false); err != nil {
		t.Fatal(err)
	}
	// While the first job blocks: c3 is pushed with its proof, and a
	// private commit with withheld weights.
	c3, _, ids3 := h.commit(c2, 1, 1024, 3, nil)
	p3 := h.proof(c3, "by the pusher")
	if err := push(ctx, co, h.store, append(ids3, p3), remote.ProofsPrefix+c3.String(), objects.ZeroID, p3, false); err != nil {
		t.Fatal(err)
	}
	if _, err := co.UpdateRefs(ctx, []remote.RefUpdate{{Name: "refs/heads/main", Old: c2, New: c3}}); err != nil {
		t.Fatal(err)
	}
	c4, t4, _, send4 := h.privateCommit(c3, 4, true)
	p4 := h.proof(c4, "private")
	if _, err := co.SendMissing(ctx, h.store, append(send4, p4)); err != nil {
		t.Fatal(err)
	}
	if _, err := co.UpdateRefsWithheld(ctx, []remote.RefUpdate{{Name: "refs/heads/main", Old: c3, New: c4}, {Name: remote.ProofsPrefix + c4.String(), New: p4}}, []objects.ID{t4}); err != nil {
		t.Fatal(err)
	}
	if n := ts.srv.ProveQueueLen(); n != 3 {
		t.Errorf("queue holds %d jobs, want 3 (c1 running, c2, c3)", n)
	}
	close(release)
	var got []objects.ID
	for len(got) < 2 {
		select {
		case id := <-proved:
			got = append(got, id)
		case <-time.After(10 * time.Second):
			t.Fatalf("proved %v so far, want c1 and c2", got)
		}
	}
	if diff := cmp.Diff([]objects.ID{c1, c2}, got); diff != "" {
		t.Fatalf("proved (-want +got):\n%s", diff)
	}
	deadline := time.Now().Add(10 * time.Second)
	for ts.srv.ProveQueueLen() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case id := <-proved:
		t.Fatalf("proved %s: it had a proof (c3) or withheld weights (c4)", id.Short())
	default:
	}
	stop()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("RunProver did not stop with its context")
	}
}

// Jobs queued or running when the prover stops are proven after a restart
// of the server on the same root; a damaged queue line is skipped.
func TestProverQueueSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	started := make(chan objects.ID, 10)
	ts := newServer(t, withHooks(t, server.Options{Root: root}, hooks{Prove: func(ctx context.Context, repo string, commit objects.ID) error {
		started <- commit
		<-ctx.Done() // never finishes: the server stops first
		return ctx.Err()
	}}))
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { ts.srv.RunProver(runCtx); close(done) }()
	owner := keyN(1)
	h := newHistory(t, owner)
	co := newClient(t, ts.URL+"/lab/q", owner, remote.Options{})
	c1, _, ids1 := h.commit(objects.ZeroID, 1, 1024, 1, nil)
	c2, _, ids2 := h.commit(c1, 1, 1024, 2, nil)
	if err := push(ctx, co, h.store, append(ids1, ids2...), "refs/heads/main", objects.ZeroID, c2, false); err != nil {
		t.Fatal(err)
	}
	select {
	case id := <-started:
		if id != c1 {
			t.Fatalf("first job %s, want c1 %s", id.Short(), c1.Short())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the prover did not start")
	}
	stop()
	<-done
	ts.Close()
	f, err := os.OpenFile(filepath.Join(root, "prove-queue"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatalf("no queue file after a stop with jobs left: %v", err)
	}
	f.WriteString("not-a-commit lab/q\n")
	f.Close()

	var logged []string
	var mu sync.Mutex
	proved := make(chan objects.ID, 10)
	ts2 := newServer(t, withHooks(t, server.Options{Root: root,
		ErrorLog: func(format string, args ...any) {
			mu.Lock()
			logged = append(logged, fmt.Sprintf(format, args...))
			mu.Unlock()
		}}, hooks{
		Prove: func(ctx context.Context, repo string, commit objects.ID) error {
			if repo != "lab/q" {
				t.Errorf("Prove of repository %q", repo)
			}
			proved <- commit
			return nil
		}}))
	if n := ts2.srv.ProveQueueLen(); n != 2 {
		t.Fatalf("restarted server queues %d jobs, want 2 (c1 interrupted, c2)", n)
	}
	runCtx2, stop2 := context.WithCancel(ctx)
	defer stop2()
	go ts2.srv.RunProver(runCtx2)
	var got []objects.ID
	for len(got) < 2 {
		select {
		case id := <-proved:
			got = append(got, id)
		case <-time.After(10 * time.Second):
			t.Fatalf("proved %v after the restart, want c1 and c2", got)
		}
	}
	if diff := cmp.Diff([]objects.ID{c1, c2}, got); diff != "" {
		t.Fatalf("proved after restart (-want +got):\n%s", diff)
	}
	deadline := time.Now().Add(10 * time.Second)
	for ts2.srv.ProveQueueLen() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "prove-queue")); len(b) != 0 {
		t.Fatalf("queue file after every job ran: %q", b)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(logged) != 1 || !strings.Contains(logged[0], "line 3") {
		t.Fatalf("logged %q, want the damaged line 3 named", logged)
	}
}

// The owner's zk settings go through Repository.ZKSettings: read by anyone who
// may read, changed by the owner only, refused when the hook refuses (and
// then unchanged), and refused outright by a server without the hook.
func TestZKSettings(t *testing.T) {
	ctx := context.Background()
	kept := map[string]string{}
	var mu sync.Mutex
	ts := newServer(t, withHooks(t, server.Options{}, hooks{ZKSettings: func(name string, set map[string]string) (map[string]string, error) {
		mu.Lock()
		defer mu.Unlock()
		if name != "lab/z" {
			t.Errorf("ZKSettings of %q", name)
		}
		if set["zk.chunk"] == "7" {
			return nil, errors.New("zk: chunk size 7: bad")
		}
		for k, v := range set {
			if v == "" {
				delete(kept, k)
			} else {
				kept[k] = v
			}
		}
		return maps.Clone(kept), nil
	}}))
	owner, other := keyN(1), keyN(2)
	h := newHistory(t, owner)
	co := newClient(t, ts.URL+"/lab/z", owner, remote.Options{})
	c1, _, ids := h.commit(objects.ZeroID, 1, 256, 1, nil)
	if err := push(ctx, co, h.store, ids, "refs/heads/main", objects.ZeroID, c1, false); err != nil {
		t.Fatal(err)
	}
	st, err := co.UpdateSettings(ctx, remote.SettingsUpdate{ZK: map[string]string{"zk.linf": "0.05", "zk.chunk": "16"}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"zk.linf": "0.05", "zk.chunk": "16"}
	if diff := cmp.Diff(want, st.ZK); diff != "" {
		t.Fatalf("settings after the change (-want +got):\n%s", diff)
	}
	if _, err := co.UpdateSettings(ctx, remote.SettingsUpdate{ZK: map[string]string{"zk.chunk": "7"}}); problemCode(err) != remote.CodeBadRequest || !strings.Contains(err.Error(), "chunk size 7") {
		t.Fatalf("a refused value: %v", err)
	}
	if _, err := co.UpdateSettings(ctx, remote.SettingsUpdate{ZK: map[string]string{"zk.prove": "always"}}); problemCode(err) != remote.CodeBadRequest {
		t.Fatalf("a key servers do not keep: %v", err)
	}
	cOther := newClient(t, ts.URL+"/lab/z", other, remote.Options{})
	if _, err := cOther.UpdateSettings(ctx, remote.SettingsUpdate{ZK: map[string]string{"zk.linf": "9"}}); problemCode(err) != remote.CodeForbidden {
		t.Fatalf("a change by someone else: %v", err)
	}
	got, err := cOther.Settings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got.ZK); diff != "" {
		t.Fatalf("settings after refused changes (-want +got):\n%s", diff)
	}

	plain := newServer(t, server.Options{})
	cp := newClient(t, plain.URL+"/lab/z", owner, remote.Options{})
	if err := push(ctx, cp, h.store, ids, "refs/heads/main", objects.ZeroID, c1, false); err != nil {
		t.Fatal(err)
	}
	if _, err := cp.UpdateSettings(ctx, remote.SettingsUpdate{ZK: map[string]string{"zk.linf": "0.05"}}); problemCode(err) != remote.CodeBadRequest {
		t.Fatalf("zk settings on a server without them: %v", err)
	}
	if s, err := cp.Settings(ctx); err != nil || s.ZK != nil {
		t.Fatalf("settings of a server without zk settings: %+v %v", s, err)
	}
}
