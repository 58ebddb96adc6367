package zk

import (
	"errors"
	"fmt"
)

// Errors callers branch on.
var (
	// ErrInvalidProof reports a proof that does not verify, or whose public
	// inputs do not match what the verifier knows.
	ErrInvalidProof = errors.New("zk: invalid proof")
	// ErrUnknownVersion reports a proof body, key file or circuit version
	// this release does not know.
	ErrUnknownVersion = errors.New("zk: unknown version")
	// ErrMalformed reports bytes that do not decode as a proof body or key.
	ErrMalformed = errors.New("zk: malformed")
	// ErrRange reports a weight that cannot be quantised into the proven
	// range (|x| < 8192, finite).
	ErrRange = errors.New("zk: value out of range")
	// ErrLayout reports models whose tensors do not line up (an update or
	// merge across a change of architecture).
	ErrLayout = errors.New("zk: layouts differ")
	// ErrBound reports an update over the L∞ bound or the L2 budget.
	ErrBound = errors.New("zk: update over the bound")
	// ErrNoKeys reports a circuit shape without keys in the cache.
	ErrNoKeys = errors.New("zk: no keys for circuit")
	// ErrUnpinned reports a verifying key that the repository does not pin.
	ErrUnpinned = errors.New("zk: verifying key not pinned")
	// ErrMismatch reports a commitment that does not match the weights, or
	// a merge whose stored result differs from the weighted floor average.
	ErrMismatch = errors.New("zk: commitment does not match")
)

// NoKeysError reports the circuit shape whose keys the cache lacks; it
// matches ErrNoKeys.
type NoKeysError struct {
	Shape Shape
	err   error
}

func (e *NoKeysError) Error() string { return e.err.Error() }

// Unwrap returns the error wrapping ErrNoKeys.
func (e *NoKeysError) Unwrap() error { return e.err }

// CheckError says which commit, chunk and check failed. Chunk is -1 when
// the failure is not about one chunk.
type CheckError struct {
	Commit string // commit id (hex) or "" when unknown
	Chunk  int
	Check  string // "commitment", "update", "merge", "root", "key", ...
	Err    error
}

func (e *CheckError) Error() string {
	where := ""
	if e.Commit != "" {
		c := e.Commit
		if len(c) > 12 {
			c = c[:12]
		}
		where = "commit " + c + " "
	}
	if e.Chunk >= 0 {
		where += fmt.Sprintf("chunk %d ", e.Chunk)
	}
	return fmt.Sprintf("zk: %s%s check: %v", where, e.Check, e.Err)
}

func (e *CheckError) Unwrap() error { return e.Err }

// KeyFileError reports a key file of the cache that cannot be used: it
// does not decode, fails its checksum, or holds keys of another shape or
// origin. Path names the file.
type KeyFileError struct {
	Path string
	Err  error
}

func (e *KeyFileError) Error() string { return fmt.Sprintf("zk: key file %s: %v", e.Path, e.Err) }

func (e *KeyFileError) Unwrap() error { return e.Err }
