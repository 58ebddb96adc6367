package s3store

import (
	"context"
	"fmt"
	"io"

	"github.com/minio/minio-go/v7"

	"github.com/fed-vcs/fed/objects"
)

// The stored-form methods the server moves objects with, as
// objects.DiskStore has them. A Store keeps only self-contained forms, so
// a form it sends is never a delta.

// StoredInfo returns the size of id's stored form (its Base is always
// zero), without a request when this Store has seen it (sizeCache).
func (s *Store) StoredInfo(ctx context.Context, id objects.ID) (objects.StoredInfo, error) {
	if err := ctx.Err(); err != nil {
		return objects.StoredInfo{}, err
	}
	if n, ok := s.sizes.get(id); ok {
		return objects.StoredInfo{Size: n}, nil
	}
	oi, err := s.core.StatObject(ctx, s.bucket, s.Key(id), minio.StatObjectOptions{})
	if err != nil {
		return objects.StoredInfo{}, classify(ctx, "stat", id, err)
	}
	s.sizes.set(id, oi.Size)
	return objects.StoredInfo{Size: oi.Size}, nil
}

// GetStored returns the stored form of id as kept, unverified (the
// receiver verifies); baseOK is not consulted, no form being a delta.
func (s *Store) GetStored(ctx context.Context, id objects.ID, baseOK func(objects.ID) bool) ([]byte, error) {
	return s.getStored(ctx, id)
}

// OpenStored opens the stored form of id for serving with byte ranges
// (http.ServeContent): each Read after a Seek is a ranged GET. Close ends
// any request in flight.
func (s *Store) OpenStored(id objects.ID) (io.ReadSeekCloser, error) {
	r, _, err := s.OpenStoredContext(context.Background(), id)
	return r, err
}

// OpenStoredContext is OpenStored with the reads under ctx; it also
// returns the size of the stored form.
func (s *Store) OpenStoredContext(ctx context.Context, id objects.ID) (io.ReadSeekCloser, int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	oi, err := s.core.StatObject(ctx, s.bucket, s.Key(id), minio.StatObjectOptions{})
	if err != nil {
		return nil, 0, classify(ctx, "stat", id, err)
	}
	o, err := s.core.Client.GetObject(ctx, s.bucket, s.Key(id), minio.GetObjectOptions{})
	if err != nil {
		return nil, 0, classify(ctx, "get", id, err)
	}
	return &rangedObject{o: o, ctx: ctx, id: id}, oi.Size, nil
}

// rangedObject classifies the errors of a *minio.Object.
type rangedObject struct {
	o   *minio.Object
	ctx context.Context
	id  objects.ID
}

func (r *rangedObject) Read(p []byte) (int, error) {
	n, err := r.o.Read(p)
	if err != nil && err != io.EOF {
		err = classify(r.ctx, "get", r.id, err)
	}
	return n, err
}

func (r *rangedObject) Seek(off int64, whence int) (int64, error) {
	n, err := r.o.Seek(off, whence)
	if err != nil {
		err = classify(r.ctx, "get", r.id, err)
	}
	return n, err
}

func (r *rangedObject) Close() error { return r.o.Close() }

// Touch reports whether id is present. A Store has no modification times
// to refresh: GC removes nothing from it (see the package documentation).
func (s *Store) Touch(ctx context.Context, id objects.ID) (bool, error) {
	return s.Has(ctx, id)
}

// PutStored stores an object received in stored form under id after
// checking it, as objects.DiskStore.PutStored does: the form must decode
// (a delta against the base in this store: objects.ErrMissingBase
// without it) to a valid object hashing to id (objects.ErrMismatch
// otherwise). A self-contained form is stored as received; a delta is
// stored re-encoded self-contained. It reports whether the object was
// new.
func (s *Store) PutStored(ctx context.Context, id objects.ID, stored []byte) (added bool, err error) {
	return s.PutStoredFunc(ctx, id, stored, nil)
}

// PutStoredFunc is PutStored calling fn, when not nil, with the object's
// canonical bytes once they are verified; fn must not keep them. Unlike a
// DiskStore's, fn may be called for an object that turns out to be
// present already.
func (s *Store) PutStoredFunc(ctx context.Context, id objects.ID, stored []byte, fn func(obj []byte)) (added bool, err error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	delta := false
	obj, elemSize, err := objects.DecodeStoredWith(stored, func(base objects.ID) ([]byte, error) {
		delta = true
		b, err := s.Get(ctx, base)
		if err != nil && objectsNotFound(err) {
			return nil, fmt.Errorf("%w: %s", objects.ErrMissingBase, base)
		}
		return b, err
	})
	if err != nil {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		return false, fmt.Errorf("object %s: %w", id, err)
	}
	if len(obj) > objects.MaxObjectSize {
		return false, fmt.Errorf("object %s: %w", id, objects.ErrTooLarge)
	}
	if _, err := objects.PeekKind(obj); err != nil {
		return false, fmt.Errorf("object %s: %w", id, err)
	}
	if got := objects.Sum(obj); got != id {
		return false, fmt.Errorf("%w: sent as %s, hashes to %s", objects.ErrMismatch, id, got)
	}
	if fn != nil {
		fn(obj)
	}
	body := stored
	if delta {
		body = objects.EncodeStored(obj, elemSize)
	}
	return s.putStored(ctx, id, body)
}

func objectsNotFound(err error) bool {
	_, ok := err.(*objects.NotFoundError)
	return ok
}
