package refs

import (
	"context"
	"errors"
	"fmt"

	"github.com/fed-vcs/fed/objects"
)

// ErrUnavailable reports a ref store that could not be reached or did not
// answer in time (a database connection lost, a transaction the database
// gave up on): nothing is known to have changed, and the same call may
// succeed later. A server answers it with 503 and Retry-After. It is
// objects.ErrUnavailable, so that one test classifies every store's
// failures.
var ErrUnavailable = objects.ErrUnavailable

// Retryable reports whether err is worth retrying unchanged: the store was
// unavailable (ErrUnavailable) or a lock stayed held by another live
// process past the timeout (ErrLocked). A lost compare-and-swap
// (ErrStale) or a name conflict (ErrConflict) is not: the caller must
// read the refs again and decide anew.
func Retryable(err error) bool {
	return errors.Is(err, ErrUnavailable) || errors.Is(err, ErrLocked)
}

// Backend is the ref store of a hosted repository: what a server needs of
// a repository's refs, and what each storage backend implements (the
// files under the repository's directory, Store.Backend; a database
// table). It is safe for concurrent use by any number of goroutines, and
// of processes (replicas) sharing the same storage.
//
// The contract every implementation keeps (refs/refstest checks it):
//
//   - Names are full ref names that pass ValidateName; a name that does not
//     gives an error (not ErrNotFound) and changes nothing. HEAD is
//     symbolic and names a branch (a new repository's HEAD names
//     refs/heads/main); updates name refs under refs/.
//   - Read returns the id a ref holds, or an error wrapping ErrNotFound.
//   - List returns the refs whose names start with prefix, sorted by name,
//     each with the id it held at one moment of the call (a listing taken
//     during a transaction shows every update of it or none, where the
//     backend can: a database can, loose ref files cannot promise it).
//   - Apply is compare-and-swap over all its updates at once: every Old
//     must be the ref's current value (zero: the ref must not exist) unless
//     Force; then every New is written (zero: the ref and its reflog are
//     deleted) and one reflog entry per changed ref is appended, with msg,
//     and the old and new values: all of it or none of it. A lost compare
//     returns a *StaleError (ErrStale) naming the first stale ref in the
//     order given, with the value found; a ref that cannot exist beside
//     another (one name a directory prefix of the other) returns an error
//     wrapping ErrConflict naming both; two updates of one ref in one call
//     are an error. Concurrent Applies over the same refs are serialisable:
//     of two that both expect the same Old, exactly one succeeds.
//   - Reflog returns the entries of a ref, oldest first (empty when it has
//     none), each with the Author, Message and Time (to the second) Apply
//     was given; a zero Time in Apply means the time of the call.
//   - Errors: ErrNotFound, ErrStale and ErrConflict as above; ErrUnavailable
//     (or ErrLocked, from the file store) when the store could not answer
//     and nothing is known to have changed: Retryable. Any other error is
//     the store failing or being damaged, and names what failed.
//   - A cancelled context makes a call return ctx.Err() (wrapped) before it
//     changes anything; an Apply that has begun committing completes or
//     fails as a whole.
type Backend interface {
	Read(ctx context.Context, name Name) (objects.ID, error)
	Head(ctx context.Context) (Head, error)
	List(ctx context.Context, prefix string) ([]Ref, error)
	Apply(ctx context.Context, updates []Update, msg Entry) error
	Reflog(ctx context.Context, name Name) ([]LogEntry, error)
}

// Backend returns s as a Backend: the refs kept as files under s.Dir().
// Calls check ctx before they start; the file operations themselves are
// short and are not interrupted.
func (s *Store) Backend() Backend { return fileBackend{s} }

// fileBackend is a Store seen as a Backend.
type fileBackend struct{ s *Store }

// Files returns the Store behind b when b is a file backend (Store.Backend),
// for what only files have (a repository directory's path, lock files).
func Files(b Backend) (*Store, bool) {
	f, ok := b.(fileBackend)
	return f.s, ok
}

func (f fileBackend) Read(ctx context.Context, name Name) (objects.ID, error) {
	if err := ctx.Err(); err != nil {
		return objects.ZeroID, fmt.Errorf("read ref %s: %w", name, err)
	}
	return f.s.Read(name)
}

func (f fileBackend) Head(ctx context.Context) (Head, error) {
	if err := ctx.Err(); err != nil {
		return Head{}, fmt.Errorf("read HEAD: %w", err)
	}
	return f.s.Head()
}

func (f fileBackend) List(ctx context.Context, prefix string) ([]Ref, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list refs %q: %w", prefix, err)
	}
	return f.s.List(prefix)
}

func (f fileBackend) Apply(ctx context.Context, updates []Update, msg Entry) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("update refs %s: %w", describeUpdates(updates), err)
	}
	return f.s.Transaction(updates, msg)
}

func (f fileBackend) Reflog(ctx context.Context, name Name) ([]LogEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("read reflog %s: %w", name, err)
	}
	return f.s.Reflog(name)
}
