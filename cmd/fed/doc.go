// Command fed is the command-line interface of fed, version control for
// ML models: git's verbs (init, add, commit, log, diff, branch, switch,
// checkout, reset, revert, tag, fsck, gc, config) over model weights,
// with commits signed by Solana ed25519 keys.
//
// It parses flags, loads the signing key, calls package repo and prints.
// Results go to stdout; progress, advice, warnings and errors go to
// stderr. errors.go is the only place errors become messages and exit
// codes: 0 ok, 1 failure, 2 usage, 3 not a repository, 4 conflict or
// stale ref, 130 interrupted.
//
// Left to others: every repository operation (repo), storage (objects,
// refs), drawing progress bars (internal/ui).
package main
