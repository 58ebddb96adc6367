package nft

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/gagliardetto/solana-go"
	"github.com/google/go-cmp/cmp"
)

func pk(b byte) solana.PublicKey {
	var k solana.PublicKey
	for i := range k {
		k[i] = b
	}
	return k
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.NewReplacer(" ", "", "\n", "", "\t", "").Replace(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// meta is an account meta in a comparable form: "w" writable, "s"
// signer.
type meta struct {
	Key   solana.PublicKey
	Flags string
}

func metas(ix solana.Instruction) []meta {
	var out []meta
	for _, a := range ix.Accounts() {
		f := ""
		if a.IsWritable {
			f += "w"
		}
		if a.IsSigner {
			f += "s"
		}
		out = append(out, meta{a.PublicKey, f})
	}
	return out
}

// The expected bytes below are written from the Token-2022, token
// metadata interface, associated token account and memo program
// specifications, not produced by this package.
func TestInstructionEncodings(t *testing.T) {
	mint, auth, owner, dest := pk(1), pk(2), pk(3), pk(4)
	zeros := strings.Repeat("00", 32)
	h := func(k solana.PublicKey) string { return hex.EncodeToString(k[:]) }
	tests := []struct {
		name    string
		ix      solana.Instruction
		program solana.PublicKey
		data    string
		metas   []meta
	}{
		{"metadata pointer to itself, no authority", initializeMetadataPointer(mint, nil, &mint), token2022Program,
			"27 00" + zeros + h(mint), []meta{{mint, "w"}}},
		{"metadata pointer with authority", initializeMetadataPointer(mint, &auth, &mint), token2022Program,
			"27 00" + h(auth) + h(mint), []meta{{mint, "w"}}},
		{"initialize mint 2, no freeze authority", initializeMint2(mint, 0, auth), token2022Program,
			"14 00" + h(auth) + "00", []meta{{mint, "w"}}},
		{"token metadata initialize", initializeTokenMetadata(mint, auth, mint, owner, "fed", "FED", "u"), token2022Program,
			"d2e11ea258b84d8d 03000000 666564 03000000 464544 01000000 75",
			[]meta{{mint, "w"}, {auth, ""}, {mint, ""}, {owner, "s"}}},
		{"token metadata update field (key)", updateMetadataField(mint, auth, "fed.repo", "ab"), token2022Program,
			"dde9312db5cadcc8 03 08000000 6665642e7265706f 02000000 6162",
			[]meta{{mint, "w"}, {auth, "s"}}},
		{"token metadata update authority", updateMetadataAuthority(mint, auth, &owner), token2022Program,
			"d7e4a6e45464567b" + h(owner), []meta{{mint, "w"}, {auth, "s"}}},
		{"token metadata update authority to none", updateMetadataAuthority(mint, auth, nil), token2022Program,
			"d7e4a6e45464567b" + zeros, []meta{{mint, "w"}, {auth, "s"}}},
		{"set authority mint tokens to none", removeMintAuthority(mint, auth), token2022Program,
			"06 00 00", []meta{{mint, "w"}, {auth, "s"}}},
		{"mint to 1", mintTo(mint, dest, auth, 1), token2022Program,
			"07 0100000000000000", []meta{{mint, "w"}, {dest, "w"}, {auth, "s"}}},
		{"transfer checked 1, decimals 0", transferChecked(dest, mint, pk(5), owner, 1, 0), token2022Program,
			"0c 0100000000000000 00", []meta{{dest, "w"}, {mint, ""}, {pk(5), "w"}, {owner, "s"}}},
		{"close account", closeAccount(dest, owner, owner), token2022Program,
			"09", []meta{{dest, "w"}, {owner, "w"}, {owner, "s"}}},
		{"memo, no length prefix", memo("hi", owner), memoProgram,
			"6869", []meta{{owner, "s"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.ix.ProgramID() != tt.program {
				t.Errorf("program %s, want %s", tt.ix.ProgramID(), tt.program)
			}
			data, _ := tt.ix.Data()
			if want := unhex(t, tt.data); !bytes.Equal(data, want) {
				t.Errorf("data\n got %x\nwant %x", data, want)
			}
			if d := cmp.Diff(tt.metas, metas(tt.ix)); d != "" {
				t.Errorf("accounts (-want +got):\n%s", d)
			}
		})
	}
}

func TestCreateATAIdempotent(t *testing.T) {
	payer, wallet, mint := pk(1), pk(2), pk(3)
	ix, ata, err := createATAIdempotent(payer, wallet, mint)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := ix.Data()
	if ix.ProgramID() != ataProgram || !bytes.Equal(data, []byte{1}) {
		t.Errorf("program %s data %x, want the ATA program and 01", ix.ProgramID(), data)
	}
	want := []meta{{payer, "ws"}, {ata, "w"}, {wallet, ""}, {mint, ""}, {systemProgram, ""}, {token2022Program, ""}}
	if d := cmp.Diff(want, metas(ix)); d != "" {
		t.Errorf("accounts (-want +got):\n%s", d)
	}
}

func TestAssociatedTokenAddress(t *testing.T) {
	wallet := solana.MustPublicKeyFromBase58("9xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin")
	mint := solana.MustPublicKeyFromBase58("EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v")
	// With the legacy token program the derivation must agree with
	// solana-go's own helper, which hardcodes that program.
	legacy, err := associatedAddress(wallet, mint, solana.TokenProgramID)
	if err != nil {
		t.Fatal(err)
	}
	ref, _, err := solana.FindAssociatedTokenAddress(wallet, mint)
	if err != nil || legacy != ref {
		t.Fatalf("legacy derivation %s, solana-go %s (%v)", legacy, ref, err)
	}
	// With Token-2022 the address differs (the program id is a seed); the
	// chain tests check that the ATA program accepts it.
	a, err := associatedTokenAddress(wallet, mint)
	if err != nil || a == legacy || a.IsOnCurve() {
		t.Fatalf("token-2022 ATA %s (%v): must differ from %s and be off the curve", a, err, legacy)
	}
}

func TestDiscriminators(t *testing.T) {
	for name, d := range map[string][8]byte{
		"initialize_account":   discInitialize,
		"updating_field":       discUpdateField,
		"update_the_authority": discUpdateAuthority,
	} {
		sum := sha256.Sum256([]byte("spl_token_metadata_interface:" + name))
		if !bytes.Equal(sum[:8], d[:]) {
			t.Errorf("%s: %x, want %x", name, d, sum[:8])
		}
	}
}

func TestBuildTxSizeAndSigners(t *testing.T) {
	a, m := key(1), key(2)
	mint := toSolana(m.Public())
	owner := toSolana(a.Public())
	ixs := []solana.Instruction{
		initializeMetadataPointer(mint, nil, &mint),
		initializeMint2(mint, 0, owner),
		initializeTokenMetadata(mint, owner, mint, owner, "fed: demo", "FED", "http://127.0.0.1:1/demo"),
		memo("signed by both", owner, mint),
	}
	tx, err := buildTx(ixs, solana.Hash{}, a, m)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.VerifySignatures(); err != nil {
		t.Errorf("signatures: %v", err)
	}
	if tx.Message.AccountKeys[0] != owner {
		t.Errorf("fee payer %s, want %s", tx.Message.AccountKeys[0], owner)
	}
	// A missing signer and an oversized transaction are errors.
	if _, err := buildTx(ixs, solana.Hash{}, a); err == nil {
		t.Error("built a transaction without the mint's signature")
	}
	big := []solana.Instruction{memo(strings.Repeat("x", 1300), owner)}
	if _, err := buildTx(big, solana.Hash{}, a); err == nil || !strings.Contains(err.Error(), "too large") {
		t.Errorf("oversized transaction: %v", err)
	}
}
