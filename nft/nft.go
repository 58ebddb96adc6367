package nft

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/gagliardetto/solana-go"
	"github.com/gagliardetto/solana-go/programs/system"

	"github.com/fed-vcs/fed/objects"
)

// Metadata field keys fed writes.
const (
	FieldRepo   = "fed.repo"   // the repository id: its root commit id, hex
	FieldTag    = "fed.tag"    // release NFTs: the tag's name
	FieldCommit = "fed.commit" // release NFTs: the tagged commit id, hex
	FieldTree   = "fed.tree"   // release NFTs: that commit's tree id, hex
)

// More errors callers branch on.
var (
	// ErrNotNFT reports a mint that is not a fed-style NFT: not a
	// Token-2022 mint, or without metadata in the mint.
	ErrNotNFT = errors.New("nft: not a Token-2022 NFT with metadata in the mint")
	// ErrNoHolder reports an NFT that no account holds.
	ErrNoHolder = errors.New("nft: nobody holds the token")
	// ErrNotHolder reports a transfer signed by a wallet that does not
	// hold the token.
	ErrNotHolder = errors.New("nft: the signer does not hold the token")
	// ErrAlreadyMinted reports a repository (or release) that already has
	// its NFT.
	ErrAlreadyMinted = errors.New("nft: already minted")
)

// Limits that keep the minting transaction within a packet and the
// metadata readable.
const (
	MaxName   = 64
	MaxSymbol = 10
	MaxURI    = 200
	MaxFields = 8
	maxField  = 100
)

// MintOptions describe a new NFT.
type MintOptions struct {
	Name   string
	Symbol string
	URI    string
	Fields []Field
	// Mint is the new mint account's keypair; nil makes a random one.
	Mint *objects.Keypair
}

// Validate checks the sizes of the metadata.
func (o *MintOptions) Validate() error {
	check := func(what, s string, max int) error {
		if len(s) > max {
			return fmt.Errorf("nft: %s is %d bytes, at most %d", what, len(s), max)
		}
		if !utf8.ValidString(s) {
			return fmt.Errorf("nft: %s is not UTF-8", what)
		}
		return nil
	}
	if o.Name == "" {
		return errors.New("nft: empty name")
	}
	if err := errors.Join(check("name", o.Name, MaxName), check("symbol", o.Symbol, MaxSymbol), check("uri", o.URI, MaxURI)); err != nil {
		return err
	}
	if len(o.Fields) > MaxFields {
		return fmt.Errorf("nft: %d fields, at most %d", len(o.Fields), MaxFields)
	}
	seen := map[string]bool{}
	for _, f := range o.Fields {
		if f.Key == "" || seen[f.Key] {
			return fmt.Errorf("nft: field key %q is empty or repeated", f.Key)
		}
		seen[f.Key] = true
		if err := errors.Join(check("field key "+strconv.Quote(f.Key), f.Key, maxField), check("value of "+f.Key, f.Value, maxField)); err != nil {
			return err
		}
	}
	return nil
}

// MintResult is a minted NFT.
type MintResult struct {
	Mint         objects.PublicKey
	TokenAccount objects.PublicKey // the payer's associated token account
	Signatures   []string          // one transaction, or two when the fields did not fit
}

