package nft

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gagliardetto/solana-go"
	"github.com/google/go-cmp/cmp"

	"github.com/fed-vcs/fed/internal/testchain"
	"github.com/fed-vcs/fed/objects"
)

// These tests run the real Token-2022, ATA, System and Memo programs on
// the local chain (testdata/chain); they skip only when node is missing.

func key(n byte) *objects.Keypair { return objects.KeypairFromSeed(bytes.Repeat([]byte{n}, 32)) }

func funded(t *testing.T, c *Client, k *objects.Keypair) {
	t.Helper()
	if err := c.Airdrop(context.Background(), k.Public(), 2_000_000_000); err != nil {
		t.Fatalf("airdrop: %v", err)
	}
}

func testClient(t *testing.T) *Client {
	c := NewClient(testchain.Run(t))
	c.PollInterval = 20 * time.Millisecond
	t.Cleanup(func() { c.Close() })
	return c
}

func hexID(b byte) objects.ID {
	var id objects.ID
	for i := range id {
		id[i] = b
	}
	return id
}

func TestMintShowTransfer(t *testing.T) {
	ctx := context.Background()
	c := testClient(t)
	alice, bob := key(1), key(2)
	funded(t, c, alice)
	funded(t, c, bob)

	fields := []Field{{FieldRepo, hexID(0xab).String()}}
	res, err := c.Mint(ctx, alice, MintOptions{Name: "fed: demo", Symbol: "FED", URI: "http://127.0.0.1:1/demo", Fields: fields})
	if err != nil {
		t.Fatalf("mint: %v", err)
	}
	if len(res.Signatures) != 1 {
		t.Errorf("mint took %d transactions, want 1", len(res.Signatures))
	}
	info, err := c.Show(ctx, res.Mint)
	if err != nil {
		t.Fatalf("show: %v", err)
	}
	want := &Metadata{UpdateAuthority: alice.Public(), Mint: res.Mint, Name: "fed: demo", Symbol: "FED", URI: "http://127.0.0.1:1/demo", Fields: fields}
	if d := cmp.Diff(want, info.Metadata); d != "" {
		t.Errorf("metadata (-want +got):\n%s", d)
	}
	if _, data, err := c.account(ctx, toSolana(res.Mint)); err != nil || len(data) != mintLenWithMetadata(want) {
		t.Errorf("mint account: %d bytes, %v; want %d", len(data), err, mintLenWithMetadata(want))
	}
	if info.Supply != 1 || info.Decimals != 0 || info.MintAuthority != nil || info.FreezeAuthority != nil {
		t.Errorf("mint: supply %d decimals %d authority %v freeze %v; want 1, 0, none, none", info.Supply, info.Decimals, info.MintAuthority, info.FreezeAuthority)
	}
	if info.Holder != alice.Public() || info.TokenAccount != res.TokenAccount || len(info.Problems) != 0 {
		t.Errorf("holder %s account %s problems %q; want %s %s none", info.Holder, info.TokenAccount, info.Problems, alice.Public(), res.TokenAccount)
	}

	// Only the holder may transfer.
	if _, err := c.Transfer(ctx, bob, res.Mint, bob.Public()); !errors.Is(err, ErrNotHolder) {
		t.Fatalf("transfer by a non-holder: %v, want ErrNotHolder", err)
	}
	if _, err := c.Transfer(ctx, alice, res.Mint, bob.Public()); err != nil {
		t.Fatalf("transfer: %v", err)
	}
	h, err := c.Holder(ctx, res.Mint)
	if err != nil || h != bob.Public() {
		t.Fatalf("holder after transfer = %s, %v; want %s", h, err, bob.Public())
	}
	info, err = c.Show(ctx, res.Mint)
	if err != nil {
		t.Fatal(err)
	}
	if info.Metadata.UpdateAuthority != bob.Public() || len(info.Problems) != 0 {
		t.Errorf("after transfer: update authority %s, problems %q; want %s, none", info.Metadata.UpdateAuthority, info.Problems, bob.Public())
	}
	// The old holder can no longer rewrite the metadata.
	_, err = c.send(ctx, "rewrite", []solana.Instruction{updateMetadataField(toSolana(res.Mint), toSolana(alice.Public()), FieldRepo, "forged")}, alice)
	var te *TxError
	if !errors.As(err, &te) || !errors.Is(err, ErrRejected) || len(te.Logs) == 0 {
		t.Fatalf("rewrite by the old holder: %v, want a rejected transaction with logs", err)
	}
	// The old token account was closed: its rent went back.
	if _, _, err := c.account(ctx, toSolana(res.TokenAccount)); !errors.Is(err, ErrNotFound) {
		t.Errorf("old token account: %v, want ErrNotFound", err)
	}
	// And back: the new holder transfers with the same rights.
	if _, err := c.Transfer(ctx, bob, res.Mint, alice.Public()); err != nil {
		t.Fatalf("transfer back: %v", err)
	}
	if h, err := Holder(ctx, c.URL(), res.Mint); err != nil || h != alice.Public() {
		t.Fatalf("Holder = %s, %v; want %s", h, err, alice.Public())
	}
}

