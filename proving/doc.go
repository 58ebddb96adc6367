// Package proving attaches zero-knowledge proofs to the commits of a
// repository and verifies them: it combines a *repo.Repo (its objects,
// refs, config and signed settings) with the circuits of package zk, as
// restic's archiver sits beside its repository.
//
// It owns:
//
//   - the repository's zk settings (Settings, ReadSettings: zk.linf, zk.l2,
//     zk.chunk, zk.prove, zk.vk from .fed/config, else from the owner's
//     signed settings) and the check of those keys when they are set,
//     which it registers with repo.RegisterKeyCheck;
//   - the commitment root a commit records (RecordRoots, Values, Root);
//   - proving (Prove) and verifying (Verify) commits and ranges of them;
//   - the proving policy of commit and merge that cmd/fed applies: whether
//     a new commit gets a proof (Wanted), what makes a merge provable
//     (ProvableMerge), and proving a commit just made (AfterCommit).
//
// What it leaves to others: the circuits, keys and the proof body format
// are zk's; where proof refs live (repo.ProofsPrefix, repo.ProofRef) and
// the metadata keys a commit carries (repo.MetaZKRoot,
// repo.MetaMergeWeights) are repo's, because sync and NFT anchors use them
// without proving; moving proofs with push and fetch is sync's; the key
// cache's directory, flags, messages and exit codes are cmd/fed's (it
// passes a *zk.Cache in).
//
// How repo calls it without importing it: repo has no zk import. A commit
// records its root through the hook repo already calls before signing a
// commit (Repo.BeforeSign), which RecordRoots installs; the zk config keys
// are checked through the registry of repo.RegisterKeyCheck, which this
// package's init fills. A program that never imports proving records no
// roots and sets zk keys unchecked (ReadSettings still refuses bad ones).
//
// Invariants:
//
//   - Fail closed: whatever cannot be verified is a failure. A commit
//     without the proof its settings, its metadata or the caller ask for,
//     a proof whose verifying key is unknown or not pinned, a commitment
//     that neither the weights, the parent's own proof nor a signed root
//     binds, an update bound that cannot be compared with zk.linf, a
//     parent whose values are not known to lie near the provable range:
//     each fails its commit in the VerifyReport and makes Verify return an
//     error matching ErrVerify. Nothing is reported "ok" by default.
//   - A proof is attached only after it was made and its verifying key
//     stored: the ref under repo.ProofRef moves by compare-and-swap to a
//     proof object that names the key's chunk, so the ref's closure holds
//     both; an existing proof is kept unless ProveOptions.Force.
//   - The root a commit records is computed from its own tree before it is
//     signed, so the signature binds the weights to the root a proof
//     commits to; a model outside the provable range cannot be committed
//     in a repository with zk settings (zk.ErrRange).
//   - A failed proof after a commit leaves the commit (ErrUnproven).
package proving
