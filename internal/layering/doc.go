// Package layering holds only tests: they enforce the dependency
// direction of doc/architecture.md (objects ← refs, repometa, merge, codec ←
// zk, remote, nft ← repo and the packages beside it ← cmd/fed), that only
// the packages at repo's level combine zk, remote and nft, and keep gnark,
// Solana and CLI libraries inside the one package each may appear in.
package layering
