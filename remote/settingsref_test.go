package remote_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/remote"
)

// settingsVector is doc/vectors/settings-commit.json: a signed settings
// commit (doc/protocol.md §6.8.1) byte for byte.
type settingsVector struct {
	SeedHex    string            `json:"seed_hex"`
	Signer     string            `json:"signer"`
	Parent     objects.ID        `json:"parent"`
	Time       int64             `json:"time"`
	ZK         map[string]string `json:"zk"`
	EmptyTree  objects.ID        `json:"empty_tree"`
	TreeHex    string            `json:"empty_tree_hex"`
	CommitHex  string            `json:"commit_hex"`
	CommitID   objects.ID        `json:"commit_id"`
	SignedText string            `json:"signed_hex"`
}

func TestVectorsSettingsCommit(t *testing.T) {
	k := vecKey()
	zk := map[string]string{"zk.chunk": "8192", "zk.linf": "0.05", "zk.vk": vecID("vk").String()}
	parent := vecID("settings before")
	if *update {
		c := remote.NewSettingsCommit(zk, parent, 1_740_830_405)
		if err := objects.SignCommit(c, k); err != nil {
			t.Fatal(err)
		}
		b, err := objects.Encode(c)
		if err != nil {
			t.Fatal(err)
		}
		signed, _ := c.Signed()
		tree, tb := remote.EmptyTree()
		writeVector(t, "settings-commit.json", settingsVector{SeedHex: hex.EncodeToString(bytes.Repeat([]byte{7}, 32)), Signer: k.Public().String(),
			Parent: parent, Time: c.Time, ZK: zk, EmptyTree: tree, TreeHex: hex.EncodeToString(tb), CommitHex: hex.EncodeToString(b), CommitID: objects.Sum(b), SignedText: hex.EncodeToString(signed)})
	}
	var v settingsVector
	readVector(t, "settings-commit.json", &v)
	tree, tb := remote.EmptyTree()
	if tree != v.EmptyTree || hex.EncodeToString(tb) != v.TreeHex {
		t.Fatalf("empty tree %s, vector %s", tree, v.EmptyTree)
	}
	c := remote.NewSettingsCommit(v.ZK, v.Parent, v.Time)
	if err := objects.SignCommit(c, k); err != nil {
		t.Fatal(err)
	}
	b, _ := objects.Encode(c)
	if hex.EncodeToString(b) != v.CommitHex || objects.Sum(b) != v.CommitID || c.Author.String() != v.Signer {
		t.Fatalf("settings commit %x, vector %s", b, v.CommitHex)
	}
	raw, _ := hex.DecodeString(v.CommitHex)
	o, err := objects.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	got, err := remote.ParseSettingsCommit(o.(*objects.Commit))
	if err != nil || len(got) != len(v.ZK) || got["zk.linf"] != "0.05" {
		t.Fatalf("parse vector: %v %v", got, err)
	}
	// a changed value no longer verifies
	o.(*objects.Commit).Meta[2].Value = "10"
	if _, err := remote.ParseSettingsCommit(o.(*objects.Commit)); !errors.Is(err, remote.ErrBadSettings) {
		t.Fatalf("tampered settings: %v", err)
	}
}
