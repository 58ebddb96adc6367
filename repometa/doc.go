// Package repometa keeps what a server knows of each hosted repository
// besides its objects and refs: its settings (owner, visibility, protected
// branches, collaborators, repository NFT, creation time), its zk settings,
// the log of signed pushes, and the lists of object ids pushers withheld or
// marked private. Store is the interface every storage backend implements
// (the files of a repository directory here, Files; a database's tables);
// repometatest is the conformance suite they all pass.
//
// Left to others: what the values mean and who may change them (the server's
// access rules), checking zk settings (UpdateZK takes the check), the bytes
// of a push log entry (one JSON object of doc/protocol.md, given and
// returned as is), creating and listing repositories (the hosting layer),
// and the objects and refs themselves (packages objects and refs).
//
// On disk (Files), in a repository's directory <root>/<name>.fed/
// (doc/design.md, "Hosted repositories"):
//
//	fed-repo.json  the settings: one JSON object, version 1, written whole
//	               to a temporary file, fsynced and renamed over
//	push.log       one push log entry and "\n" per push, appended and fsynced
//	withheld       one lowercase hex id and "\n" per line, appended and fsynced
//	private        same
//	config         the zk settings, in the format of package repo's config
//	               file (read and written through a ZKFile)
//
// Invariants: Protected and Collaborators are stored sorted and without
// duplicates; an update either is stored whole or leaves the previous
// settings; an id list only grows; an append is durable before the call
// returns. Every Store is safe for concurrent use.
package repometa