func TestMintReleaseFields(t *testing.T) {
	ctx := context.Background()
	c := testClient(t)
	alice := key(3)
	funded(t, c, alice)
	fields := []Field{
		{FieldRepo, hexID(1).String()}, {FieldTag, "v1.0"},
		{FieldCommit, hexID(2).String()}, {FieldTree, hexID(3).String()},
	}
	// A long URI pushes the fields into a second transaction.
	uri := "https://models.example.org/" + strings.Repeat("x", MaxURI-27)
	res, err := c.Mint(ctx, alice, MintOptions{Name: "fed: demo v1.0", Symbol: "FED", URI: uri, Fields: fields})
	if err != nil {
		t.Fatalf("mint: %v", err)
	}
	info, err := c.Show(ctx, res.Mint)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(fields, info.Metadata.Fields); d != "" {
		t.Errorf("fields (-want +got):\n%s", d)
	}
	if info.Metadata.URI != uri || len(info.Problems) != 0 {
		t.Errorf("uri %q problems %q", info.Metadata.URI, info.Problems)
	}
	t.Logf("release NFT with a %d-byte uri took %d transactions", len(uri), len(res.Signatures))
}

func TestAnchor(t *testing.T) {
	ctx := context.Background()
	c := testClient(t)
	alice := key(4)
	funded(t, c, alice)
	recs := []AnchorRecord{
		{Repo: hexID(9), Commit: hexID(10)},
		{Repo: hexID(9), Commit: hexID(11), ZKRoot: strings.Repeat("0f", 32)}, // a memo over 128 bytes
		{Repo: hexID(8), Commit: hexID(12)},
	}
	var sigs []string
	for _, r := range recs {
		a, err := c.Anchor(ctx, alice, r)
		if err != nil {
			t.Fatalf("anchor %+v: %v", r, err)
		}
		if a.AnchorRecord != r || a.Signer != alice.Public() || a.Time.IsZero() || a.Slot == 0 {
			t.Errorf("anchor read back = %+v, want %+v by %s with a time", a, r, alice.Public())
		}
		sigs = append(sigs, a.Signature)
	}
	got, err := c.Anchors(ctx, alice.Public(), hexID(9), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Signature != sigs[1] || got[1].Signature != sigs[0] {
		t.Fatalf("anchors of repo 9 = %+v, want the first two, newest first", got)
	}
	// A transaction without an anchor: the mint.
	res, err := c.Mint(ctx, alice, MintOptions{Name: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ReadAnchor(ctx, res.Signatures[0]); !errors.Is(err, ErrNoAnchor) {
		t.Errorf("read anchor of a mint transaction: %v, want ErrNoAnchor", err)
	}
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	c := testClient(t)
	poor := key(5)

	// A payer with no account at all.
	_, err := c.Mint(ctx, poor, MintOptions{Name: "x"})
	if !errors.Is(err, ErrInsufficientFunds) || !errors.Is(err, ErrRejected) {
		t.Fatalf("mint by an empty wallet: %v, want ErrInsufficientFunds", err)
	}
	// A payer with enough for fees but not for the rent.
	if err := c.Airdrop(ctx, poor.Public(), 1_000_000); err != nil {
		t.Fatal(err)
	}
	_, err = c.Mint(ctx, poor, MintOptions{Name: "x"})
	var te *TxError
	if !errors.Is(err, ErrInsufficientFunds) || !errors.As(err, &te) || len(te.Logs) == 0 {
		t.Fatalf("mint without rent: %v, want ErrInsufficientFunds with logs", err)
	}

	// Not an NFT: a wallet address, a missing account.
	if _, err := c.Show(ctx, poor.Public()); !errors.Is(err, ErrNotNFT) {
		t.Errorf("show of a wallet: %v, want ErrNotNFT", err)
	}
	if _, err := c.Show(ctx, key(6).Public()); !errors.Is(err, ErrNotFound) {
		t.Errorf("show of nothing: %v, want ErrNotFound", err)
	}

	// An RPC node that is not there.
	dead := NewClient("http://127.0.0.1:1")
	if _, err := dead.Show(ctx, poor.Public()); !errors.Is(err, ErrUnreachable) {
		t.Errorf("show via a dead node: %v, want ErrUnreachable", err)
	}
	if _, err := Holder(ctx, "http://127.0.0.1:1", poor.Public()); !errors.Is(err, ErrUnreachable) {
		t.Errorf("Holder via a dead node: %v, want ErrUnreachable", err)
	}
}

func TestHolderCache(t *testing.T) {
	ctx := context.Background()
	c := testClient(t)
	alice, bob := key(7), key(8)
	funded(t, c, alice)
	res, err := c.Mint(ctx, alice, MintOptions{Name: "x", Fields: []Field{{FieldRepo, hexID(5).String()}}})
	if err != nil {
		t.Fatal(err)
	}
	hc := NewHolderCache(c.URL(), time.Minute)
	now := time.Unix(1000, 0)
	hc.now = func() time.Time { return now }
	if h, err := hc.RepoHolder(ctx, res.Mint, hexID(5)); err != nil || h != alice.Public() {
		t.Fatalf("RepoHolder = %s, %v; want %s", h, err, alice.Public())
	}
	if _, err := hc.RepoHolder(ctx, res.Mint, hexID(6)); !errors.Is(err, ErrWrongRepo) {
		t.Fatalf("RepoHolder of another repository: %v, want ErrWrongRepo", err)
	}
	if h, err := hc.Holder(ctx, res.Mint); err != nil || h != alice.Public() {
		t.Fatalf("holder = %s, %v", h, err)
	}
	if _, err := c.Transfer(ctx, alice, res.Mint, bob.Public()); err != nil {
		t.Fatal(err)
	}
	if h, _ := hc.Holder(ctx, res.Mint); h != alice.Public() {
		t.Errorf("cached holder = %s, want the cached %s", h, alice.Public())
	}
	now = now.Add(time.Minute)
	if h, _ := hc.Holder(ctx, res.Mint); h != bob.Public() {
		t.Errorf("holder after expiry = %s, want %s", h, bob.Public())
	}
}
