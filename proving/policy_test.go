package proving

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/fed-vcs/fed/merge"
	"github.com/fed-vcs/fed/repo"
	"github.com/fed-vcs/fed/zk"
)

func TestWanted(t *testing.T) {
	r := newTestRepo(t)
	for _, tc := range []struct {
		prove string // zk.prove, "" unset
		flag  bool
		want  bool
	}{{"", false, false}, {"", true, true}, {"never", true, true}, {"never", false, false}, {"always", false, true}} {
		if tc.prove == "" {
			r.Config.Unset("zk.prove")
		} else if err := r.Config.Set("zk.prove", tc.prove); err != nil {
			t.Fatal(err)
		}
		if got, err := Wanted(r, tc.flag); err != nil || got != tc.want {
			t.Errorf("zk.prove %q, --prove %v: %v, %v; want %v", tc.prove, tc.flag, got, err, tc.want)
		}
	}
}

func TestProvableMerge(t *testing.T) {
	for _, tc := range []struct {
		strategy string
		params   map[string]string
		weights  []float64
		refuse   string // "" when provable
	}{
		{"", map[string]string{}, nil, ""},
		{merge.FedAvg, map[string]string{}, []float64{1, 3}, ""},
		{merge.FedAvg, map[string]string{"exact": "true"}, []float64{0, 2}, ""},
		{"ties", map[string]string{}, nil, "must use fedavg"},
		{merge.FedAvg, map[string]string{"exact": "false"}, nil, "exact=false"},
		{merge.FedAvg, map[string]string{}, []float64{1, 0.5}, "weight 2 is 0.5"},
		{merge.FedAvg, map[string]string{}, []float64{-1}, "weight 1 is -1"},
		{merge.FedAvg, map[string]string{}, []float64{merge.MaxFixedWeight + 1}, "integer weights in [0, "},
	} {
		got, err := ProvableMerge(tc.strategy, tc.params, tc.weights)
		if tc.refuse == "" {
			if err != nil || got != merge.FedAvg || tc.params["exact"] != "true" {
				t.Errorf("%s %v %v: %q, %v, exact=%q; want fedavg exact", tc.strategy, tc.params, tc.weights, got, err, tc.params["exact"])
			}
			continue
		}
		if !errors.Is(err, ErrUnprovableMerge) || !strings.Contains(err.Error(), tc.refuse) || got != "" {
			t.Errorf("%s %v %v: %q, %v; want a refusal with %q", tc.strategy, tc.params, tc.weights, got, err, tc.refuse)
		}
	}
}

// TestAfterCommit: a commit that cannot be proven stays, and the error
// names it and keeps the cause; without a key cache nothing is proven.
func TestAfterCommit(t *testing.T) {
	ctx := context.Background()
	r, cache := zkRepo(t)
	r.Config.Unset("zk.linf") // an update cannot be proven without its bound
	c1 := zkCommitModel(t, r, "base", map[string][]float32{"a": {1, 2}}, repo.CommitOptions{})
	c2 := zkCommitModel(t, r, "step", map[string][]float32{"a": {1, 2.01}}, repo.CommitOptions{})
	if _, err := AfterCommit(ctx, r, c1, ProveOptions{}); !errors.Is(err, ErrUnproven) || !strings.Contains(err.Error(), "no key cache") {
		t.Errorf("without a cache: %v", err)
	}
	_, err := AfterCommit(ctx, r, c2, ProveOptions{Cache: cache, Setup: true})
	if !errors.Is(err, ErrUnproven) || !strings.Contains(err.Error(), "commit "+c2.Short()+" was made, but proving it failed: prove "+c2.Short()+": zk.linf is not set") {
		t.Fatalf("unprovable update: %v", err)
	}
	if h, _, _ := r.Head(); h != c2 {
		t.Errorf("HEAD %s, want the commit %s kept", h.Short(), c2.Short())
	}
	if _, err := r.Refs.Read(repo.ProofRef(c2)); err == nil {
		t.Error("a proof was attached to the unprovable commit")
	}
	res, err := AfterCommit(ctx, r, c1, ProveOptions{Cache: cache, Setup: true})
	if err != nil || len(res) != 1 || res[0].Kind != zk.KindCommit.String() || res[0].Commit != c1 {
		t.Fatalf("commitment proof: %+v, %v", res, err)
	}
}
