// Package refs keeps a repository's refs: named pointers to object ids
// (branches, tags, remote-tracking branches, proofs) and HEAD, as small
// files under the repository's .fed directory, laid out like git's loose
// refs, with a reflog per ref.
//
// On disk, under the directory given to Open:
//
//	HEAD                        "ref: refs/heads/main\n" or "<64 hex>\n"
//	refs/heads/<branch>         "<64 lowercase hex>\n"
//	refs/tags/<tag>             same
//	refs/remotes/<remote>/<b>   same
//	refs/<anything else>        same (e.g. refs/proofs/...)
//	MERGE_HEAD, ...             same; other upper-case pseudo-refs
//	logs/HEAD, logs/refs/...    reflog: "<old> <new> <unix s> <author|-> <msg>\n"
//	<file>.lock                 lock of <file> while it is being changed
//
// Every change is a compare-and-swap under the ref's lock file: create
// <ref>.lock exclusively and flock(2) it, check the current value, write
// the new one into the lock, fsync, append the reflog, rename the lock
// over the ref, fsync the directory. Losing the compare gives a
// *StaleError (ErrStale). A lock whose holder died is detected through
// its flock and broken; a live holder makes others wait up to a timeout
// and then fail with ErrLocked. LockFile and AcquireLock offer the same
// locks to other packages (index, gc).
//
// Backend is the ref store interface of a hosted repository, with the
// contract every storage backend keeps (refstest checks it); a Store is
// one through Store.Backend.
//
// Left to others: what the ids point to (refs never reads objects), which
// branch a new repository starts on, resolving abbreviated or relative
// names ("main~2"), packed refs, and symbolic refs other than HEAD.
//
// Invariants: a ref file always holds exactly one full non-zero id; every
// writer holds the ref's lock, so a ref never changes between the check
// and the write of an update; a Transaction locks in sorted name order and
// either applies every update or none; ref names always pass ValidateName,
// so no name ends in ".lock" or escapes the directory.
package refs
