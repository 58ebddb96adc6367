package hosting_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"math"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fed-vcs/fed/codec"
	"github.com/fed-vcs/fed/codec/safetensors"
	"github.com/fed-vcs/fed/hosting"
	"github.com/fed-vcs/fed/internal/s3test"
	"github.com/fed-vcs/fed/internal/testpg"
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/objects/s3store"
	"github.com/fed-vcs/fed/refs"
	"github.com/fed-vcs/fed/remote"
	"github.com/fed-vcs/fed/remote/server"
	"github.com/fed-vcs/fed/remote/server/pgstore"
	"github.com/fed-vcs/fed/repo"
	"github.com/fed-vcs/fed/repometa"
	"github.com/fed-vcs/fed/zk"
)

// openDB opens the database at url with its schema up to date, closed at
// the end of the test.
func openDB(t *testing.T, url string) *pgstore.DB {
	t.Helper()
	db, err := pgstore.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	if _, _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db
}

// stalled is a Host whose repositories start every proof and never finish
// it: a replica that is lost while it proves.
type stalled struct {
	*hosting.Host
	took chan objects.ID
}

type stalledRepo struct {
	server.Repository
	took chan objects.ID
}

func (s stalled) Open(ctx context.Context, name string) (server.Repository, error) {
	r, err := s.Host.Open(ctx, name)
	return stalledRepo{r, s.took}, err
}

func (s stalled) Create(ctx context.Context, name string, m repometa.Settings) (server.Repository, error) {
	r, err := s.Host.Create(ctx, name, m)
	return stalledRepo{r, s.took}, err
}

func (r stalledRepo) Prove(ctx context.Context, commit objects.ID) error {
	r.took <- commit
	<-ctx.Done()
	return ctx.Err()
}

// modelCommit commits a small model (one F32 tensor of 32 values, two
// chunks of 16) in a new repository signed by key.
func modelCommit(t *testing.T, key *objects.Keypair) (*repo.Repo, objects.ID) {
	t.Helper()
	r, err := repo.Init(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	r.Key = key
	b := make([]byte, 4*32)
	for i := range 32 {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(float32(i)/64))
	}
	var buf bytes.Buffer
	ts := []safetensors.WriteTensor{{Info: codec.TensorInfo{Name: "w", DType: objects.F32, Shape: []uint64{8, 4}}, Data: bytes.NewReader(b), Len: int64(len(b))}}
	if err := safetensors.Write(&buf, nil, ts); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(r.Root, "m.safetensors"), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := r.Add(ctx, []string{r.Root}, repo.AddOptions{}); err != nil {
		t.Fatal(err)
	}
	id, err := r.Commit(ctx, repo.CommitOptions{Message: "global"})
	if err != nil {
		t.Fatal(err)
	}
	return r, id
}

// s3Objects keeps repository NAME's objects under PREFIX/NAME.fed/objects/
// of a bucket, as fed serve --objects does.
type s3Objects struct{ cfg s3store.Config }

func (o s3Objects) Open(ctx context.Context, name string, create bool) (server.ObjectStore, error) {
	cfg := o.cfg
	cfg.Prefix += name + ".fed/objects/"
	return s3store.Open(cfg)
}

func (o s3Objects) Check(ctx context.Context) error {
	s, err := s3store.Open(o.cfg)
	if err != nil {
		return err
	}
	return s.Check(ctx)
}

// TestProvingSurvivesReplicaLoss: fed serve --db --prove on two replicas
// over one database and one object directory, with the proof hooks of
// this package. A commit pushed without a proof through replica A is
// queued in the database; A takes the job and is lost while proving it
// (its database session ends, its prover stops); replica B takes the job
// and proves the commit: its proof ref is in the database, and it
// verifies, for B and for A alike.
func TestProvingSurvivesReplicaLoss(t *testing.T) {
	provingSurvivesReplicaLoss(t, pgstore.DiskObjects{Root: t.TempDir()})
}

// TestProvingSurvivesReplicaLossS3 is TestProvingSurvivesReplicaLoss with
// the objects in a bucket of a real S3 server (versitygw): fed serve --db
// --objects s3://… --prove.
func TestProvingSurvivesReplicaLossS3(t *testing.T) {
	// s3test.Start skips, saying so, without versitygw
	provingSurvivesReplicaLoss(t, s3Objects{s3test.Start(t).Bucket(t, "fed-objects", "prod/")})
}

