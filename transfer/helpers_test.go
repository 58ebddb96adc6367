package transfer

import (
	"bytes"
	"context"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/fed-vcs/fed/codec"
	"github.com/fed-vcs/fed/codec/safetensors"
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/remote/server"
	"github.com/fed-vcs/fed/repo"
)

// Test helpers, as repo's tests have them.

// startServer runs a fed server on loopback for the test.
func startServer(t *testing.T) (url string, root string) {
	t.Helper()
	root = t.TempDir()
	s, err := server.New(server.Options{Root: root, ErrorLog: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return ts.URL, root
}

// newTestRepo makes a repository signing with key 1 and a clock that
// moves a minute a commit.
func newTestRepo(t *testing.T) *repo.Repo {
	t.Helper()
	r, err := repo.Init(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	r.Key = keyN(1)
	clock := time.Unix(1_700_000_000, 0)
	r.Now = func() time.Time { clock = clock.Add(time.Minute); return clock }
	return r
}

func keyN(n byte) *objects.Keypair { return objects.KeypairFromSeed(bytes.Repeat([]byte{n}, 32)) }

// writeTensors writes a safetensors file of F32 tensors in name order,
// each of n[name] values drawn from the generator seed[name] gives.
func writeTensors(t testing.TB, path string, names []string, n func(string) int, rng func(string) *rand.Rand) {
	t.Helper()
	var ts []safetensors.WriteTensor
	for _, name := range names {
		count, r := n(name), rng(name)
		b := make([]byte, 4*count)
		for i := 0; i < count; i++ {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(float32(r.NormFloat64())))
		}
		ts = append(ts, safetensors.WriteTensor{Info: codec.TensorInfo{Name: name, DType: objects.F32, Shape: []uint64{uint64(count)}}, Data: bytes.NewReader(b), Len: int64(len(b))})
	}
	var buf bytes.Buffer
	if err := safetensors.Write(&buf, map[string]string{"format": "pt"}, ts); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeModel writes a safetensors file of F32 tensors with the given
// element counts, values drawn from seed.
func writeModel(t testing.TB, path string, seed uint64, sizes map[string]int) {
	t.Helper()
	names := make([]string, 0, len(sizes))
	for n := range sizes {
		names = append(names, n)
	}
	sort.Strings(names)
	r := rand.New(rand.NewPCG(seed, 7))
	writeTensors(t, path, names, func(n string) int { return sizes[n] }, func(string) *rand.Rand { return r })
}

// writeSeeded writes a safetensors file of F32 tensors, each drawn from
// its own seed, in name order: changing one seed changes one tensor.
func writeSeeded(t testing.TB, path string, tensors map[string][2]int) {
	t.Helper()
	names := make([]string, 0, len(tensors))
	for n := range tensors {
		names = append(names, n)
	}
	sort.Strings(names)
	writeTensors(t, path, names, func(n string) int { return tensors[n][0] }, func(n string) *rand.Rand {
		return rand.New(rand.NewPCG(uint64(tensors[n][1]), 11))
	})
}

// commitFile commits the working tree after write wrote its model.
func commitFile(t *testing.T, r *repo.Repo, write func(path string), msg string) objects.ID {
	t.Helper()
	ctx := context.Background()
	write(filepath.Join(r.Root, "model.safetensors"))
	if err := r.Add(ctx, []string{r.Root}, repo.AddOptions{}); err != nil {
		t.Fatal(err)
	}
	id, err := r.Commit(ctx, repo.CommitOptions{Message: msg})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func commitModel(t *testing.T, r *repo.Repo, seed uint64, sizes map[string]int, msg string) objects.ID {
	t.Helper()
	return commitFile(t, r, func(p string) { writeModel(t, p, seed, sizes) }, msg)
}

func commitSeeded(t *testing.T, r *repo.Repo, tensors map[string][2]int, msg string) objects.ID {
	t.Helper()
	return commitFile(t, r, func(p string) { writeSeeded(t, p, tensors) }, msg)
}

// noTempFiles fails when a temporary file of fed is left in the working
// tree (a clone writes its files next to their destination first).
func noTempFiles(t *testing.T, r *repo.Repo) {
	t.Helper()
	filepath.WalkDir(r.Root, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), ".fed-tmp-") {
			t.Errorf("temporary file left behind: %s", p)
		}
		return nil
	})
}
