package repometa

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/fed-vcs/fed/objects"
)

var (
	// ErrNotFound reports a repository that has no records: it does not
	// exist.
	ErrNotFound = errors.New("repometa: no such repository")
	// ErrUnavailable reports storage that could not answer; the same call
	// may succeed later. It is objects.ErrUnavailable.
	ErrUnavailable = objects.ErrUnavailable
)

// Settings are a hosted repository's settings (fed-repo.json; the settings
// answer of doc/protocol.md shows them).
type Settings struct {
	// Owner is the base58 public key of the owner (who created the
	// repository by pushing first).
	Owner string
	// Public lets anyone read the repository.
	Public bool
	// Protected lists the full names of the protected refs, sorted.
	Protected []string
	// Collaborators lists the base58 keys that may push, sorted.
	Collaborators []string
	// Created is when the repository was created (a store keeps at least
	// microseconds).
	Created time.Time
	// NFT is the base58 mint of the repository NFT: when set, its holder is
	// the owner and Owner has no rights of its own. Empty: none.
	NFT string
}

// Clone returns a copy of s that shares no slices with it.
func (s Settings) Clone() Settings {
	s.Protected = slices.Clone(s.Protected)
	s.Collaborators = slices.Clone(s.Collaborators)
	return s
}

// Normalize sorts the lists of s and drops duplicates and makes nil lists
// empty: the form every Store keeps.
func (s *Settings) Normalize() {
	for _, l := range []*[]string{&s.Protected, &s.Collaborators} {
		if *l == nil {
			*l = []string{}
		}
		slices.Sort(*l)
		*l = slices.Compact(*l)
	}
}

// IDList names one of a repository's lists of object ids.
type IDList string

// The id lists of a repository (doc/protocol.md §6.5).
const (
	// Withheld lists the tensor objects private pushes kept off the server:
	// their absence is on purpose.
	Withheld IDList = "withheld"
	// Private lists the objects marked private: they are never offered to
	// other fetchers.
	Private IDList = "private"
)

// Store is the records of one hosted repository. The contract every
// implementation keeps (repometatest checks it):
//
//   - Settings returns the stored settings in normal form (Normalize).
//   - UpdateSettings calls change with a copy of the current settings and
//     stores what change leaves, in normal form, atomically with respect
//     to every other UpdateSettings of the repository, by any process: of
//     two concurrent changes, both apply, one after the other (a store
//     may call change again, on the newer settings, after losing a race,
//     so change must not have effects of its own). An error from change
//     is returned as is and nothing is stored. It returns the settings
//     stored.
//   - ZK returns the zk settings that are set (key to value; no empty
//     values); UpdateZK sets the keys of set (a value "" removes the key),
//     calls check with the settings that would result, stores them only if
//     check returns nil (else returns its error as is), and returns the
//     settings stored. A store that keeps no zk settings returns an error
//     wrapping errors.ErrUnsupported from both.
//   - AppendPushLog stores one push log entry (the bytes of one JSON object
//     without a newline) durably before it returns; PushLog returns every
//     entry, oldest first. An append cut short by a crash may leave one
//     entry damaged: readers skip entries they cannot parse.
//   - AddIDs adds ids to a list durably before it returns (ids already
//     listed are not added twice); IDs returns the list as a set, which
//     the caller must not modify. Lists only grow.
//   - Errors: ErrNotFound (wrapped) when the repository does not exist,
//     ErrUnavailable (wrapped, objects.ErrUnavailable) when the storage
//     could not answer and nothing is known to have changed; any other
//     error names what failed. A cancelled context makes a call return
//     ctx.Err() (wrapped) before it changes anything.
type Store interface {
	Settings(ctx context.Context) (Settings, error)
	UpdateSettings(ctx context.Context, change func(*Settings) error) (Settings, error)
	ZK(ctx context.Context) (map[string]string, error)
	UpdateZK(ctx context.Context, set map[string]string, check func(map[string]string) error) (map[string]string, error)
	AppendPushLog(ctx context.Context, entry []byte) error
	PushLog(ctx context.Context) ([][]byte, error)
	AddIDs(ctx context.Context, list IDList, ids []objects.ID) error
	IDs(ctx context.Context, list IDList) (map[objects.ID]bool, error)
}
