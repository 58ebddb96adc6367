package nftlink

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fed-vcs/fed/nft"
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/refs"
	"github.com/fed-vcs/fed/repo"
)

// newRepo makes a repository with a key and two commits; it returns the
// root commit and the second.
func newRepo(t *testing.T) (r *repo.Repo, root, second objects.ID) {
	t.Helper()
	ctx := context.Background()
	r, err := repo.Init(filepath.Join(t.TempDir(), "model"))
	if err != nil {
		t.Fatal(err)
	}
	r.Key = objects.KeypairFromSeed(bytes.Repeat([]byte{3}, 32))
	clock := time.Unix(1_700_000_000, 0)
	r.Now = func() time.Time { clock = clock.Add(time.Minute); return clock }
	if _, err := RepoID(ctx, r); !errors.Is(err, repo.ErrUnknownRev) {
		t.Fatalf("RepoID without commits: %v, want ErrUnknownRev", err)
	}
	var ids []objects.ID
	for _, text := range []string{"one\n", "two\n"} {
		if err := os.WriteFile(filepath.Join(r.Root, "notes.txt"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := r.Add(ctx, []string{r.Root}, repo.AddOptions{}); err != nil {
			t.Fatal(err)
		}
		id, err := r.Commit(ctx, repo.CommitOptions{Message: strings.TrimSpace(text)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return r, ids[0], ids[1]
}

func TestRepoIDAndMintOptions(t *testing.T) {
	ctx := context.Background()
	r, root, second := newRepo(t)
	if id, err := RepoID(ctx, r); err != nil || id != root {
		t.Fatalf("RepoID = %s, %v; want the root commit %s", id.Short(), err, root.Short())
	}
	if err := r.RemoteAdd("mirror", "https://mirror.example/lab/model"); err != nil {
		t.Fatal(err)
	}
	if err := r.RemoteAdd(repo.DefaultRemote, "https://fed.example/lab/model"); err != nil {
		t.Fatal(err)
	}
	o, err := MintOptions(ctx, r, "")
	if err != nil || o.Name != "fed: model" || o.Symbol != "FED" || o.URI != "https://fed.example/lab/model/-/nft.json" || len(o.Fields) != 1 || o.Fields[0] != (nft.Field{Key: nft.FieldRepo, Value: root.String()}) {
		t.Fatalf("repository NFT: %+v, %v", o, err)
	}
	if _, err := MintOptions(ctx, r, "v1"); !errors.Is(err, repo.ErrUnknownRev) {
		t.Fatalf("release without its tag: %v", err)
	}
	if err := r.Refs.Update(refs.Tag("v1"), objects.ZeroID, second, r.Entry("tag")); err != nil {
		t.Fatal(err)
	}
	c, err := objects.ReadCommit(ctx, r.Objects, second)
	if err != nil {
		t.Fatal(err)
	}
	o, err = MintOptions(ctx, r, "v1")
	want := []nft.Field{{Key: nft.FieldRepo, Value: root.String()}, {Key: nft.FieldTag, Value: "v1"}, {Key: nft.FieldCommit, Value: second.String()}, {Key: nft.FieldTree, Value: c.Tree.String()}}
	if err != nil || o.Name != "fed: model v1" || len(o.Fields) != len(want) {
		t.Fatalf("release NFT: %+v, %v", o, err)
	}
	for i := range want {
		if o.Fields[i] != want[i] {
			t.Errorf("field %d = %+v, want %+v", i, o.Fields[i], want[i])
		}
	}
}

// The uri is the metadata document of an http(s) remote, else empty; a
// uri given must be an http(s) URL that fits the metadata.
func TestMetadataURI(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:8417/lab/model":                        "http://127.0.0.1:8417/lab/model/-/nft.json",
		"https://fed.example/lab/model/":                         "https://fed.example/lab/model/-/nft.json",
		"/srv/models/lab":                                        "",
		"file:///srv/models/lab":                                 "",
		"https://fed.example/" + strings.Repeat("a", nft.MaxURI): "",
	} {
		if got := MetadataURI(in, ""); got != want {
			t.Errorf("MetadataURI(%q) = %q, want %q", in, got, want)
		}
	}
	if got := MetadataURI("https://fed.example/lab/model", "rc/1.0"); got != "https://fed.example/lab/model/-/nft/rc%2F1.0.json" {
		t.Errorf("release uri %q", got)
	}
	if err := ValidateURI("https://fed.example/x.json"); err != nil {
		t.Errorf("a good uri: %v", err)
	}
	for _, bad := range []string{"ftp://fed.example/x", "fed.example/x", "https://", "https://fed.example/" + strings.Repeat("a", nft.MaxURI)} {
		if err := ValidateURI(bad); err == nil {
			t.Errorf("ValidateURI(%q) accepted it", bad)
		}
	}
}

func TestMintOf(t *testing.T) {
	r, _, _ := newRepo(t)
	if _, err := MintOf(r, ""); !errors.Is(err, ErrNoNFT) || !strings.Contains(err.Error(), ConfigNFTMint) {
		t.Errorf("no mint: %v", err)
	}
	if _, err := MintOf(r, "v1"); !errors.Is(err, ErrNoNFT) || !strings.Contains(err.Error(), ReleaseNFTKey("v1")) {
		t.Errorf("no release mint: %v", err)
	}
	k := objects.KeypairFromSeed(bytes.Repeat([]byte{9}, 32)).Public()
	if err := r.Config.Set(ConfigNFTMint, k.String()); err != nil {
		t.Fatal(err)
	}
	if got, err := MintOf(r, ""); err != nil || got != k {
		t.Errorf("MintOf = %s, %v; want %s", got, err, k)
	}
	if err := r.Config.Set(ReleaseNFTKey("v1"), "not-a-key"); err != nil {
		t.Fatal(err)
	}
	if _, err := MintOf(r, "v1"); err == nil || errors.Is(err, ErrNoNFT) || !strings.Contains(err.Error(), "config "+ReleaseNFTKey("v1")) {
		t.Errorf("bad release mint: %v", err)
	}
}

func TestAnchorsFile(t *testing.T) {
	r, root, second := newRepo(t)
	if list, err := Anchors(r); err != nil || len(list) != 0 {
		t.Fatalf("no anchors file: %v, %v", list, err)
	}
	path := filepath.Join(r.Dir, "anchors")
	if err := os.WriteFile(path, []byte(root.String()+" sig1\n\n"+second.String()+" sig2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	list, err := Anchors(r)
	if err != nil || len(list) != 2 || list[0] != (AnchorEntry{root, "sig1"}) || list[1] != (AnchorEntry{second, "sig2"}) {
		t.Fatalf("anchors %+v, %v", list, err)
	}
	if err := os.WriteFile(path, []byte(root.String()+" sig1\n"+second.String()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Anchors(r); err == nil || !strings.Contains(err.Error(), path+" line 2") {
		t.Errorf("line without a signature: %v", err)
	}
}
