package server

import (
	"context"
	"io"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/refs"
	"github.com/fed-vcs/fed/repometa"
)

// Hosting is where a server's repositories live and what the server asks
// of each beyond its storage. The server opens a repository once, on its
// first request, and keeps the Repository for every later one.
// Options.Hosting chooses it; NewFiles, repositories as directories under
// one root, is the default. Package hosting adds the proof, zk and NFT
// hooks to a Hosting; other storage (objects in S3, refs and settings in
// PostgreSQL) is another implementation of the same interface.
//
// Every method is safe for concurrent use. Errors wrapping
// objects.ErrUnavailable (storage that could not answer) are answered
// with 503 and Retry-After.
type Hosting interface {
	// Open returns repository name, or an error wrapping
	// repometa.ErrNotFound when there is none.
	Open(ctx context.Context, name string) (Repository, error)
	// Create creates repository name with settings s: objects and refs
	// empty, HEAD naming refs/heads/main. A repository is created whole
	// or not at all. When it exists already (another process created it
	// meanwhile), Create opens that one and leaves its settings.
	Create(ctx context.Context, name string, s repometa.Settings) (Repository, error)
	// Names lists the repositories (for garbage collection).
	Names(ctx context.Context) ([]string, error)
	// Check reports whether the storage can be written now (/readyz).
	Check(ctx context.Context) error
	// Features says which of the hooks of Repository are on, for every
	// repository: the server calls only those.
	Features() Features
}

// Features name the hooks of a Repository a Hosting offers.
type Features struct {
	// RequireProofs: new commits on protected branches need a proof the
	// hook accepts (fed serve --require-proofs).
	RequireProofs bool
	// CheckProof: the server verifies every proof pushed to it. Without
	// it the server cannot tell a valid proof from garbage: it takes a
	// proof ref only from its commit's author or the owner, and for
	// withheld weights only checks that a proof exists.
	CheckProof bool
	// Prove: the server proves pushed commits that lack a proof in the
	// background (fed serve --prove), one job at a time, queued in
	// <Options.Root>/prove-queue or in Options.Jobs.
	Prove bool
	// ZKSettings: the settings answer carries the repository's zk settings
	// and PUT settings changes them; without it a change is refused.
	ZKSettings bool
	// NFTHolder: a repository's settings may name a repository NFT, whose
	// holder is then the owner. Without it a repository that names an NFT
	// has no owner.
	NFTHolder bool
}

// Repository is one hosted repository: its storage, opened once, and the
// hooks the server calls when Hosting.Features turns them on. A hook that
// is off may return an error wrapping errors.ErrUnsupported.
type Repository interface {
	// Objects is the repository's object store.
	Objects() ObjectStore
	// Refs is its ref store.
	Refs() refs.Backend
	// Meta keeps its settings, push log and id lists.
	Meta() repometa.Store

	// RequireProofs is called for every new commit pushed to a protected
	// branch; an error refuses the push (proof-required; zk-setting-missing
	// when it wraps ErrSettingMissing).
	RequireProofs(ctx context.Context, commit objects.ID) error
	// CheckProof verifies the proof of commit with the repository's keys
	// and settings: proofs names proof object ids by commit that override
	// the stored refs/proofs/<commit> (the proofs the request sets,
	// commit's own among them). The server calls it for every proof ref a
	// push sets (an error refuses it: invalid-proof) and for the proof of
	// every commit whose weights a push withholds (proof-required). An
	// error wrapping ErrSettingMissing refuses with zk-setting-missing.
	CheckProof(ctx context.Context, commit objects.ID, proofs map[objects.ID]objects.ID) error
	// Prove proves commit and attaches the proof under
	// refs/proofs/<commit>; it returns nil when it has nothing to do (the
	// repository has no zk settings). The server calls it, one job at a
	// time, for every commit a push adds to a branch or tag that has no
	// proof and whose weights are on the server.
	Prove(ctx context.Context, commit objects.ID) error
	// ZKSettings reads (set nil) or changes (set not nil: a key with value
	// "" is removed) the repository's zk settings and returns those set
	// afterwards; it rejects values `fed config` would reject, changing
	// nothing.
	ZKSettings(ctx context.Context, set map[string]string) (map[string]string, error)
	// NFTHolder returns who holds the repository NFT mint now, given the
	// repository's id (the root commit reached by first parents from the
	// default branch), or an error when the NFT is not that repository's
	// or cannot be read. Errors fail closed (nobody is the owner): one
	// wrapping ErrChainUnavailable answers 503 unavailable, any other the
	// refusal the request would get from a non-owner. It should cache
	// answers briefly.
	NFTHolder(ctx context.Context, mint objects.PublicKey, repoID objects.ID) (objects.PublicKey, error)
}

// ObjectStore is what the server needs of a repository's object store:
// an objects.Store that also receives and sends objects in their stored
// forms, as they travel (doc/protocol.md §5), and keeps uploads no ref
// reaches yet until GC's grace has passed. *objects.DiskStore is one.
//
// A store may also offer, and the server then uses: BeginBatch, EndBatch
// and Flush (deferring the fsyncs of an upload's objects to its end, as
// DiskStore does: EndBatch or Flush publish them before a ref reaches
// them); OpenStored(id) (io.ReadSeekCloser, error), the stored form of
// id as kept (a delta as a delta), for serving byte ranges of
// self-contained forms and downloads from files (a reader with WriteTo
// hands the file to the connection: sendfile); and objects.ModTimer, when an
// object was last written (GC spares recent ones; without it GC removes
// nothing).
type ObjectStore interface {
	objects.Store
	// PutStored stores the object id received in a stored form after
	// verifying it (objects.ErrMismatch, objects.ErrMissingBase), and
	// reports whether it was new.
	PutStored(ctx context.Context, id objects.ID, stored []byte) (added bool, err error)
	// StoredInfo returns the size and delta base of id's stored form.
	StoredInfo(ctx context.Context, id objects.ID) (objects.StoredInfo, error)
	// GetStored returns the stored form of id, a delta only when baseOK
	// reports that the receiver holds its base.
	GetStored(ctx context.Context, id objects.ID, baseOK func(objects.ID) bool) ([]byte, error)
	// Touch restarts GC's grace period of id, reporting whether it is
	// present.
	Touch(ctx context.Context, id objects.ID) (bool, error)
}

// The optional methods of an ObjectStore.
type (
	batcher interface {
		BeginBatch()
		EndBatch() error
		Flush() error
	}
	storedOpener interface {
		OpenStored(id objects.ID) (io.ReadSeekCloser, error)
	}
)

var (
	_ ObjectStore  = (*objects.DiskStore)(nil)
	_ batcher      = (*objects.DiskStore)(nil)
	_ storedOpener = (*objects.DiskStore)(nil)
)
