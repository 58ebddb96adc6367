package nft

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gagliardetto/solana-go"
	"github.com/gagliardetto/solana-go/rpc"

	"github.com/fed-vcs/fed/objects"
)

// MemoPrefix starts every anchor memo; the number is the format version.
const MemoPrefix = "fed-anchor/1"

// ErrNoAnchor reports a transaction that carries no fed anchor.
var ErrNoAnchor = errors.New("nft: no fed anchor in the transaction")

// AnchorRecord is what an anchor states: repository, commit and, when the
// commit has one, its zk commitment root.
type AnchorRecord struct {
	Repo   objects.ID `json:"repo"`
	Commit objects.ID `json:"commit"`
	ZKRoot string     `json:"zk_root,omitempty"` // lowercase hex, 32 bytes
}

// Memo is the memo text: "fed-anchor/1 repo=<hex> commit=<hex>[ zk=<hex>]".
func (a AnchorRecord) Memo() string {
	s := MemoPrefix + " repo=" + a.Repo.String() + " commit=" + a.Commit.String()
	if a.ZKRoot != "" {
		s += " zk=" + a.ZKRoot
	}
	return s
}

// ParseMemo reads a memo written by AnchorRecord.Memo. Unknown keys are an
// error: a newer format uses a new prefix.
func ParseMemo(s string) (AnchorRecord, error) {
	var a AnchorRecord
	parts := strings.Split(s, " ")
	if parts[0] != MemoPrefix {
		return a, fmt.Errorf("%w: memo does not start with %q", ErrNoAnchor, MemoPrefix)
	}
	seen := map[string]bool{}
	for _, p := range parts[1:] {
		k, v, ok := strings.Cut(p, "=")
		if !ok || seen[k] {
			return a, fmt.Errorf("anchor memo: %q is not key=value, or repeats a key", p)
		}
		seen[k] = true
		var err error
		switch k {
		case "repo":
			a.Repo, err = objects.ParseID(v)
		case "commit":
			a.Commit, err = objects.ParseID(v)
		case "zk":
			if b, e := hex.DecodeString(v); e != nil || len(b) != 32 || strings.ToLower(v) != v {
				err = fmt.Errorf("zk root %q is not 64 lowercase hex digits", v)
			}
			a.ZKRoot = v
		default:
			err = fmt.Errorf("unknown key %q", k)
		}
		if err != nil {
			return a, fmt.Errorf("anchor memo: %w", err)
		}
	}
	if !seen["repo"] || !seen["commit"] {
		return a, errors.New("anchor memo: repo and commit are required")
	}
	return a, nil
}

// Anchor is an anchor found on chain.
type Anchor struct {
	AnchorRecord
	Signature string
	Signer    objects.PublicKey
	Slot      uint64
	Time      time.Time // the block time; zero when the node does not know it
}

// Anchor writes rec to the chain with the Memo program, signed and paid
// by payer, and reads it back.
func (c *Client) Anchor(ctx context.Context, payer *objects.Keypair, rec AnchorRecord) (*Anchor, error) {
	p := toSolana(payer.Public())
	sig, err := c.send(ctx, "anchor", []solana.Instruction{memo(rec.Memo(), p)}, payer)
	if err != nil {
		return nil, err
	}
	return c.ReadAnchor(ctx, sig.String())
}

// ReadAnchor reads the anchor of the transaction with signature sig.
func (c *Client) ReadAnchor(ctx context.Context, sig string) (*Anchor, error) {
	s, err := solana.SignatureFromBase58(sig)
	if err != nil {
		return nil, fmt.Errorf("read anchor: signature %q: %w", sig, err)
	}
	v := uint64(0)
	res, err := c.rpc.GetTransaction(ctx, s, &rpc.GetTransactionOpts{Encoding: solana.EncodingBase64, Commitment: rpc.CommitmentConfirmed, MaxSupportedTransactionVersion: &v})
	if errors.Is(err, rpc.ErrNotFound) {
		return nil, fmt.Errorf("read anchor %s: transaction %w", sig, ErrNotFound)
	}
	if err != nil {
		return nil, c.rpcErr("read anchor "+sig, err)
	}
	if res.Meta != nil && res.Meta.Err != nil {
		return nil, fmt.Errorf("read anchor %s: %w: the transaction failed: %s", sig, ErrNoAnchor, errJSON(res.Meta.Err))
	}
	if res.Transaction == nil {
		return nil, fmt.Errorf("read anchor %s: %w: no transaction in the answer", sig, ErrRPC)
	}
	tx, err := solana.TransactionFromBytes(res.Transaction.GetBinary())
	if err != nil {
		return nil, fmt.Errorf("read anchor %s: %w: %v", sig, ErrRPC, err)
	}
	a, err := anchorOf(tx)
	if err != nil {
		return nil, fmt.Errorf("read anchor %s: %w", sig, err)
	}
	a.Signature, a.Slot = sig, res.Slot
	if res.BlockTime != nil {
		a.Time = res.BlockTime.Time().UTC()
	}
	return a, nil
}

var memoV1 = solana.MustPublicKeyFromBase58("Memo1UhkJRfHyvLMcVucJwxXeuD728EqVDDwQDxFMNo")

// anchorOf finds the anchor memo in a transaction.
func anchorOf(tx *solana.Transaction) (*Anchor, error) {
	keys := tx.Message.AccountKeys
	for _, ix := range tx.Message.Instructions {
		if int(ix.ProgramIDIndex) >= len(keys) {
			return nil, fmt.Errorf("%w: program index out of range", ErrRPC)
		}
		if p := keys[ix.ProgramIDIndex]; p != memoProgram && p != memoV1 {
			continue
		}
		if !strings.HasPrefix(string(ix.Data), MemoPrefix+" ") {
			continue
		}
		rec, err := ParseMemo(string(ix.Data))
		if err != nil {
			return nil, err
		}
		return &Anchor{AnchorRecord: rec, Signer: fromSolana(keys[0])}, nil
	}
	return nil, ErrNoAnchor
}

// Anchors lists the anchors of repository repoID signed by signer, newest
// first, looking at up to limit of signer's latest transactions.
func (c *Client) Anchors(ctx context.Context, signer objects.PublicKey, repoID objects.ID, limit int) ([]Anchor, error) {
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	sigs, err := c.rpc.GetSignaturesForAddressWithOpts(ctx, toSolana(signer), &rpc.GetSignaturesForAddressOpts{Limit: &limit, Commitment: rpc.CommitmentConfirmed})
	if err != nil {
		return nil, c.rpcErr("list transactions of "+signer.String(), err)
	}
	var out []Anchor
	for _, s := range sigs {
		if s.Err != nil || (s.Memo != nil && !strings.Contains(*s.Memo, MemoPrefix)) {
			continue
		}
		a, err := c.ReadAnchor(ctx, s.Signature.String())
		if errors.Is(err, ErrNoAnchor) {
			continue
		}
		if err != nil {
			return out, err
		}
		if a.Repo == repoID {
			out = append(out, *a)
		}
	}
	return out, nil
}