// Mint creates an NFT held by payer, who also pays and becomes the
// metadata update authority. One transaction creates the mint with its
// metadata pointer, initializes it (decimals 0, no freeze authority),
// writes the metadata and its fields, creates payer's associated token
// account, mints 1 and removes the mint authority; when that is larger
// than a packet, the fields go in a second transaction.
func (c *Client) Mint(ctx context.Context, payer *objects.Keypair, opts MintOptions) (*MintResult, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	mintKey := opts.Mint
	if mintKey == nil {
		k, err := objects.GenerateKeypair()
		if err != nil {
			return nil, fmt.Errorf("mint: %w", err)
		}
		mintKey = k
	}
	owner, mint := toSolana(payer.Public()), toSolana(mintKey.Public())
	md := &Metadata{UpdateAuthority: payer.Public(), Mint: mintKey.Public(), Name: opts.Name, Symbol: opts.Symbol, URI: opts.URI, Fields: opts.Fields}
	rent, err := c.rpc.GetMinimumBalanceForRentExemption(ctx, uint64(mintLenWithMetadata(md)), c.Commitment)
	if err != nil {
		return nil, c.rpcErr("mint: get rent", err)
	}
	create, err := system.NewCreateAccountInstruction(rent, mintLen, token2022Program, owner, mint).ValidateAndBuild()
	if err != nil {
		return nil, fmt.Errorf("mint: %w", err)
	}
	ata, ataAddr, err := createATAIdempotent(owner, owner, mint)
	if err != nil {
		return nil, fmt.Errorf("mint: %w", err)
	}
	head := []solana.Instruction{
		create,
		initializeMetadataPointer(mint, nil, &mint),
		initializeMint2(mint, 0, owner),
		initializeTokenMetadata(mint, owner, mint, owner, opts.Name, opts.Symbol, opts.URI),
	}
	var fields []solana.Instruction
	for _, f := range opts.Fields {
		fields = append(fields, updateMetadataField(mint, owner, f.Key, f.Value))
	}
	tail := []solana.Instruction{ata, mintTo(mint, ataAddr, owner, 1), removeMintAuthority(mint, owner)}

	res := &MintResult{Mint: mintKey.Public(), TokenAccount: fromSolana(ataAddr)}
	all := append(append(append([]solana.Instruction{}, head...), fields...), tail...)
	tx, lastValid, err := c.build(ctx, "mint", all, payer, mintKey)
	if errors.Is(err, errTooLarge) {
		tx, lastValid, err = c.build(ctx, "mint", append(head, tail...), payer, mintKey)
	} else {
		fields = nil
	}
	if err != nil {
		return nil, err
	}
	sig, err := c.sendBuilt(ctx, "mint", tx, lastValid)
	if err != nil {
		return nil, err
	}
	res.Signatures = append(res.Signatures, sig.String())
	if len(fields) > 0 {
		sig, err := c.send(ctx, "mint (metadata fields)", fields, payer)
		if err != nil {
			return res, err
		}
		res.Signatures = append(res.Signatures, sig.String())
	}
	return res, nil
}

// Info is what the chain says about an NFT.
type Info struct {
	Mint            objects.PublicKey
	Supply          uint64
	Decimals        uint8
	MintAuthority   *objects.PublicKey
	FreezeAuthority *objects.PublicKey
	Metadata        *Metadata
	// Holder owns the token account holding the token; zero when none.
	Holder       objects.PublicKey
	TokenAccount objects.PublicKey
	// Problems lists how the mint departs from a fed NFT (supply not 1,
	// a mint authority left, the update authority not with the holder).
	Problems []string
}

// Show reads an NFT's mint, metadata and holder.
func (c *Client) Show(ctx context.Context, mint objects.PublicKey) (*Info, error) {
	m, err := c.mint(ctx, mint)
	if err != nil {
		return nil, err
	}
	info := &Info{Mint: mint, Supply: m.Supply, Decimals: m.Decimals, MintAuthority: m.MintAuthority, FreezeAuthority: m.FreezeAuthority, Metadata: m.Metadata}
	acct, ta, err := c.holding(ctx, mint)
	switch {
	case errors.Is(err, ErrNoHolder):
	case err != nil:
		return nil, err
	default:
		info.Holder, info.TokenAccount = ta.Owner, fromSolana(acct)
	}
	if m.Supply != 1 || m.Decimals != 0 {
		info.Problems = append(info.Problems, fmt.Sprintf("supply %d with %d decimals, not 1 with 0", m.Supply, m.Decimals))
	}
	if m.MintAuthority != nil {
		info.Problems = append(info.Problems, "the mint authority "+m.MintAuthority.String()+" can still mint more")
	}
	if m.FreezeAuthority != nil {
		info.Problems = append(info.Problems, "the freeze authority "+m.FreezeAuthority.String()+" can freeze the token")
	}
	if info.Holder != (objects.PublicKey{}) && m.Metadata.UpdateAuthority != info.Holder {
		info.Problems = append(info.Problems, "the metadata update authority "+m.Metadata.UpdateAuthority.String()+" is not the holder")
	}
	return info, nil
}

