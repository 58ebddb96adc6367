package hosting_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fed-vcs/fed/hosting"
	"github.com/fed-vcs/fed/nft"
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/refs"
	"github.com/fed-vcs/fed/remote/server"
	"github.com/fed-vcs/fed/repometa"
	"github.com/fed-vcs/fed/zk"
)

func files(t *testing.T) *server.Files {
	t.Helper()
	f, err := server.NewFiles(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func create(t *testing.T, h *hosting.Host, name string) server.Repository {
	t.Helper()
	r, err := h.Create(context.Background(), name, repometa.Settings{Owner: "Own", Created: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestNewRefuses(t *testing.T) {
	if _, err := hosting.New(hosting.Options{}); err == nil {
		t.Error("New without storage succeeded")
	}
	if _, err := hosting.New(hosting.Options{Storage: files(t), RequireProofs: true}); err == nil {
		t.Error("New requiring proofs without a key cache succeeded")
	}
}

// Features follow the options, and a hook that is off says so.
func TestFeatures(t *testing.T) {
	ctx := context.Background()
	h, err := hosting.New(hosting.Options{Storage: files(t)})
	if err != nil {
		t.Fatal(err)
	}
	if f := h.Features(); f != (server.Features{}) {
		t.Fatalf("Features without options = %+v, want none", f)
	}
	r := create(t, h, "lab/m")
	id := objects.Sum([]byte("x"))
	for name, err := range map[string]error{
		"RequireProofs": r.RequireProofs(ctx, id),
		"CheckProof":    r.CheckProof(ctx, id, nil),
		"Prove":         r.Prove(ctx, id),
	} {
		if !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("%s of a Host without it: %v, want errors.ErrUnsupported", name, err)
		}
	}
	if _, err := r.ZKSettings(ctx, nil); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("ZKSettings of a Host without it: %v", err)
	}
	if _, err := r.NFTHolder(ctx, objects.PublicKey{}, id); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("NFTHolder of a Host without it: %v", err)
	}

	cache := zk.NewCache(t.TempDir())
	h, err = hosting.New(hosting.Options{Storage: files(t), VerifyCache: cache, RequireProofs: true, ProveCache: cache, ZK: true, NFT: nft.NewHolderCache("http://127.0.0.1:1", time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	want := server.Features{RequireProofs: true, CheckProof: true, Prove: true, ZKSettings: true, NFTHolder: true}
	if f := h.Features(); f != want {
		t.Fatalf("Features = %+v, want %+v", f, want)
	}
}

// The hooks work on the repository's stores as the server opened them:
// a commit written into an open upload batch (not yet published on disk)
// is what CheckProof reads, and lacking a proof it is refused.
func TestHooksShareTheOpenStores(t *testing.T) {
	ctx := context.Background()
	h, err := hosting.New(hosting.Options{Storage: files(t), VerifyCache: zk.NewCache(t.TempDir()), RequireProofs: true})
	if err != nil {
		t.Fatal(err)
	}
	r := create(t, h, "lab/m")
	st := r.Objects()
	b := st.(interface {
		BeginBatch()
		EndBatch() error
	})
	b.BeginBatch()
	defer b.EndBatch()
	tree, err := objects.Write(ctx, st, &objects.Tree{})
	if err != nil {
		t.Fatal(err)
	}
	c := &objects.Commit{Tree: tree, Time: 1_700_000_000, Message: "first"}
	if err := objects.SignCommit(c, objects.KeypairFromSeed(bytes.Repeat([]byte{1}, 32))); err != nil {
		t.Fatal(err)
	}
	id, err := objects.Write(ctx, st, c)
	if err != nil {
		t.Fatal(err)
	}
	err = r.RequireProofs(ctx, id)
	t.Logf("RequireProofs: %v", err)
	if err == nil || !strings.Contains(err.Error(), "no proof") {
		t.Fatalf("RequireProofs of a commit without a proof: %v, want a refusal naming the missing proof", err)
	}
	if errors.Is(err, objects.ErrNotFound) {
		t.Fatalf("RequireProofs did not see the commit of the open batch: %v", err)
	}
}

// zk settings live in the repository's config: a change is saved, a value
// the parser refuses saves nothing, and an edit by the administrator is
// seen at the next call.
func TestZKSettings(t *testing.T) {
	ctx := context.Background()
	fs := files(t)
	h, err := hosting.New(hosting.Options{Storage: fs, ZK: true})
	if err != nil {
		t.Fatal(err)
	}
	r := create(t, h, "lab/z")
	got, err := r.ZKSettings(ctx, map[string]string{"zk.linf": "0.5", "zk.chunk": "16"})
	if want := map[string]string{"zk.linf": "0.5", "zk.chunk": "16"}; err != nil || !maps.Equal(got, want) {
		t.Fatalf("ZKSettings change = %v, %v; want %v", got, err, want)
	}
	config := filepath.Join(fs.Dir("lab/z"), "config")
	before, err := os.ReadFile(config)
	if err != nil || !strings.Contains(string(before), "linf = 0.5") {
		t.Fatalf("config after the change: %q, %v", before, err)
	}
	if _, err := r.ZKSettings(ctx, map[string]string{"zk.linf": "-1"}); err == nil {
		t.Fatal("a negative zk.linf was taken")
	}
	if after, _ := os.ReadFile(config); !bytes.Equal(after, before) {
		t.Fatalf("a refused change rewrote the config:\n%s", after)
	}
	if err := os.WriteFile(config, []byte("[zk]\n\tchunk = 32\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err = r.ZKSettings(ctx, nil)
	if want := map[string]string{"zk.chunk": "32"}; err != nil || !maps.Equal(got, want) {
		t.Fatalf("ZKSettings after the administrator's edit = %v, %v; want %v", got, err, want)
	}
	// removing a key
	got, err = r.ZKSettings(ctx, map[string]string{"zk.chunk": ""})
	if err != nil || len(got) != 0 {
		t.Fatalf("ZKSettings removing zk.chunk = %v, %v", got, err)
	}
}

// fed serve's NFT lookup marks an unreachable node as
// server.ErrChainUnavailable (503, retried), so the server fails closed
// without telling a holder "forbidden".
func TestNFTHolderUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	h, err := hosting.New(hosting.Options{Storage: files(t), NFT: nft.NewHolderCache("http://"+addr, time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	r := create(t, h, "lab/n")
	mint := objects.KeypairFromSeed(make([]byte, 32)).Public()
	_, err = r.NFTHolder(context.Background(), mint, objects.Sum([]byte("root")))
	if !errors.Is(err, server.ErrChainUnavailable) || !errors.Is(err, nft.ErrUnreachable) {
		t.Fatalf("lookup on a dead node: %v, want server.ErrChainUnavailable and nft.ErrUnreachable", err)
	}
}

// Open finds what Create made, with its storage.
func TestOpen(t *testing.T) {
	ctx := context.Background()
	h, err := hosting.New(hosting.Options{Storage: files(t)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Open(ctx, "lab/none"); !errors.Is(err, repometa.ErrNotFound) {
		t.Fatalf("Open of a repository that does not exist: %v, want repometa.ErrNotFound", err)
	}
	create(t, h, "lab/m")
	r, err := h.Open(ctx, "lab/m")
	if err != nil {
		t.Fatal(err)
	}
	if hd, err := r.Refs().Head(ctx); err != nil || hd.Symbolic != refs.Branch("main") {
		t.Fatalf("HEAD of a new repository = %+v, %v", hd, err)
	}
	if s, err := r.Meta().Settings(ctx); err != nil || s.Owner != "Own" {
		t.Fatalf("settings = %+v, %v", s, err)
	}
	if names, err := h.Names(ctx); err != nil || len(names) != 1 || names[0] != "lab/m" {
		t.Fatalf("Names = %v, %v", names, err)
	}
}

// jsonZK keeps zk settings in a JSON file of the repository directory,
// standing in for a database column.
type jsonZK struct{}

func (jsonZK) ReadZK(dir string) (map[string]string, error) {
	b, err := os.ReadFile(filepath.Join(dir, "zk.json"))
	if errors.Is(err, os.ErrNotExist) {
		return map[string]string{}, nil
	}
	m := map[string]string{}
	if err == nil {
		err = json.Unmarshal(b, &m)
	}
	return m, err
}

func (z jsonZK) WriteZK(dir string, set map[string]string) error {
	cur, err := z.ReadZK(dir)
	if err != nil {
		return err
	}
	b, _ := json.Marshal(repometa.ApplyZK(cur, set))
	return os.WriteFile(filepath.Join(dir, "zk.json"), b, 0o644)
}

// elsewhere is storage whose repositories are not directories (as with
// refs in PostgreSQL): their refs are a refs.Backend that is not files.
type elsewhere struct{ *server.Files }

type elsewhereRepo struct{ server.Repository }

type notFiles struct{ refs.Backend }

func (r elsewhereRepo) Refs() refs.Backend { return notFiles{r.Repository.Refs()} }

func (e elsewhere) Open(ctx context.Context, name string) (server.Repository, error) {
	r, err := e.Files.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	return elsewhereRepo{r}, nil
}

func (e elsewhere) Create(ctx context.Context, name string, s repometa.Settings) (server.Repository, error) {
	r, err := e.Files.Create(ctx, name, s)
	if err != nil {
		return nil, err
	}
	return elsewhereRepo{r}, nil
}

// On storage that is not repository directories, the proof hooks work
// on the repository's stores (repo.OpenHosted) and fail closed, and zk
// settings live in the repository's records, checked as fed config checks
// them.
func TestOtherStorage(t *testing.T) {
	ctx := context.Background()
	f, err := server.NewFiles(t.TempDir(), jsonZK{})
	if err != nil {
		t.Fatal(err)
	}
	st := elsewhere{f}
	cache := zk.NewCache(t.TempDir())
	h, err := hosting.New(hosting.Options{Storage: st, VerifyCache: cache, RequireProofs: true, ProveCache: cache, ZK: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := (server.Features{RequireProofs: true, CheckProof: true, Prove: true, ZKSettings: true}); h.Features() != want {
		t.Fatalf("Features = %+v, want %+v", h.Features(), want)
	}
	r := create(t, h, "lab/pg")
	tree, err := objects.Write(ctx, r.Objects(), &objects.Tree{})
	if err != nil {
		t.Fatal(err)
	}
	c := &objects.Commit{Tree: tree, Time: 1_700_000_000, Message: "first"}
	if err := objects.SignCommit(c, objects.KeypairFromSeed(bytes.Repeat([]byte{1}, 32))); err != nil {
		t.Fatal(err)
	}
	id, err := objects.Write(ctx, r.Objects(), c)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.RequireProofs(ctx, id); err == nil || !strings.Contains(err.Error(), "no proof") {
		t.Fatalf("RequireProofs of a commit without a proof: %v, want a refusal naming the missing proof", err)
	}
	if err := r.CheckProof(ctx, id, map[objects.ID]objects.ID{id: tree}); err == nil {
		t.Fatal("CheckProof took a tree for a proof")
	}
	// no zk settings: nothing to prove with, nothing proven
	if err := r.Prove(ctx, id); err != nil {
		t.Fatalf("Prove without zk settings: %v", err)
	}
	if _, err := r.Refs().Read(ctx, refs.Name("refs/proofs/"+id.String())); !errors.Is(err, refs.ErrNotFound) {
		t.Fatalf("a proof ref after Prove without zk settings: %v", err)
	}
	got, err := r.ZKSettings(ctx, map[string]string{"zk.linf": "0.5", "zk.chunk": "16"})
	if want := map[string]string{"zk.linf": "0.5", "zk.chunk": "16"}; err != nil || !maps.Equal(got, want) {
		t.Fatalf("ZKSettings change = %v, %v; want %v", got, err, want)
	}
	for _, bad := range []map[string]string{{"zk.linf": "-1"}, {"zk.chunk": "x"}, {"core.other": "1"}} {
		if _, err := r.ZKSettings(ctx, bad); err == nil {
			t.Errorf("ZKSettings(%v) was taken", bad)
		}
	}
	got, err = r.Meta().ZK(ctx)
	if want := map[string]string{"zk.linf": "0.5", "zk.chunk": "16"}; err != nil || !maps.Equal(got, want) {
		t.Fatalf("zk settings in the records after refused changes = %v, %v; want %v", got, err, want)
	}
	if got, err := r.ZKSettings(ctx, nil); err != nil || len(got) != 2 {
		t.Fatalf("ZKSettings read = %v, %v", got, err)
	}
}
