// Package textdiff compares and merges text files line by line: a Myers
// diff (O((N+M)·D) time, O(D²) memory for D differences), unified diff
// output as git prints it, and a three-way merge (diff3) that marks
// conflicts the way git does. A line keeps its line ending ("\n",
// "\r\n" or none for a last line without one), so files come back with
// the endings they had.
//
// It is not part of fed's API: repo uses it for text files, which are not
// models (valid UTF-8 without NUL bytes, see IsText).
package textdiff
