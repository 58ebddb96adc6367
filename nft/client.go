package nft

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/gagliardetto/solana-go"
	"github.com/gagliardetto/solana-go/rpc"
	"github.com/gagliardetto/solana-go/rpc/jsonrpc"

	"github.com/fed-vcs/fed/objects"
)

// Errors callers branch on.
var (
	// ErrUnreachable reports an RPC node that cannot be reached.
	ErrUnreachable = errors.New("nft: RPC node unreachable")
	// ErrInsufficientFunds reports a payer without the lamports a
	// transaction needs (fees, rent).
	ErrInsufficientFunds = errors.New("nft: insufficient lamports")
	// ErrRejected reports a transaction the chain refused; the error is a
	// *TxError with the program logs.
	ErrRejected = errors.New("nft: transaction rejected")
	// ErrNotConfirmed reports a transaction whose fate is unknown: its
	// blockhash expired or the wait timed out before it was seen.
	ErrNotConfirmed = errors.New("nft: transaction not confirmed")
	// ErrNotFound reports an account that does not exist.
	ErrNotFound = errors.New("nft: account not found")
	// ErrRPC reports a node answer that is not what the method promises.
	ErrRPC = errors.New("nft: bad RPC answer")
)

// TxError is a transaction the chain rejected, in simulation or after
// landing.
type TxError struct {
	Op        string   // what the transaction did: "mint", "transfer", "anchor"
	Signature string   // empty when rejected in preflight
	Message   string   // the node's message
	Err       string   // the node's error value as JSON, e.g. {"InstructionError":[3,{"Custom":1}]}
	Logs      []string // program logs
	funds     bool     // the cause is missing lamports
}

func (e *TxError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = e.Err
	}
	s := fmt.Sprintf("%s transaction rejected: %s", e.Op, msg)
	if e.funds {
		s = fmt.Sprintf("%s transaction rejected: insufficient lamports: %s", e.Op, msg)
	}
	return s
}

// Unwrap matches ErrRejected, and ErrInsufficientFunds when lamports
// were missing.
func (e *TxError) Unwrap() []error {
	if e.funds {
		return []error{ErrRejected, ErrInsufficientFunds}
	}
	return []error{ErrRejected}
}

// Client talks to one Solana JSON-RPC node over HTTP.
type Client struct {
	url string
	rpc *rpc.Client
	// PollInterval is the pause between signature status polls.
	PollInterval time.Duration
	// ConfirmTimeout bounds the wait for a sent transaction.
	ConfirmTimeout time.Duration
	// Commitment is the level transactions are confirmed to and state is
	// read at (default "confirmed").
	Commitment rpc.CommitmentType
}

// NewClient returns a client of the node at rpcURL. It does not connect.
func NewClient(rpcURL string) *Client {
	return &Client{
		url: rpcURL, rpc: rpc.New(rpcURL),
		PollInterval: 400 * time.Millisecond, ConfirmTimeout: 90 * time.Second,
		Commitment: rpc.CommitmentConfirmed,
	}
}

// URL is the node's address.
func (c *Client) URL() string { return c.url }

// Close releases idle connections.
func (c *Client) Close() error { return c.rpc.Close() }

// rpcErr turns an RPC failure into fed's errors: unreachable nodes, node
// errors with their message.
func (c *Client) rpcErr(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", op, err)
	}
	var ue *url.Error
	var ne net.Error
	var oe *net.OpError
	if errors.As(err, &oe) || errors.As(err, &ue) || errors.As(err, &ne) {
		return fmt.Errorf("%s: %w: %s: %v", op, ErrUnreachable, c.url, unwrapMost(err))
	}
	var he *jsonrpc.HTTPError
	if errors.As(err, &he) {
		return fmt.Errorf("%s: %w: %s answered HTTP %d", op, ErrUnreachable, c.url, he.Code)
	}
	var re *jsonrpc.RPCError
	if errors.As(err, &re) {
		return fmt.Errorf("%s: %w: %s (code %d)", op, ErrRPC, re.Message, re.Code)
	}
	return fmt.Errorf("%s: %w", op, err)
}

func unwrapMost(err error) error {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err
		}
		err = u
	}
}

func toSolana(k objects.PublicKey) solana.PublicKey { return solana.PublicKey(k) }
func fromSolana(k solana.PublicKey) objects.PublicKey {
	return objects.PublicKey(k)
}

