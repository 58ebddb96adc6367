// Package layering holds only a test: it enforces the dependency
// direction of doc/architecture.md (objects ← refs, merge, codec ← zk, remote, nft ←
// repo ← cmd/fed) and keeps gnark, Solana and CLI libraries inside the one
// package each may appear in.
package layering
