package zk

import (
	"context"
	"math/big"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark-crypto/ecc/bn254"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark/backend/groth16"
	groth16bn "github.com/consensys/gnark/backend/groth16/bn254"

	"github.com/fed-vcs/fed/objects"
)

// Production-size benchmarks (make bench): one model of a few chunks of
// DefaultChunk values per iteration, proven as `fed prove` does (default
// workers), after one untimed warm-up proof. Keys are set up once,
// outside the timer, in $FED_ZK_CACHE (or a temporary directory). Reported: constraints/param, params/s
// proven, proof bytes, verify ms/chunk, peak RSS MB of the process.
func benchCache(b *testing.B) *Cache {
	dir := os.Getenv("FED_ZK_CACHE")
	if dir == "" {
		dir = filepath.Join(b.TempDir(), "keys")
	}
	return NewCache(dir)
}

// benchStatement is a model of chunks chunks of DefaultChunk values.
func benchStatement(kind Kind, parents, chunks int) *Statement {
	rng := rand.New(rand.NewPCG(1, uint64(parents)))
	n := DefaultChunk
	mk := func() *Values {
		v := &Values{Q: make([]int32, n*chunks)}
		for i := range v.Q {
			v.Q[i] = rng.Int32N(1<<20) - 1<<19
		}
		return v
	}
	st := &Statement{Commit: objects.Sum([]byte("bench")), ChunkSize: n, Self: mk()}
	switch kind {
	case KindUpdate:
		p := mk()
		for i := range st.Self.Q {
			st.Self.Q[i] = p.Q[i] + rng.Int32N(2001) - 1000
		}
		st.Parents, st.ParentIDs, st.Linf = []*Values{p}, []objects.ID{{1}}, 1000
	case KindMerge:
		for j := 0; j < parents; j++ {
			st.Parents = append(st.Parents, mk())
			st.ParentIDs = append(st.ParentIDs, objects.ID{byte(j)})
			st.Weights = append(st.Weights, uint64(100+j))
		}
		var w uint64
		for _, x := range st.Weights {
			w += x
		}
		for i := range st.Self.Q {
			var s int64
			for j, p := range st.Parents {
				s += int64(st.Weights[j]) * int64(p.Q[i])
			}
			q := s / int64(w)
			if s%int64(w) != 0 && s < 0 {
				q--
			}
			st.Self.Q[i] = int32(q)
		}
	}
	return st
}

func benchProve(b *testing.B, st *Statement) {
	ctx := context.Background()
	c := benchCache(b)
	shape := st.ShapeOf()
	t0 := time.Now()
	if _, err := c.Setup(ctx, shape); err != nil {
		b.Fatal(err)
	}
	b.Logf("%s: setup (or cache load) %v", shape, time.Since(t0))
	nc, err := c.Constraints(shape)
	if err != nil {
		b.Fatal(err)
	}
	pk, _, err := c.provingKey(shape)
	if err != nil {
		b.Fatal(err)
	}
	// One proof outside the timer: `fed prove` proves a model's chunks one
	// after another in one process, so the figure that matters is the
	// steady state, not the first proof's page faults and heap growth.
	body, err := c.Prove(ctx, st, ProveOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		body, err = c.Prove(ctx, st, ProveOptions{})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	perProof := b.Elapsed() / time.Duration(b.N)
	vk, _ := c.VerifyingKey(shape)
	t1 := time.Now()
	const reps = 20
	for i := 0; i < reps; i++ {
		if err := Verify(ctx, st.Commit, body, vk, VerifyOptions{Workers: 1}); err != nil {
			b.Fatal(err)
		}
	}
	verifyTime := time.Since(t1)
	ref := referenceMSM(b, pk)
	b.ReportMetric(float64(nc)/float64(st.ChunkSize), "constraints/param")
	b.ReportMetric(float64(len(st.Self.Q))/perProof.Seconds(), "params/s")
	b.ReportMetric(float64(len(body.Proofs[0])), "proof-bytes")
	b.ReportMetric(float64(verifyTime.Microseconds())/1000/reps/float64(len(body.Proofs)), "verify-ms/chunk")
	if mb := peakRSSMB(); mb > 0 {
		b.ReportMetric(mb, "peak-RSS-MB")
	}
	b.ReportMetric(ref, "ref-msm-ms")
}

// referenceMSM times one multi-exponentiation of 2^16 G1 points of the
// proving key with full-size scalars, the core of the prover's work: this
// machine's speed drifts by up to ~40% within an hour, and params/s
// divided by this speed compares runs made at different times.
func referenceMSM(b *testing.B, pk groth16.ProvingKey) float64 {
	p, ok := pk.(*groth16bn.ProvingKey)
	if !ok || len(p.G1.A) < 1<<16 {
		return 0
	}
	points := p.G1.A[:1<<16]
	scalars := make([]fr.Element, len(points))
	for i := range scalars {
		scalars[i].SetUint64(uint64(i) + 1)
		scalars[i].Exp(scalars[i], big.NewInt(65537)) // full-size, deterministic
	}
	var out bn254.G1Jac
	best := time.Duration(0)
	for range 3 {
		t0 := time.Now()
		if _, err := out.MultiExp(points, scalars, ecc.MultiExpConfig{}); err != nil {
			b.Fatal(err)
		}
		if d := time.Since(t0); best == 0 || d < best {
			best = d
		}
	}
	return float64(best.Microseconds()) / 1000
}

// The models have four chunks for commitment and update proofs (`fed
// prove` proves two at a time, so both workers are busy), one for a merge
// of four (proven one chunk at a time).
func BenchmarkProveCommit(b *testing.B) { benchProve(b, benchStatement(KindCommit, 0, 4)) }
func BenchmarkProveUpdate(b *testing.B) { benchProve(b, benchStatement(KindUpdate, 1, 4)) }
func BenchmarkProveMerge4(b *testing.B) { benchProve(b, benchStatement(KindMerge, 4, 1)) }
