// Package governing is the client side of governance (doc/design.md §19,
// doc/protocol.md §6.8–§6.9) in a working repository: it takes a
// *repo.Repo, as proving and transfer do, and signs, keeps, sends, checks
// and reports the signed governance records.
//
// It owns:
//
//   - reviews and attestations signed here (Review, Attest) and kept under
//     their own refs (refs/reviews/…, refs/attestations/…), and reading
//     those of a commit (Records);
//   - a remote's branch policies and name map as this repository holds
//     them (PolicyRef, NamesRef: refs/meta/<remote>/…; Policy, Policies,
//     PolicyLog, Names), setting them on the server (SetPolicy, SetNames)
//     and bringing the name map (FetchNames);
//   - naming keys by the name map (Label, LabelContributors);
//   - what push sends and fetch keeps of the records (PushGovernance,
//     PushRecords, FetchedGovernanceRef), which package transfer calls;
//   - the recount of a server's push log (VerifyGovernance, for fed verify
//     --governance) and the contribution records of the merge rounds of a
//     main line (Contributors, MergeRound, for fed contributors and the
//     web UI).
//
// What it leaves to others: the records' commit form, parsing, ref names
// on a server and the rule deciding whether a commit satisfies a policy
// are package governance's (shared with the server); which pushes a server
// accepts and who may set a policy or the name map are remote/server's;
// moving commits and proofs is transfer's; flags, messages and exit codes
// are cmd/fed's.
//
// Invariants:
//
//   - Names are labels, never identities: a key is the identity; the name
//     map only labels keys for display, and nothing here decides anything
//     by a label.
//   - A record counts only if its signature verifies: every record read
//     goes through governance.Parse, which checks it; a policy or name map
//     a server hands out is kept only when signed by the owner the server
//     names.
//   - Fail closed: a malformed record, one signed by someone else, or one
//     about another commit than its ref names is an error
//     (ErrBadGovernance), never skipped silently; a recount with any failed
//     check returns ErrGovernance.
package governing
