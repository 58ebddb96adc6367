// Package transfer moves a repository's history between it and a fed
// server: push, fetch, clone, the fetch of pull, the proofs that travel
// with commits, and private weights (pushes that withhold tensors, and
// weights marked private to an aggregator). Every operation takes a
// *repo.Repo, as restic's archiver sits beside its repository: repo
// keeps the local porcelain (the working tree, the configured remotes,
// the shallow, withheld and private-mark lists), this package decides
// what to send and what to ask for, and in which order refs move.
//
// What it leaves to others: the wire format, the problem codes and the
// Client are package remote's; what a server accepts (access rules,
// protected branches, proofs it requires) is remote/server's; the walks
// of the object graph are objects/graph's; checking files out, the
// reflog and the lists in .fed are repo's; a merge of diverged branches
// is the caller's (PullOptions.Merge; package mergeexec does it).
//
// Invariants:
//   - Refs change only after all their objects are stored. A push
//     uploads the closure of a branch before it asks the server to move
//     it (a proof ref before the branch that needs it); a fetch
//     downloads a plan, checks that everything the new values reach is
//     present (or absent on purpose: beyond a shallow boundary, withheld
//     by its pusher), and only then moves the remote-tracking refs and
//     creates tags, in one transaction.
//   - Nothing half-written: objects are written once and verified on
//     arrival; the lists in .fed (shallow, withheld, private marks) are
//     replaced atomically and written before the refs that need them; a
//     failed clone removes what it made.
//   - Weights marked private or withheld never leave the machine unless
//     the caller says so (PushOptions.ReleaseWeights), and a push that
//     withholds them is refused before anything is sent when a commit
//     concerned lacks its zk root or proof.
package transfer