func provingSurvivesReplicaLoss(t *testing.T, objs pgstore.ObjectStores) {
	ctx := context.Background()
	url := testpg.DB(t)
	root := t.TempDir()
	cache := zk.NewCache(t.TempDir())
	replica := func(stall chan objects.ID) (*server.Server, string) {
		db := openDB(t, url)
		h, err := hosting.New(hosting.Options{Storage: db.Hosting(objs), ZK: true,
			VerifyCache: cache, ProveCache: cache, ProveSetup: true})
		if err != nil {
			t.Fatal(err)
		}
		var hs server.Hosting = h
		if stall != nil {
			hs = stalled{h, stall}
		}
		s, err := server.New(server.Options{Hosting: hs, Root: root, Sessions: db.Sessions(), Jobs: db.Jobs(),
			GCInterval: -1, Rate: 1e6, Burst: 1e6})
		if err != nil {
			t.Fatal(err)
		}
		ts := httptest.NewServer(s)
		t.Cleanup(ts.Close)
		return s, ts.URL
	}
	took := make(chan objects.ID, 1)
	sa, urlA := replica(took)
	sb, urlB := replica(nil)
	ctxA, stopA := context.WithCancel(ctx)
	doneA := make(chan struct{})
	go func() { sa.RunProver(ctxA); close(doneA) }()
	defer func() { stopA(); <-doneA }()

	// the owner pushes a model commit without a proof through A, and sets
	// the zk settings the server proves with (kept in the database)
	key := objects.KeypairFromSeed(bytes.Repeat([]byte{1}, 32))
	local, commit := modelCommit(t, key)
	disk, err := local.Disk()
	if err != nil {
		t.Fatal(err)
	}
	var ids []objects.ID
	if err := disk.List(ctx, func(id objects.ID) error { ids = append(ids, id); return nil }); err != nil {
		t.Fatal(err)
	}
	ca, err := remote.New(urlA+"/lab/m", remote.Options{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ca.SendMissing(ctx, disk, ids); err != nil {
		t.Fatal(err)
	}
	if _, err := ca.UpdateSettings(ctx, remote.SettingsUpdate{ZK: map[string]string{"zk.chunk": "16"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ca.UpdateRefs(ctx, []remote.RefUpdate{{Name: "refs/heads/main", New: commit}}); err != nil {
		t.Fatal(err)
	}
	wait := func(what string, ch <-chan objects.ID) objects.ID {
		select {
		case id := <-ch:
			return id
		case <-time.After(2 * time.Minute): // a bound against hanging, not a measurement
			t.Fatalf("no %s within two minutes", what)
		}
		return objects.ZeroID
	}
	if got := wait("proving at A", took); got != commit {
		t.Fatalf("A proves %s, want %s", got.Short(), commit.Short())
	}
	// A is lost: the database ends its session (and with it A's hold on
	// the job), and its prover stops.
	out, err := exec.Command(filepath.Join(testpg.Bin(), "psql"), "-X", "-A", "-t", url, "-c",
		`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND state LIKE 'idle in transaction%'`).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "1" {
		t.Fatalf("ending A's session: %v: %s (want 1 session ended)", err, out)
	}
	stopA()
	<-doneA

	ctxB, stopB := context.WithCancel(ctx)
	doneB := make(chan struct{})
	go func() { sb.RunProver(ctxB); close(doneB) }()
	defer func() { stopB(); <-doneB }()
	proofRef := refs.Name(remote.ProofsPrefix + commit.String())
	db := openDB(t, url)
	rb, err := db.OpenRepo(ctx, "lab/m")
	if err != nil {
		t.Fatal(err)
	}
	proven := make(chan objects.ID, 1)
	go func() {
		for ctxB.Err() == nil {
			if id, err := rb.Refs().Read(ctx, proofRef); err == nil {
				proven <- id
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	proof := wait("proof from B", proven)
	if n := sb.ProveQueueLen(); n != 0 {
		t.Fatalf("the queue holds %d jobs after B proved the only one", n)
	}
	// B's proof is a valid proof of the commit, as the hooks of either
	// replica verify it
	for name, u := range map[string]string{"A": urlA, "B": urlB} {
		c, err := remote.New(u+"/lab/m", remote.Options{Key: key})
		if err != nil {
			t.Fatal(err)
		}
		list, err := c.Refs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, r := range list.Refs {
			found = found || r.Name == string(proofRef) && r.ID == proof
		}
		if !found {
			t.Errorf("replica %s does not list %s -> %s", name, proofRef, proof.Short())
		}
	}
	hb, err := hosting.New(hosting.Options{Storage: db.Hosting(objs), VerifyCache: cache, RequireProofs: true})
	if err != nil {
		t.Fatal(err)
	}
	r, err := hb.Open(ctx, "lab/m")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.RequireProofs(ctx, commit); err != nil {
		t.Fatalf("B's proof does not verify: %v", err)
	}
}
