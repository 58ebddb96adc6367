package objects

import (
	"context"
	"errors"
	"fmt"
)

// Errors of Store implementations.
var (
	// ErrNotFound reports an object the store does not hold.
	ErrNotFound = errors.New("objects: not found")
	// ErrTooLarge reports an object above the store's size limit.
	ErrTooLarge = errors.New("objects: object too large")
	// ErrUnavailable reports storage that could not be reached or did not
	// answer in time (an object server or a database down, a connection
	// lost, a timeout): nothing is known to have changed, and the same call
	// may succeed later. Backends wrap their transient failures with it; a
	// server answers 503 with Retry-After. It is the one such error of
	// every storage interface: refs.ErrUnavailable and
	// repometa.ErrUnavailable are this value.
	ErrUnavailable = errors.New("storage unavailable")
	// ErrRefused reports storage that answered and refused a request of
	// the store's own making (access denied, a missing bucket, a checksum
	// it computed itself refused): a fault of the storage or of its
	// configuration, never of the data a client sent, and one that
	// repeating the call does not cure. Backends return a *RefusedError;
	// a server answers 502 storage-refused.
	ErrRefused = errors.New("storage refused the request")
)

// RefusedError is ErrRefused with what a server may tell its clients:
// which storage refused (Storage: "S3") and its short answer (Reason:
// "403 AccessDenied"), without keys, buckets or credentials, which only
// Err (for logs) names.
type RefusedError struct {
	Storage, Reason string
	Err             error
}

func (e *RefusedError) Error() string   { return e.Err.Error() }
func (e *RefusedError) Unwrap() []error { return []error{ErrRefused, e.Err} }

// MaxObjectSize is the largest canonical object any store accepts
// (64 MiB). Tensor pieces are 4 MiB and file chunks at most 4 MiB, so only
// a pathological tree or model object could come near it.
const MaxObjectSize = 64 << 20

// CorruptError reports an object whose stored bytes do not decode to
// content with its id. It is never returned together with data.
type CorruptError struct {
	ID  ID
	Err error
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("objects: object %s is corrupt: %v", e.ID, e.Err)
}

func (e *CorruptError) Unwrap() error { return e.Err }

// NotFoundError names the missing object; it unwraps to ErrNotFound.
type NotFoundError struct{ ID ID }

func (e *NotFoundError) Error() string { return fmt.Sprintf("objects: object %s not found", e.ID) }
func (e *NotFoundError) Unwrap() error { return ErrNotFound }

// PutOptions are hints for how a store may encode an object. They never
// change the object's id or content.
type PutOptions struct {
	// ElemSize is the element size of the tensor a chunk belongs to (1, 2,
	// 4 or 8); compression groups bytes by significance with it. 0: not
	// a tensor piece.
	ElemSize int
	// DeltaBase is the same piece of the parent version of the tensor; a
	// store may store the chunk as a delta against it. ZeroID: none.
	DeltaBase ID
}

// Store holds objects by id. Every method is safe for concurrent use, by
// several goroutines and (for on-disk stores) several processes.
//
// Stores hold canonical object bytes (Encode). How they keep them at rest
// (compression, deltas, a remote server) is theirs; Get always returns the
// canonical bytes after checking that they hash to id.
type Store interface {
	// Get returns the canonical bytes of id: *NotFoundError when the store
	// lacks it, *CorruptError when the stored bytes do not match id.
	Get(ctx context.Context, id ID) ([]byte, error)
	// Has reports whether the store holds id (without verifying it).
	Has(ctx context.Context, id ID) (bool, error)
	// Put stores canonical object bytes and returns their id. Storing an
	// object that is already present costs no space and succeeds. The store
	// does not keep a reference to obj after Put returns.
	Put(ctx context.Context, obj []byte, opts PutOptions) (ID, error)
	// Delete removes id; deleting an absent object is not an error.
	Delete(ctx context.Context, id ID) error
	// List calls fn for every object id, in no particular order.
	List(ctx context.Context, fn func(ID) error) error
}

// DeltaStore is implemented by stores that keep some objects as deltas
// against others: garbage collection must keep an object's bases.
type DeltaStore interface {
	// DeltaBase returns the object id's stored form depends on, or ZeroID.
	DeltaBase(ctx context.Context, id ID) (ID, error)
}

// CheckPut validates what Put receives: the size limit (ErrTooLarge) and
// the object header (ErrMalformed, ErrUnsupportedVersion). Stores outside
// this package call it first in their Put, as the stores here do.
func CheckPut(obj []byte) error { return checkPut(obj) }

// checkPut validates what Put receives.
func checkPut(obj []byte) error {
	if len(obj) > MaxObjectSize {
		return fmt.Errorf("%w: %d bytes (limit %d)", ErrTooLarge, len(obj), MaxObjectSize)
	}
	_, err := PeekKind(obj)
	return err
}

// Read fetches and decodes id, checking it is of kind want (0: any).
func Read(ctx context.Context, s Store, id ID, want Kind) (Object, error) {
	b, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	o, err := Decode(b)
	if err != nil {
		return nil, &CorruptError{ID: id, Err: err}
	}
	if want != 0 && o.Kind() != want {
		return nil, fmt.Errorf("objects: object %s is a %s, not a %s", id.Short(), o.Kind(), want)
	}
	return o, nil
}

// ReadCommit reads a commit object.
func ReadCommit(ctx context.Context, s Store, id ID) (*Commit, error) {
	o, err := Read(ctx, s, id, KindCommit)
	if err != nil {
		return nil, err
	}
	return o.(*Commit), nil
}

// ReadTree reads a tree object.
func ReadTree(ctx context.Context, s Store, id ID) (*Tree, error) {
	o, err := Read(ctx, s, id, KindTree)
	if err != nil {
		return nil, err
	}
	return o.(*Tree), nil
}

// ReadTensor reads a tensor object.
func ReadTensor(ctx context.Context, s Store, id ID) (*Tensor, error) {
	o, err := Read(ctx, s, id, KindTensor)
	if err != nil {
		return nil, err
	}
	return o.(*Tensor), nil
}

// ReadModel reads a model object.
func ReadModel(ctx context.Context, s Store, id ID) (*Model, error) {
	o, err := Read(ctx, s, id, KindModel)
	if err != nil {
		return nil, err
	}
	return o.(*Model), nil
}

// ReadBlob reads a blob object.
func ReadBlob(ctx context.Context, s Store, id ID) (*Blob, error) {
	o, err := Read(ctx, s, id, KindBlob)
	if err != nil {
		return nil, err
	}
	return o.(*Blob), nil
}

// ReadTag reads a tag object.
func ReadTag(ctx context.Context, s Store, id ID) (*Tag, error) {
	o, err := Read(ctx, s, id, KindTag)
	if err != nil {
		return nil, err
	}
	return o.(*Tag), nil
}

// Write encodes o and puts it into s.
func Write(ctx context.Context, s Store, o Object) (ID, error) {
	b, err := Encode(o)
	if err != nil {
		return ZeroID, err
	}
	return s.Put(ctx, b, PutOptions{})
}

var errContentMismatch = errors.New("content does not hash to its id")
