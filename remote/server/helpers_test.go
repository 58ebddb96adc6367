package server_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/remote"
	"github.com/fed-vcs/fed/remote/server"
	"github.com/fed-vcs/fed/repometa"
)

func keyN(n byte) *objects.Keypair { return objects.KeypairFromSeed(bytes.Repeat([]byte{n}, 32)) }

type testServer struct {
	*httptest.Server
	srv  *server.Server
	root string
}

func newServer(t testing.TB, opts server.Options) *testServer {
	t.Helper()
	if opts.Root == "" {
		opts.Root = t.TempDir()
	}
	s, err := server.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return &testServer{Server: ts, srv: s, root: opts.Root}
}

func newClient(t testing.TB, url string, key *objects.Keypair, opts remote.Options) *remote.Client {
	t.Helper()
	opts.Key = key
	if opts.RetryBase == 0 {
		opts.RetryBase = time.Millisecond
	}
	c, err := remote.New(url, opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// history builds commits in a local store.
type history struct {
	t     testing.TB
	store *objects.DiskStore
	key   *objects.Keypair
	seq   int
}

func newHistory(t testing.TB, key *objects.Keypair) *history {
	st, err := objects.OpenDisk(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return &history{t: t, store: st, key: key}
}

// commit stores a commit on parent (ZeroID: root) holding one F32 tensor
// of pieces pieces of pieceSize bytes drawn from seed; with base, the
// pieces are stored as deltas against base's pieces where that helps. It
// returns the commit id, its tensor and every id it reaches besides
// parent's.
func (h *history) commit(parent objects.ID, pieces, pieceSize int, seed uint64, base *objects.Tensor) (objects.ID, *objects.Tensor, []objects.ID) {
	t := h.t
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(seed, 3))
	tn := &objects.Tensor{DType: objects.F32, Shape: []uint64{uint64(pieces * pieceSize / 4)}, Size: uint64(pieces * pieceSize), PieceSize: uint64(pieceSize)}
	var ids []objects.ID
	for i := 0; i < pieces; i++ {
		data := make([]byte, pieceSize)
		for j := 0; j+4 <= pieceSize; j += 4 {
			binary.LittleEndian.PutUint32(data[j:], math.Float32bits(float32(rng.NormFloat64())))
		}
		opts := objects.PutOptions{ElemSize: 4}
		if base != nil {
			prev, _ := h.store.Get(ctx, base.Pieces[i])
			copy(data, prev[objects.HeaderSize:])
			for j := 0; j < pieceSize; j += 4 * 101 {
				data[j] ^= byte(seed)
			}
			opts.DeltaBase = base.Pieces[i]
		}
		id, err := h.store.Put(ctx, objects.EncodeChunk(data), opts)
		if err != nil {
			t.Fatal(err)
		}
		tn.Pieces = append(tn.Pieces, id)
		ids = append(ids, id)
	}
	put := func(o objects.Object) objects.ID {
		id, err := objects.Write(ctx, h.store, o)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
		return id
	}
	tid := put(tn)
	mid := put(&objects.Model{Format: "safetensors", Size: tn.Size, Segments: []objects.Segment{{Name: "w", ID: tid, Size: tn.Size}}})
	tree := put(&objects.Tree{Entries: []objects.TreeEntry{{Name: "model.safetensors", Mode: objects.ModeFile, Kind: objects.KindModel, ID: mid}}})
	h.seq++
	c := &objects.Commit{Tree: tree, Time: int64(1_700_000_000 + h.seq), Message: "commit " + strconv.Itoa(h.seq)}
	if !parent.IsZero() {
		c.Parents = []objects.ID{parent}
	}
	if err := objects.SignCommit(c, h.key); err != nil {
		t.Fatal(err)
	}
	cid := put(c)
	return cid, tn, ids
}

// push sends ids and moves ref from old to new.
func push(ctx context.Context, c *remote.Client, st *objects.DiskStore, ids []objects.ID, ref string, old, new objects.ID, force bool) error {
	if _, err := c.SendMissing(ctx, st, ids); err != nil {
		return err
	}
	_, err := c.UpdateRefs(ctx, []remote.RefUpdate{{Name: ref, Old: old, New: new, Force: force}})
	return err
}

// login performs the login flow by hand and returns a token.
func login(t *testing.T, base string, key *objects.Keypair) string {
	t.Helper()
	var ch remote.Challenge
	status, _ := rawJSON(t, base, "POST", remote.PathPrefix+"login/challenge", "", remote.ChallengeRequest{Address: key.Public().String()}, &ch)
	if status != 200 {
		t.Fatalf("challenge: %d", status)
	}
	var lr remote.LoginResponse
	status, p := rawJSON(t, base, "POST", remote.PathPrefix+"login", "", remote.LoginRequest{Address: key.Public().String(), Nonce: ch.Nonce, Signature: objects.Base58(key.Sign([]byte(ch.Message)))}, &lr)
	if status != 200 {
		t.Fatalf("login: %d %+v", status, p)
	}
	return lr.Token
}

// raw sends a request with the protocol header and returns the status
// and the decoded problem, if any.
func raw(t *testing.T, base, method, path, token, contentType string, body []byte) (int, *remote.Problem, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, base+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(remote.VersionHeader, "1")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.Header.Get(remote.VersionHeader) != "1" {
		t.Errorf("%s %s: response without %s: 1", method, path, remote.VersionHeader)
	}
	if resp.StatusCode >= 300 {
		var p remote.Problem
		if resp.Header.Get("Content-Type") != remote.MediaProblem {
			t.Errorf("%s %s: error with content type %q", method, path, resp.Header.Get("Content-Type"))
		}
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatalf("%s %s: problem body %q: %v", method, path, b, err)
		}
		return resp.StatusCode, &p, b
	}
	return resp.StatusCode, nil, b
}

func rawJSON(t *testing.T, base, method, path, token string, in, out any) (int, *remote.Problem) {
	t.Helper()
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	status, p, body := raw(t, base, method, path, token, remote.MediaJSON, b)
	if p == nil && out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			t.Fatal(err)
		}
	}
	return status, p
}

