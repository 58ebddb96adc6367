// Package repo is fed's porcelain: a repository on disk (the working tree
// and its .fed directory), and the operations a user runs on it — init,
// add, status, commit, log, diff, branch, checkout, reset, fsck, gc, and
// what a merge leaves between commands (its state, --continue, --abort) —
// built from the objects, refs, codec and merge packages.
//
// Layout of a repository:
//
//	<root>/                 working tree
//	<root>/.fedignore       ignore rules (gitignore syntax)
//	<root>/.fed/config      repository config (git-config syntax)
//	<root>/.fed/HEAD, refs/, logs/   see package refs
//	<root>/.fed/objects/    see package objects (DiskStore)
//	<root>/.fed/index       staging area with a stat cache (doc/design.md)
//	<root>/.fed/lock        held by every command that changes the repository
//	<root>/.fed/MERGE_STATE a merge waiting for --continue (doc/design.md §14)
//	<root>/.fed/shallow     the oldest commits of a --depth clone
//	<root>/.fed/anchors     commits this repository anchored on Solana (nftlink)
//
// Invariants: an object is stored only after every object it refers to;
// a ref moves only after the objects it points to are stored; the index and
// worktree files are replaced atomically (temporary file and rename). So a
// process killed at any instant leaves a repository that fsck finds clean,
// with the last completed commit intact.
//
// Left to others: parsing flags, printing, exit codes (cmd/fed); executing
// merges and reverts (mergeexec, beside repo), their numerics (merge);
// push, fetch, clone and pull's fetch (transfer, beside repo, which keeps
// its lists here: remotes, .fed/shallow, .fed/withheld, .fed/private);
// bytes on disk (objects, refs).
package repo
