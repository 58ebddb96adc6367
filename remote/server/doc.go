// Package server is fed's hosting server ("fed serve"): an http.Handler
// that hosts many repositories under one directory, speaking the protocol
// of package remote (doc/protocol.md), and Serve, which runs it on a
// listener with periodic garbage collection.
//
// Where repositories live is a Hosting (hosting.go): Options.Hosting, or
// NewFiles (files.go), which keeps repository <name> in <root>/<name>.fed/:
// refs and objects as in a client's .fed directory, fed-repo.json with the
// owner and access settings, push.log with every signed push. The server
// opens each repository once and reaches its storage only through the
// interfaces of Repository (ObjectStore, refs.Backend, repometa.Store), so
// that other backends (S3, PostgreSQL) serve the same protocol.
//
// Access: a login signs a Sign-In-With-Solana challenge and gets a
// short-lived bearer token. Nonces and tokens live in Options.Sessions
// (sessions.go): by default in memory, where a restart logs everyone
// out; replicas share one (package pgstore keeps it in PostgreSQL), and
// when it fails requests answer 503 with Retry-After. The first authenticated write to a repository that
// does not exist creates it with that key as owner (unless NoCreate).
// Owners and collaborators push; only the owner forces (also to move or
// replace a tag), deletes, changes settings or pushes to protected
// branches, where Repository.RequireProofs (the zk hook) must accept every new
// commit. Every commit and tag object a push brings must verify against
// its author (tagger); a collaborator sets a branch or tag only to a value
// it signed or one a branch or tag already reaches (doc/security.md). A
// proof ref is taken when CheckProof verifies its proof, or, without
// CheckProof, from its commit's author or the owner only. Public repositories are readable by
// anyone, private ones only by the owner and collaborators (others get
// 404). Reads serve only published objects (reach.go): what a branch or
// tag reaches, and the proofs of its commits; an upload publishes nothing.
//
// Ownership by NFT: with Features.NFTHolder, the owner may link the
// repository to its Solana repository NFT (settings "nft"); from then on
// the owner is whoever holds the NFT now, for every owner check, as long
// as the NFT names the repository's id (the first-parent root commit of
// the default branch). The server does not import the Solana code: fed
// serve injects the lookup (package hosting, nft.HolderCache). It fails closed: when the
// holder cannot be resolved nobody is the owner, and an owner check
// answers 503 when the chain was unreachable (owner.go).
//
// Withheld weights (withheld.go, doc/protocol.md §6.5.1): a push may keep
// the tensor objects of its commits' models off the server; it is
// accepted only when each such commit records its zk root and has a proof
// (CheckProof verifies it when set). The server lists the withheld ids in
// <name>.fed/withheld, leaves them out of fetch plans (naming them apart,
// for clients that announce the withheld-weights feature), and its gc and
// Fsck treat them as absent on purpose.
//
// Background proving (prover.go): with Features.Prove, accepted pushes
// queue their new commits that lack proofs (bounded queue), and RunProver
// (started by Serve) proves them one at a time until the server stops.
// With Options.Jobs (jobs.go) the queue is shared by replicas: any of them
// proves a job, and a job held by a replica that dies goes back to it.
//
// Invariants: every stored object was re-hashed on upload; a ref moves
// (all of a request's refs or none, by refs.Backend's Apply with each
// update's old value) only when every object reachable from its new value
// is present or withheld under the rules above, so no client ever sees a
// ref whose objects are incomplete;
// objects that no ref reaches are collected only after GCGrace (or, in
// S3 with replicas, once written more than GCGrace ago and unleased); memory
// held by object bodies is bounded by MaxInflightBytes.
//
// Operations (ops.go, metrics.go; doc/protocol.md §9): /healthz,
// /readyz and /metrics (Prometheus, a registry per Server) on the same
// handler; every request gets an id (X-Request-Id) and one access log
// record on Options.Logger, which never holds tokens, nonces or signatures.
//
// Serve (tls.go) speaks HTTPS with Options.TLSCert, reread on each
// Options.Reload, refuses plain HTTP beyond loopback unless InsecureHTTP,
// and shuts down gracefully within ShutdownTimeout.
//
// Replicas (shared.go): when a repository's ref store implements
// SharedState (pgstore's, for several fed serve processes on one
// database), the server reads its counters before a ref update, fetch
// plan or download and forgets what it knew complete, or rebuilds its
// published set, when another process collected or unpublished since.
// When it also implements Leases and the object store has no
// modification times (S3), objects/missing leases what a push asks about
// and gc collects by those leases (gc.go's collectLeased; doc/design.md
// §20), so that any replica may collect.
//
// Left to others: verifying and making proofs, zk settings and the chain
// (the hooks of Repository: package hosting implements them with package
// repo, zk and nft), storage backends (objects, refs, repometa), anything on
// the client side (package remote, repo).
package server