// account fetches an account's owner program and data; ErrNotFound when
// it does not exist.
func (c *Client) account(ctx context.Context, addr solana.PublicKey) (owner solana.PublicKey, data []byte, err error) {
	res, err := c.rpc.GetAccountInfoWithOpts(ctx, addr, &rpc.GetAccountInfoOpts{Encoding: solana.EncodingBase64, Commitment: c.Commitment})
	if errors.Is(err, rpc.ErrNotFound) {
		return owner, nil, fmt.Errorf("account %s: %w", addr, ErrNotFound)
	}
	if err != nil {
		return owner, nil, c.rpcErr("get account "+addr.String(), err)
	}
	return res.Value.Owner, res.Value.Data.GetBinary(), nil
}

// Balance returns addr's lamports (0 for an account that does not exist).
func (c *Client) Balance(ctx context.Context, addr objects.PublicKey) (uint64, error) {
	res, err := c.rpc.GetBalance(ctx, toSolana(addr), c.Commitment)
	if err != nil {
		return 0, c.rpcErr("get balance of "+addr.String(), err)
	}
	return res.Value, nil
}

// Airdrop asks the node for lamports (test validators and devnet only)
// and waits for them.
func (c *Client) Airdrop(ctx context.Context, addr objects.PublicKey, lamports uint64) error {
	sig, err := c.rpc.RequestAirdrop(ctx, toSolana(addr), lamports, c.Commitment)
	if err != nil {
		return c.rpcErr("airdrop to "+addr.String(), err)
	}
	return c.confirm(ctx, "airdrop", sig, 0)
}

// send signs and sends one transaction of ixs paid by the first signer,
// then polls until it is confirmed. Preflight simulation failures come
// back as *TxError with the program logs.
func (c *Client) send(ctx context.Context, op string, ixs []solana.Instruction, signers ...*objects.Keypair) (solana.Signature, error) {
	tx, lastValid, err := c.build(ctx, op, ixs, signers...)
	if err != nil {
		return solana.Signature{}, err
	}
	return c.sendBuilt(ctx, op, tx, lastValid)
}

// maxTxSize is the largest serialized transaction a node accepts.
const maxTxSize = 1232

// errTooLarge reports a transaction over maxTxSize (callers split).
var errTooLarge = errors.New("nft: transaction too large")

func (c *Client) build(ctx context.Context, op string, ixs []solana.Instruction, signers ...*objects.Keypair) (*solana.Transaction, uint64, error) {
	bh, err := c.rpc.GetLatestBlockhash(ctx, c.Commitment)
	if err != nil {
		return nil, 0, c.rpcErr(op+": get latest blockhash", err)
	}
	if bh == nil || bh.Value == nil {
		return nil, 0, fmt.Errorf("%s: get latest blockhash: %w: empty answer", op, ErrRPC)
	}
	tx, err := buildTx(ixs, bh.Value.Blockhash, signers...)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", op, err)
	}
	return tx, bh.Value.LastValidBlockHeight, nil
}

// buildTx assembles and signs a legacy transaction; the first signer
// pays the fees.
func buildTx(ixs []solana.Instruction, blockhash solana.Hash, signers ...*objects.Keypair) (*solana.Transaction, error) {
	tx, err := solana.NewTransaction(ixs, blockhash, solana.TransactionPayer(toSolana(signers[0].Public())))
	if err != nil {
		return nil, fmt.Errorf("build transaction: %w", err)
	}
	msg, err := tx.Message.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("encode transaction: %w", err)
	}
	n := int(tx.Message.Header.NumRequiredSignatures)
	tx.Signatures = make([]solana.Signature, n)
	for i := 0; i < n; i++ {
		key := tx.Message.AccountKeys[i]
		var k *objects.Keypair
		for _, s := range signers {
			if toSolana(s.Public()) == key {
				k = s
			}
		}
		if k == nil {
			return nil, fmt.Errorf("build transaction: no keypair for signer %s", key)
		}
		copy(tx.Signatures[i][:], k.Sign(msg))
	}
	raw, err := tx.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("encode transaction: %w", err)
	}
	if len(raw) > maxTxSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", errTooLarge, len(raw), maxTxSize)
	}
	return tx, nil
}

