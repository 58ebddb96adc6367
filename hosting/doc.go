// Package hosting is the hosted repository of fed serve: one value per
// repository that owns its opened object store, ref store and settings
// (a server.Repository of the storage below it, opened once and kept) and
// answers what the server asks beyond storage: verifying pushed proofs
// (zk), requiring them on protected branches, proving pushed commits in
// the background, reading and changing the repository's zk settings, and
// who holds the repository's NFT (nft). New wraps a server.Hosting
// (server.NewFiles by default) into one that does all this; fed serve
// builds it from its flags and hands it to the server.
//
// Left to others: the protocol and the access rules (remote/server), the
// storage itself (objects, refs, repometa, and their backends), the
// proving and verifying (package repo over zk), the chain (nft), flags,
// environment and output (cmd/fed).
//
// Invariants: a repository's storage is opened once per Hosting and
// shared by the server's requests and the hooks (the hooks read the same
// object store the server writes, batches included); hooks work on any
// storage: a repository whose refs are files is read as the bare
// repository of its directory, whose config file, which its administrator
// may edit, holds the zk settings and is read again at each hook call;
// any other (refs in a database) through repo.OpenHosted over its stores,
// bound to the hook's context, with the zk settings of its
// repometa.Store, read again at each call and checked as `fed config`
// checks them. A zk settings change that the settings parser refuses
// saves nothing; hooks the options leave off are off in Features and
// return an error wrapping errors.ErrUnsupported; whatever a proof hook
// cannot read or verify fails it (the server refuses, never passes).
package hosting
