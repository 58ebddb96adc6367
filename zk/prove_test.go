package zk

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fed-vcs/fed/objects"
)

const testChunk = 16

var testCache *Cache

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "zk-keys-*")
	if err != nil {
		panic(err)
	}
	testCache = NewCache(dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// model builds a one-tensor F32 model from float values.
func model(xs []float32) *Model {
	data := make([]byte, 4*len(xs))
	for i, x := range xs {
		binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(x))
	}
	return &Model{Tensors: []Tensor{{Path: "m.safetensors", Name: "w", DType: objects.F32, Shape: []uint64{uint64(len(xs))}, Data: data}},
		Extras: []Extra{{Path: "m.safetensors", Name: "step", ID: objects.Sum([]byte("7"))}}}
}

func values(t *testing.T, xs []float32) *Values {
	t.Helper()
	v, err := Quantize(model(xs))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func randFloats(rng *rand.Rand, n int) []float32 {
	xs := make([]float32, n)
	for i := range xs {
		xs[i] = float32(rng.NormFloat64())
	}
	return xs
}

func id(s string) objects.ID { return objects.Sum([]byte(s)) }

// proveVerify proves st with development keys, round-trips the body and
// verifies it.
func proveVerify(t *testing.T, st *Statement) *Body {
	t.Helper()
	ctx := context.Background()
	if _, err := testCache.Setup(ctx, st.ShapeOf()); err != nil {
		t.Fatal(err)
	}
	b, err := testCache.Prove(ctx, st, ProveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	enc := b.Encode()
	b2, err := DecodeBody(enc)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if diff := cmp.Diff(b, b2); diff != "" {
		t.Fatalf("body round trip (-want +got):\n%s", diff)
	}
	vk, err := testCache.VerifyingKey(b.Shape())
	if err != nil {
		t.Fatal(err)
	}
	if vk.Origin != Development {
		t.Errorf("origin %s, want development", vk.Origin)
	}
	if err := Verify(ctx, st.Commit, b2, vk, VerifyOptions{}); err != nil {
		t.Fatalf("verify: %v", err)
	}
	return b2
}

func wantCheck(t *testing.T, err error, chunk int, check string, target error) {
	t.Helper()
	var ce *CheckError
	if !errors.As(err, &ce) {
		t.Fatalf("error %v is not a *CheckError", err)
	}
	if ce.Chunk != chunk || ce.Check != check || !errors.Is(err, target) {
		t.Errorf("got chunk %d check %q (%v), want chunk %d check %q matching %v", ce.Chunk, ce.Check, err, chunk, check, target)
	}
}

func TestProveVerifyUpdate(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	px := randFloats(rng, 2*testChunk+5) // three chunks, the last padded
	cx := append([]float32(nil), px...)
	for i := range cx {
		cx[i] += float32(rng.Float64()*0.02 - 0.01)
	}
	linf, _ := QuantBound(0.02)
	l2, _ := QuantBudget(0.01)
	st := &Statement{Commit: id("child"), ChunkSize: testChunk, Self: values(t, cx), Parents: []*Values{values(t, px)},
		ParentIDs: []objects.ID{id("parent")}, Linf: linf, HasL2: true, L2: l2}
	b := proveVerify(t, st)
	vk, _ := testCache.VerifyingKey(b.Shape())
	ctx := context.Background()

	t.Run("tampered proof", func(t *testing.T) {
		bad := *b
		bad.Proofs = append([][]byte(nil), b.Proofs...)
		p := append([]byte(nil), b.Proofs[1]...)
		p[10] ^= 1
		bad.Proofs[1] = p
		wantCheck(t, Verify(ctx, st.Commit, &bad, vk, VerifyOptions{}), 1, "update", ErrInvalidProof)
	})
	t.Run("commitment swapped", func(t *testing.T) {
		bad := *b
		bad.Self.Chunks = append([]Digest(nil), b.Self.Chunks...)
		bad.Self.Chunks[2] = HashChunk(nil, testChunk)
		wantCheck(t, Verify(ctx, st.Commit, &bad, vk, VerifyOptions{}), 2, "update", ErrInvalidProof)
	})
	t.Run("bound lowered", func(t *testing.T) {
		bad := *b
		bad.Linf = b.Linf / 2
		wantCheck(t, Verify(ctx, st.Commit, &bad, vk, VerifyOptions{Workers: 1}), 0, "update", ErrInvalidProof)
	})
	t.Run("budgets above L2", func(t *testing.T) {
		bad := *b
		bad.L2 = 1
		wantCheck(t, Verify(ctx, st.Commit, &bad, vk, VerifyOptions{}), -1, "update", ErrInvalidProof)
	})
	t.Run("over linf", func(t *testing.T) {
		over := append([]float32(nil), cx...)
		over[testChunk+3] = px[testChunk+3] + 0.5
		st2 := *st
		st2.Self = values(t, over)
		_, err := testCache.Prove(ctx, &st2, ProveOptions{})
		wantCheck(t, err, 1, "update", ErrBound)
	})
	t.Run("over l2", func(t *testing.T) {
		st2 := *st
		st2.L2 = 1000
		_, err := testCache.Prove(ctx, &st2, ProveOptions{})
		wantCheck(t, err, -1, "update", ErrBound)
	})
}

func TestProveVerifyCommitAndPinning(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(9, 10))
	st := &Statement{Commit: id("root"), ChunkSize: testChunk, Self: values(t, randFloats(rng, testChunk))}
	b := proveVerify(t, st)
	dev, _ := testCache.VerifyingKey(b.Shape())

	// Import ceremony keys into a second cache and pin them: proofs made
	// with development keys are refused, proofs with ceremony keys pass.
	cer := NewCache(t.TempDir())
	pk, vk := ceremony(t, cer, b.Shape())
	ck, err := cer.Import(ctx, b.Shape(), bytes.NewReader(pk), bytes.NewReader(vk))
	if err != nil {
		t.Fatal(err)
	}
	if ck.Origin != Ceremony || ck.ID == dev.ID {
		t.Fatalf("imported key: origin %s id %s (dev %s)", ck.Origin, ck.ID.Short(), dev.ID.Short())
	}
	pinned := VerifyOptions{Pinned: []objects.ID{ck.ID}}
	wantCheck(t, Verify(ctx, st.Commit, b, dev, pinned), -1, "key", ErrUnpinned)
	b2, err := cer.Prove(ctx, st, ProveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(ctx, st.Commit, b2, ck, pinned); err != nil {
		t.Fatalf("ceremony proof: %v", err)
	}
	// A body naming one key cannot be verified with another.
	wantCheck(t, Verify(ctx, st.Commit, b2, dev, VerifyOptions{}), -1, "key", ErrInvalidProof)
	// Import refuses mismatched keys.
	if _, err := cer.Import(ctx, b.Shape(), bytes.NewReader(pk), bytes.NewReader(dev.Raw)); err == nil {
		t.Error("import of a fed key file as a gnark verifying key succeeded")
	}
}

// ceremony returns the gnark encodings of keys from a multi-party setup
// with one contributor per phase.
func ceremony(t *testing.T, c *Cache, shape Shape) ([]byte, []byte) {
	t.Helper()
	var pb, vb bytes.Buffer
	if err := c.WriteCeremonyKeys(shape, &pb, &vb); err != nil {
		t.Fatal(err)
	}
	return pb.Bytes(), vb.Bytes()
}

func TestProveVerifyMerge(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(11, 12))
	const n = testChunk + 3
	a, b := values(t, randFloats(rng, n)), values(t, randFloats(rng, n))
	w := []uint64{3, 5}
	merged := &Values{Q: make([]int32, n), Layout: a.Layout, Extras: a.Extras, Names: a.Names, Starts: a.Starts}
	for i := range merged.Q {
		m, err := mergeFixedMean([]int32{a.Q[i], b.Q[i]}, w)
		if err != nil {
			t.Fatal(err)
		}
		merged.Q[i] = m
	}
	st := &Statement{Commit: id("merge"), ChunkSize: testChunk, Self: merged, Parents: []*Values{a, b},
		ParentIDs: []objects.ID{id("a"), id("b")}, Weights: w}
	body := proveVerify(t, st)
	vk, _ := testCache.VerifyingKey(body.Shape())

	t.Run("wrong weight", func(t *testing.T) {
		bad := *body
		bad.Weights = []uint64{4, 4}
		err := Verify(ctx, st.Commit, &bad, vk, VerifyOptions{Workers: 1})
		wantCheck(t, err, 0, "merge", ErrInvalidProof)
	})
	t.Run("merged off by one", func(t *testing.T) {
		st2 := *st
		m2 := *merged
		m2.Q = append([]int32(nil), merged.Q...)
		m2.Q[testChunk+1]++
		st2.Self = &m2
		_, err := testCache.Prove(ctx, &st2, ProveOptions{})
		wantCheck(t, err, 1, "merge", ErrMismatch)
	})
	t.Run("layout differs", func(t *testing.T) {
		st2 := *st
		st2.Parents = []*Values{a, values(t, randFloats(rng, n+1))}
		_, err := testCache.Prove(ctx, &st2, ProveOptions{})
		wantCheck(t, err, -1, "merge", ErrLayout)
	})
}

func TestQuantizeRange(t *testing.T) {
	t.Parallel()
	for _, x := range []float32{8192, -8192, float32(math.Inf(1)), float32(math.NaN())} {
		if _, err := Quantize(model([]float32{0, x})); !errors.Is(err, ErrRange) {
			t.Errorf("quantize %v: %v, want ErrRange", x, err)
		}
	}
	v, err := Quantize(model([]float32{8191.99, -1.5, 1.0 / 65536}))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int32{536870272, -98304, 1}, v.Q); diff != "" {
		t.Errorf("quantised (-want +got):\n%s", diff)
	}
}