// countObjects counts the objects of repository name under root.
func countObjects(t *testing.T, root, name string) int {
	t.Helper()
	st, err := objects.OpenDisk(root + "/" + name + ".fed/objects")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	st.List(context.Background(), func(objects.ID) error { n++; return nil })
	return n
}

// hooks are the repository hooks a test turns on, as functions of the
// repository's name (nil: off).
type hooks struct {
	RequireProofs func(ctx context.Context, repo string, commit objects.ID) error
	CheckProof    func(ctx context.Context, repo string, commit objects.ID, proofs map[objects.ID]objects.ID) error
	Prove         func(ctx context.Context, repo string, commit objects.ID) error
	ZKSettings    func(name string, set map[string]string) (map[string]string, error)
	NFTHolder     func(ctx context.Context, mint objects.PublicKey, repoID objects.ID) (objects.PublicKey, error)
}

// withHooks serves opts.Root (a new temporary directory when empty)
// through a Hosting whose repositories call h, as fed serve's (package
// hosting) call proofs, zk settings and the chain.
func withHooks(t testing.TB, opts server.Options, h hooks) server.Options {
	t.Helper()
	if opts.Root == "" {
		opts.Root = t.TempDir()
	}
	f, err := server.NewFiles(opts.Root, nil)
	if err != nil {
		t.Fatal(err)
	}
	opts.Hosting = hookHosting{f, h}
	return opts
}

type hookHosting struct {
	*server.Files
	h hooks
}

func (hh hookHosting) Features() server.Features {
	return server.Features{RequireProofs: hh.h.RequireProofs != nil, CheckProof: hh.h.CheckProof != nil,
		Prove: hh.h.Prove != nil, ZKSettings: hh.h.ZKSettings != nil, NFTHolder: hh.h.NFTHolder != nil}
}

func (hh hookHosting) Open(ctx context.Context, name string) (server.Repository, error) {
	r, err := hh.Files.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	return hookRepo{r, name, hh.h}, nil
}

func (hh hookHosting) Create(ctx context.Context, name string, s repometa.Settings) (server.Repository, error) {
	r, err := hh.Files.Create(ctx, name, s)
	if err != nil {
		return nil, err
	}
	return hookRepo{r, name, hh.h}, nil
}

type hookRepo struct {
	server.Repository
	name string
	h    hooks
}

func (r hookRepo) RequireProofs(ctx context.Context, commit objects.ID) error {
	return r.h.RequireProofs(ctx, r.name, commit)
}

func (r hookRepo) CheckProof(ctx context.Context, commit objects.ID, proofs map[objects.ID]objects.ID) error {
	return r.h.CheckProof(ctx, r.name, commit, proofs)
}

func (r hookRepo) Prove(ctx context.Context, commit objects.ID) error {
	return r.h.Prove(ctx, r.name, commit)
}

func (r hookRepo) ZKSettings(_ context.Context, set map[string]string) (map[string]string, error) {
	return r.h.ZKSettings(r.name, set)
}

func (r hookRepo) NFTHolder(ctx context.Context, mint objects.PublicKey, repoID objects.ID) (objects.PublicKey, error) {
	return r.h.NFTHolder(ctx, mint, repoID)
}
