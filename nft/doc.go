// Package nft puts a fed repository's ownership and history on Solana:
// repository and release NFTs, and on-chain anchors of commit ids.
//
// It is the only package that imports the Solana SDK
// (github.com/gagliardetto/solana-go); its API speaks objects.PublicKey,
// objects.Keypair and objects.ID, never Solana types.
//
// # The NFT
//
// A fed NFT is an SPL Token-2022 mint with the MetadataPointer extension
// pointing at the mint itself and the TokenMetadata extension holding
// name, symbol, uri and key/value fields. Decimals 0, supply 1, no mint
// authority (removed in the minting transaction), no freeze authority,
// metadata pointer authority none. Fields: "fed.repo" (the repository's
// root commit id, hex) on every fed NFT; a release NFT adds "fed.tag",
// "fed.commit" and "fed.tree". The holder is the owner of the one token
// account with amount 1. The metadata update authority travels with the
// token: Transfer moves the token and the update authority in one
// transaction, so a previous holder cannot rewrite the metadata.
//
// Solana-go v1.14.0 has no Token-2022 builders, so this package encodes
// the instructions it needs itself (see instructions.go for the byte
// layouts) and decodes mint accounts, TLV extensions and token metadata
// (state.go).
//
// # Anchors
//
// An anchor is a transaction with one Memo program instruction whose data
// is the UTF-8 text
//
//	fed-anchor/1 repo=<hex> commit=<hex>[ zk=<hex>]
//
// (no length prefix), signed by the anchoring wallet. Anyone can read it
// back by signature (getTransaction) or by listing the wallet's
// signatures (getSignaturesForAddress); the block time is the public
// timestamp.
//
// # RPC
//
// Client talks JSON-RPC over HTTP only: transactions are confirmed by
// polling getSignatureStatuses, never by websocket subscriptions. Errors
// name the condition: ErrUnreachable, ErrInsufficientFunds, a *TxError
// (rejected transaction, with program logs) matching ErrRejected,
// ErrNotFound, ErrNotNFT, ErrAlreadyMinted (returned by callers that know
// a repository's mint).
//
// What it leaves to others: which mint belongs to which repository (repo
// keeps it in the repository config), how a server maps holders to rights
// (remote/server, through a function the command wires to HolderCache).
package nft