// TestDamagedKeyFiles checks that a damaged or half-present key pair
// fails proving with an error that names the file, and that nothing is
// proven with it.
func TestDamagedKeyFiles(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(11, 12))
	st := &Statement{Commit: id("damaged"), ChunkSize: testChunk, Self: values(t, randFloats(rng, testChunk))}
	shape := st.ShapeOf()
	if _, err := testCache.Setup(ctx, shape); err != nil {
		t.Fatal(err)
	}
	copyCache := func(t *testing.T) *Cache {
		c := NewCache(t.TempDir())
		for _, ext := range []string{".pk", ".vk"} {
			b, err := os.ReadFile(testCache.path(shape, ext))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(c.path(shape, ext), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return c
	}
	flip := func(t *testing.T, path string, at int) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		b[at%len(b)] ^= 0x40
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name, ext string
		at        int
	}{
		{"proving key payload", ".pk", 5000},
		{"proving key header", ".pk", 6},
		{"verifying key payload", ".vk", 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := copyCache(t)
			path := c.path(shape, tc.ext)
			flip(t, path, tc.at)
			body, err := c.Prove(ctx, st, ProveOptions{})
			var kf *KeyFileError
			if !errors.As(err, &kf) || kf.Path != path || body != nil {
				t.Fatalf("prove with a damaged %s: body %v, error %v (want a *KeyFileError naming %s)", tc.ext, body != nil, err, path)
			}
		})
	}
	t.Run("verifying key only", func(t *testing.T) {
		c := copyCache(t)
		os.Remove(c.path(shape, ".pk"))
		_, err := c.Prove(ctx, st, ProveOptions{})
		if !errors.Is(err, ErrNoKeys) || !strings.Contains(err.Error(), c.path(shape, ".pk")) {
			t.Fatalf("prove with the verifying key only: %v", err)
		}
	})
}
