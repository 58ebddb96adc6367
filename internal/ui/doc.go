// Package ui draws fed's terminal output that is not a result: progress
// bars on stderr.
//
// It knows nothing about repositories: Progress has the method set of
// repo.Progress (Start, Add, Done) and cmd/fed passes it where one is
// wanted. Deciding whether to draw at all (a terminal, no --json, no
// --quiet) is left to the caller, helped by IsTerminal.
//
// Invariants: a Progress never writes more than MaxRate redraws a second
// plus one final line per phase; a Progress that is not enabled writes
// nothing; all methods are safe for concurrent use.
package ui