// mint fetches and decodes a fed NFT's mint account.
func (c *Client) mint(ctx context.Context, mint objects.PublicKey) (*MintState, error) {
	owner, data, err := c.account(ctx, toSolana(mint))
	if err != nil {
		return nil, fmt.Errorf("read NFT %s: %w", mint, err)
	}
	if owner != token2022Program {
		return nil, fmt.Errorf("read NFT %s: %w: owned by program %s", mint, ErrNotNFT, owner)
	}
	m, err := decodeMint(data)
	if err != nil {
		return nil, fmt.Errorf("read NFT %s: %w", mint, err)
	}
	if m.Metadata == nil || m.MetadataPointer == nil || m.MetadataPointer.Address != mint {
		return nil, fmt.Errorf("read NFT %s: %w", mint, ErrNotNFT)
	}
	return m, nil
}

// holding finds the token account that holds the NFT (amount 1).
func (c *Client) holding(ctx context.Context, mint objects.PublicKey) (solana.PublicKey, *tokenAccount, error) {
	res, err := c.rpc.GetTokenLargestAccounts(ctx, toSolana(mint), c.Commitment)
	if err != nil {
		return solana.PublicKey{}, nil, c.rpcErr("find the holder of "+mint.String(), err)
	}
	for _, a := range res.Value {
		if a.Amount != "1" {
			continue
		}
		owner, data, err := c.account(ctx, a.Address)
		if errors.Is(err, ErrNotFound) {
			continue // closed since the node's answer
		}
		if err != nil {
			return solana.PublicKey{}, nil, err
		}
		if owner != token2022Program {
			continue
		}
		ta, err := decodeTokenAccount(data)
		if err != nil {
			return solana.PublicKey{}, nil, fmt.Errorf("token account %s: %w", a.Address, err)
		}
		if ta.Mint != mint || ta.Amount != 1 {
			continue
		}
		return a.Address, ta, nil
	}
	return solana.PublicKey{}, nil, fmt.Errorf("NFT %s: %w", mint, ErrNoHolder)
}

// Holder returns the wallet that holds the NFT now.
func (c *Client) Holder(ctx context.Context, mint objects.PublicKey) (objects.PublicKey, error) {
	if _, err := c.mint(ctx, mint); err != nil {
		return objects.PublicKey{}, err
	}
	_, ta, err := c.holding(ctx, mint)
	if err != nil {
		return objects.PublicKey{}, err
	}
	return ta.Owner, nil
}

// Transfer moves the NFT from holder to the wallet to, in one
// transaction: it creates to's associated token account if needed,
// transfers the token, hands the metadata update authority to the new
// holder (so the previous one can no longer rewrite the metadata) and
// closes the emptied account, returning its rent to holder.
func (c *Client) Transfer(ctx context.Context, holder *objects.Keypair, mint, to objects.PublicKey) (string, error) {
	m, err := c.mint(ctx, mint)
	if err != nil {
		return "", err
	}
	src, ta, err := c.holding(ctx, mint)
	if err != nil {
		return "", err
	}
	from := holder.Public()
	if ta.Owner != from {
		return "", fmt.Errorf("transfer %s: %w: it is held by %s, not %s", mint, ErrNotHolder, ta.Owner, from)
	}
	if to == from {
		return "", fmt.Errorf("transfer %s: %s already holds it", mint, to)
	}
	sm, sf, st := toSolana(mint), toSolana(from), toSolana(to)
	ata, dst, err := createATAIdempotent(sf, st, sm)
	if err != nil {
		return "", fmt.Errorf("transfer %s: %w", mint, err)
	}
	ixs := []solana.Instruction{ata, transferChecked(src, sm, dst, sf, 1, m.Decimals)}
	if m.Metadata.UpdateAuthority == from {
		ixs = append(ixs, updateMetadataAuthority(sm, sf, &st))
	}
	ixs = append(ixs, closeAccount(src, sf, sf))
	sig, err := c.send(ctx, "transfer", ixs, holder)
	if err != nil {
		return "", err
	}
	return sig.String(), nil
}
