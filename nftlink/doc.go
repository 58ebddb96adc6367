// Package nftlink links a repository to its NFTs on Solana: it combines a
// *repo.Repo (its history, config and .fed directory) with package nft,
// beside repo as proving is.
//
// It owns the repository's id (RepoID: the root commit reached from HEAD
// by first parents), the metadata of the repository and release NFTs
// (MintOptions: fed.repo, and for a release fed.tag, fed.commit and
// fed.tree), minting, showing and transferring them (Mint, Show,
// Transfer), where their mints are recorded (config nft.mint and
// release.<tag>.nft: MintOf), anchors of commits written from this
// repository (Anchor, listed in .fed/anchors, one "<commit hex>
// <signature base58>" line each, so that they can be checked without
// searching the chain) and their verification (VerifyAnchors), and which
// RPC node to ask (ResolveSolanaRPC).
//
// What it leaves to others: transactions, accounts, the metadata format
// and the chain are nft's; the RPC flag and the Solana CLI's config file
// are found by cmd/fed, which passes them in; a hosting server's holder
// checks are hosting's (through nft).
//
// Invariants: an anchor is recorded in .fed/anchors only after the chain
// took it, written atomically; VerifyAnchors reports every anchor it
// cannot tie to this repository (another repository id, a commit outside
// the history of its branches and tags, a zk root that differs from the
// commit's signed zk.root) with the problem named, never as fine; a
// release NFT names the commit its tag points to, peeled from annotated
// tags. repo does not import this package or nft.
package nftlink
