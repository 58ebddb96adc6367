package governing

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fed-vcs/fed/governance"
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/refs"
	"github.com/fed-vcs/fed/remote"
	"github.com/fed-vcs/fed/repo"
)

// newTestRepo makes a repository signed by key 1 with one commit (a text
// file) and a clock that moves a minute per call.
func newTestRepo(t *testing.T) (*repo.Repo, objects.ID) {
	t.Helper()
	r, err := repo.Init(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	r.Key = objects.KeypairFromSeed(bytes.Repeat([]byte{1}, 32))
	clock := time.Unix(1_700_000_000, 0)
	r.Now = func() time.Time { clock = clock.Add(time.Minute); return clock }
	ctx := context.Background()
	if err := os.WriteFile(filepath.Join(r.Root, "README"), []byte("model\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := r.Add(ctx, []string{filepath.Join(r.Root, "README")}, repo.AddOptions{}); err != nil {
		t.Fatal(err)
	}
	id, err := r.Commit(ctx, repo.CommitOptions{Message: "base"})
	if err != nil {
		t.Fatal(err)
	}
	return r, id
}

// A second review by the same key replaces the first (its parent), both
// are kept and read back oldest first; a bad verdict and a missing key
// sign nothing.
func TestReviewChainsAndRecords(t *testing.T) {
	ctx := context.Background()
	r, head := newTestRepo(t)
	first, ref, err := Review(ctx, r, "HEAD", ReviewOptions{Verdict: governance.Reject, Message: "too lossy"})
	if err != nil {
		t.Fatal(err)
	}
	if !first.Parent.IsZero() || ref != governance.ReviewRef(head, first.ID) {
		t.Fatalf("first review: parent %s, ref %s", first.Parent, ref)
	}
	second, _, err := Review(ctx, r, head.String(), ReviewOptions{Verdict: governance.Approve})
	if err != nil {
		t.Fatal(err)
	}
	if second.Parent != first.ID {
		t.Fatalf("second review replaces %s, want %s", second.Parent, first.ID)
	}
	reviews, attestations, err := Records(ctx, r, head)
	if err != nil {
		t.Fatal(err)
	}
	if len(reviews) != 2 || len(attestations) != 0 || reviews[0].ID != first.ID || reviews[1].Verdict != governance.Approve {
		t.Fatalf("records: %d reviews %+v, %d attestations", len(reviews), reviews, len(attestations))
	}
	if _, _, err := Review(ctx, r, "HEAD", ReviewOptions{Verdict: "maybe"}); err == nil {
		t.Fatal("a review with verdict maybe was signed")
	}
	r.Key = nil
	if _, _, err := Attest(ctx, r, "HEAD", AttestOptions{}); !errors.Is(err, repo.ErrNoKey) {
		t.Fatalf("attest without a key: %v", err)
	}
	if reviews, _, _ := Records(ctx, r, head); len(reviews) != 2 {
		t.Fatalf("%d reviews after the refused ones, want 2", len(reviews))
	}
}

// An attestation keeps its metrics sorted by name, whatever order they
// were given in.
func TestAttestSortsMetrics(t *testing.T) {
	ctx := context.Background()
	r, head := newTestRepo(t)
	var metrics []governance.Metric
	for _, nv := range [][2]string{{"loss", "0.5"}, {"accuracy", "0.9"}} {
		m, err := governance.ParseMetric(nv[0], nv[1])
		if err != nil {
			t.Fatal(err)
		}
		metrics = append(metrics, m)
	}
	a, _, err := Attest(ctx, r, "HEAD", AttestOptions{Metrics: metrics})
	if err != nil {
		t.Fatal(err)
	}
	_, held, err := Records(ctx, r, head)
	if err != nil {
		t.Fatal(err)
	}
	if len(held) != 1 || held[0].ID != a.ID || len(held[0].Metrics) != 2 || held[0].Metrics[0].Name != "accuracy" {
		t.Fatalf("attestations held: %+v", held)
	}
}

// Names are labels: a key without one is shown as itself; a name map
// held under NamesRef labels keys; a ref holding another kind of record
// fails closed.
func TestLabelAndWrongKind(t *testing.T) {
	ctx := context.Background()
	r, head := newTestRepo(t)
	k := r.Key.Public()
	if got := Label(ctx, r, "origin", false)(k); got != k.String() {
		t.Fatalf("label without a name map: %q", got)
	}
	id, err := storeRecord(ctx, r, &governance.Names{Labels: map[objects.PublicKey]string{k: "alice"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Refs.Transaction([]refs.Update{{Name: NamesRef("origin"), New: id}}, r.Entry("test")); err != nil {
		t.Fatal(err)
	}
	if got := Label(ctx, r, "origin", true)(k); got != "alice ("+k.String()+")" {
		t.Fatalf("label with key: %q", got)
	}
	other := objects.KeypairFromSeed(bytes.Repeat([]byte{2}, 32)).Public()
	if got := Label(ctx, r, "origin", false)(other); got != other.String() {
		t.Fatalf("label of an unnamed key: %q", got)
	}
	rv, _, err := Review(ctx, r, head.String(), ReviewOptions{Verdict: governance.Comment})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Refs.Transaction([]refs.Update{{Name: PolicyRef("origin", "main"), New: rv.ID}}, r.Entry("test")); err != nil {
		t.Fatal(err)
	}
	if p, err := Policy(ctx, r, "origin", "main"); !errors.Is(err, ErrBadGovernance) {
		t.Fatalf("policy ref holding a review: %v, %v", p, err)
	}
}

// Fetch keeps a review only under the ref that names its commit and id:
// a server handing out a record under another commit's name is refused
// (no server is asked for review refs).
func TestFetchedGovernanceRefChecksName(t *testing.T) {
	ctx := context.Background()
	r, head := newTestRepo(t)
	rv, name, err := Review(ctx, r, "HEAD", ReviewOptions{Verdict: governance.Approve})
	if err != nil {
		t.Fatal(err)
	}
	got, ok, err := FetchedGovernanceRef(ctx, r, nil, "origin", remote.Ref{Name: name, ID: rv.ID}, &GovOwner{})
	if err != nil || !ok || string(got) != name {
		t.Fatalf("own review: %s, %v, %v", got, ok, err)
	}
	elsewhere := governance.ReviewRef(objects.Sum([]byte("another commit")), rv.ID)
	if _, ok, err := FetchedGovernanceRef(ctx, r, nil, "origin", remote.Ref{Name: elsewhere, ID: rv.ID}, &GovOwner{}); ok || !errors.Is(err, ErrBadGovernance) {
		t.Fatalf("review of %s under another commit's ref: kept %v, %v", head.Short(), ok, err)
	}
	if _, ok, err := FetchedGovernanceRef(ctx, r, nil, "origin", remote.Ref{Name: name, ID: head}, &GovOwner{}); ok || !errors.Is(err, ErrBadGovernance) {
		t.Fatalf("a plain commit as a review: kept %v, %v", ok, err)
	}
}
