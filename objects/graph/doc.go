// Package graph holds fed's walks of the object graph, written once: the
// closure of a set of roots (everything they reach, minus what the other
// side holds), walks of commit history (ancestry, the commits a set of
// tips reaches) and the order a log lists commits in (NewestFirst).
//
// Every walk keeps an explicit stack and a set of visited ids, so a
// history of a million commits does not recurse and a graph with a cycle
// (which hashing rules out in a verifying store, but not in every Store)
// still ends. The chunks of tensors and blobs are leaves: a walk lists
// them from their tensor or blob and never reads them, so walking a
// repository costs reads of its metadata only. An object a walk cannot
// read is an error naming it (objects.NotFoundError, CorruptError)
// unless the caller says otherwise: absent objects are expected in
// shallow repositories and where weights were withheld.
//
// Left to others: what to do with the objects a walk reaches (sending,
// checking signatures, listing a plan — the callers in transfer,
// remote/server and repo), shallow lists and withheld lists (their
// callers pass them in as functions), and how a log is shown. Only
// package objects is imported.
package graph