func (c *Client) sendBuilt(ctx context.Context, op string, tx *solana.Transaction, lastValid uint64) (solana.Signature, error) {
	sig, err := c.rpc.SendTransactionWithOpts(ctx, tx, rpc.TransactionOpts{PreflightCommitment: c.Commitment})
	if err != nil {
		var re *jsonrpc.RPCError
		if errors.As(err, &re) && re.Data != nil {
			return sig, simulationError(op, re)
		}
		return sig, c.rpcErr("send "+op+" transaction", err)
	}
	return sig, c.confirm(ctx, op, sig, lastValid)
}

// simulationError reads a preflight failure: {code -32002, message,
// data: {err, logs, ...}}.
func simulationError(op string, re *jsonrpc.RPCError) error {
	e := &TxError{Op: op, Message: strings.TrimPrefix(re.Message, "Transaction simulation failed: ")}
	if m, ok := re.Data.(map[string]any); ok {
		e.Err = errJSON(m["err"])
		if logs, ok := m["logs"].([]any); ok {
			for _, l := range logs {
				if s, ok := l.(string); ok {
					e.Logs = append(e.Logs, s)
				}
			}
		}
	}
	e.funds = fundsProblem(e.Err, e.Logs)
	return e
}

func errJSON(v any) string {
	if v == nil {
		return ""
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// fundsProblem tells, from a transaction error and its logs, whether
// lamports were missing: a fee payer with no account or too little, rent
// not covered, or the System program refusing a transfer.
func fundsProblem(errValue string, logs []string) bool {
	for _, s := range []string{`"AccountNotFound"`, `"InsufficientFundsForFee"`, "InsufficientFundsForRent", `"InsufficientFunds"`} {
		if strings.Contains(errValue, s) {
			return true
		}
	}
	for _, l := range logs {
		if strings.Contains(l, "insufficient lamports") || strings.Contains(l, "Insufficient funds") {
			return true
		}
	}
	return false
}

// confirm polls getSignatureStatuses until sig is confirmed, fails, or
// its blockhash expires (block height past lastValid; 0: no check).
func (c *Client) confirm(ctx context.Context, op string, sig solana.Signature, lastValid uint64) error {
	ctx, cancel := context.WithTimeout(ctx, c.ConfirmTimeout)
	defer cancel()
	polls := 0
	for {
		res, err := c.rpc.GetSignatureStatuses(ctx, false, sig)
		if err != nil && !errors.Is(err, rpc.ErrNotFound) {
			if ctx.Err() != nil {
				break
			}
			return c.rpcErr("poll "+op+" transaction "+sig.String(), err)
		}
		if err == nil && len(res.Value) == 1 && res.Value[0] != nil {
			st := res.Value[0]
			if st.Err != nil {
				return c.landedError(ctx, op, sig, st.Err)
			}
			if st.ConfirmationStatus == rpc.ConfirmationStatusConfirmed || st.ConfirmationStatus == rpc.ConfirmationStatusFinalized ||
				(c.Commitment == rpc.CommitmentProcessed && st.ConfirmationStatus == rpc.ConfirmationStatusProcessed) {
				return nil
			}
		}
		polls++
		if lastValid > 0 && polls%5 == 0 {
			if h, err := c.rpc.GetBlockHeight(ctx, c.Commitment); err == nil && h > lastValid {
				return fmt.Errorf("%s transaction %s: %w: its blockhash expired", op, sig, ErrNotConfirmed)
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(c.PollInterval):
			continue
		}
		break
	}
	if err := context.Cause(ctx); errors.Is(err, context.Canceled) {
		return fmt.Errorf("%s transaction %s: %w", op, sig, err)
	}
	return fmt.Errorf("%s transaction %s: %w after %s", op, sig, ErrNotConfirmed, c.ConfirmTimeout)
}

// landedError builds the error of a transaction that landed but failed,
// with the logs from getTransaction.
func (c *Client) landedError(ctx context.Context, op string, sig solana.Signature, errValue any) error {
	e := &TxError{Op: op, Signature: sig.String(), Err: errJSON(errValue)}
	e.Message = e.Err
	v := uint64(0)
	if tx, err := c.rpc.GetTransaction(ctx, sig, &rpc.GetTransactionOpts{Encoding: solana.EncodingBase64, Commitment: rpc.CommitmentConfirmed, MaxSupportedTransactionVersion: &v}); err == nil && tx.Meta != nil {
		e.Logs = tx.Meta.LogMessages
	}
	e.funds = fundsProblem(e.Err, e.Logs)
	return e
}
