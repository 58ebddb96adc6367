package governance

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"testing"

	"github.com/fed-vcs/fed/objects"
)

var update = flag.Bool("update", false, "rewrite doc/vectors/governance-records.json")

const vectorFile = "../doc/vectors/governance-records.json"

type vector struct {
	Kind      string `json:"kind"`
	SeedHex   string `json:"seed_hex"`
	Signer    string `json:"signer"`
	CommitHex string `json:"commit_hex"` // the record's canonical encoding (design §3–§4)
	ID        string `json:"id"`
	SignedHex string `json:"signed_hex"` // the bytes the signature covers
}

// TestVectors: doc/vectors/governance-records.json holds one record of
// each kind byte for byte, as Sign writes it from fixed inputs and Parse
// reads it; another implementation can check itself against it.
func TestVectors(t *testing.T) {
	seed := bytes.Repeat([]byte{7}, 32)
	k := objects.KeypairFromSeed(seed)
	var vs []vector
	for _, r := range samples(t) {
		c, err := Sign(r, k)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := objects.Encode(c)
		signed, _ := c.Signed()
		vs = append(vs, vector{Kind: r.Kind(), SeedHex: hex.EncodeToString(seed), Signer: k.Public().String(), CommitHex: hex.EncodeToString(b), ID: objects.Sum(b).String(), SignedHex: hex.EncodeToString(signed)})
		if _, err := Parse(objects.Sum(b), c); err != nil {
			t.Fatalf("%s: %v", r.Kind(), err)
		}
	}
	got, _ := json.MarshalIndent(vs, "", "  ")
	got = append(got, '\n')
	if *update {
		if err := os.WriteFile(vectorFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(vectorFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from what this fed writes (go test -run TestVectors -update rewrites it)", vectorFile)
	}
}
