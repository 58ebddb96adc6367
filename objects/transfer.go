package objects

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// Raw access to stored forms, for moving objects between stores (the remote
// protocol) without decompressing and recompressing them. A stored form is
// self-contained unless it is a delta, which needs its base in the
// receiving store.

// Errors of PutStored.
var (
	// ErrMismatch reports bytes that do not hash to the id they were sent
	// under.
	ErrMismatch = errors.New("objects: content does not match its id")
	// ErrMissingBase reports a delta stored form whose base the store lacks.
	ErrMissingBase = errors.New("objects: delta base missing")
)

// StoredInfo describes the stored form of an object.
type StoredInfo struct {
	Size  int64 // bytes of the stored form as GetStored sends it (no checksum)
	Base  ID    // delta base, or ZeroID when self-contained
	Depth int   // delta chain depth (0: self-contained)
}

// StoredInfo returns the size and delta base of id's stored form.
func (s *DiskStore) StoredInfo(ctx context.Context, id ID) (StoredInfo, error) {
	si, size, err := s.header(id)
	if err != nil {
		return StoredInfo{}, err
	}
	info := StoredInfo{Size: size}
	if si.enc == encDelta {
		info.Base, info.Depth = si.base, si.depth
	}
	return info, nil
}

// GetStored returns the stored form of id. A delta form is returned as is
// only when baseOK reports that the receiver holds its base (baseOK nil:
// never); otherwise the object is re-encoded self-contained (read,
// verified and compressed again). Self-contained forms are returned as
// read from disk, unverified: the receiver verifies (PutStored). Returned
// forms never carry the local checksum (wire forms do not).
func (s *DiskStore) GetStored(ctx context.Context, id ID, baseOK func(ID) bool) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	pb, done, mapped, _, err := s.readStored(id)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, &NotFoundError{ID: id}
		}
		return nil, fmt.Errorf("read object %s: %w", id, err)
	}
	var b []byte
	copyOut := func() error { b = append([]byte(nil), pb...); return nil }
	if mapped {
		err = guardFault(copyOut)
	} else {
		copyOut()
	}
	done()
	if err != nil {
		return nil, fmt.Errorf("read object %s: %w", id, err)
	}
	si, err := parseStored(b)
	if err != nil {
		return nil, &CorruptError{ID: id, Err: err}
	}
	if si.enc != encDelta || (baseOK != nil && baseOK(si.base)) {
		return stripSum(b), nil
	}
	obj, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	return encodeStoredForm(obj, PutOptions{ElemSize: si.elemSize}, nil, 0), nil
}

// PutStored stores an object received in stored form under id, after
// checking it: the form must parse, decode (against the local base when it
// is a delta: ErrMissingBase without it) to a valid object header and hash
// to id (ErrMismatch otherwise). The stored bytes are written as received,
// without recompressing; only a delta's depth byte is rewritten to the
// depth of the local chain, and a delta that would make the chain deeper
// than MaxDeltaDepth is stored self-contained instead. PutStored may
// modify stored. It reports whether the object was new; an object already
// present only has its modification time refreshed, like Put.
func (s *DiskStore) PutStored(ctx context.Context, id ID, stored []byte) (added bool, err error) {
	return s.PutStoredFunc(ctx, id, stored, nil)
}

// PutStoredFunc is PutStored calling fn, when not nil, with the object's
// canonical bytes once they are verified (not for an object already
// present); fn must not keep them.
func (s *DiskStore) PutStoredFunc(ctx context.Context, id ID, stored []byte, fn func(obj []byte)) (added bool, err error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if s.touch(ctx, id, time.Now()) {
		return false, nil
	}
	si, err := parseStored(stored)
	if err != nil {
		return false, fmt.Errorf("object %s: %w", id, err)
	}
	depth := 0
	if si.enc == encDelta {
		if !s.touch(ctx, si.base, time.Now()) {
			return false, fmt.Errorf("object %s: %w: %s", id, ErrMissingBase, si.base)
		}
		d, err := s.deltaDepth(si.base)
		if err != nil {
			return false, fmt.Errorf("object %s: delta base %s: %w", id, si.base.Short(), err)
		}
		depth = d + 1
	}
	// the canonical bytes are needed only to check the id: decode them
	// into a reused buffer
	buf := getBuf(0)
	obj, sum, got, err := decodeReceived(si, func(base ID) ([]byte, error) {
		b, _, err := s.get(ctx, base, 0, true, nil)
		return b, err
	}, buf)
	if cap(obj) > 0 && cap(buf) > 0 && &obj[:1][0] != &buf[:1][0] {
		putBuf(buf) // decoded elsewhere (too large for buf)
	}
	defer putBuf(obj)
	if err != nil {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		return false, fmt.Errorf("object %s: %w", id, err)
	}
	if _, err := PeekKind(obj); err != nil {
		return false, fmt.Errorf("object %s: %w", id, err)
	}
	if got != id {
		return false, fmt.Errorf("%w: sent as %s, hashes to %s", ErrMismatch, id, got)
	}
	if fn != nil {
		fn(obj)
	}
	switch {
	case si.enc == encDelta && depth > MaxDeltaDepth:
		stored = encodeStored(obj, PutOptions{ElemSize: si.elemSize}, nil, 0)
	case si.enc == encDelta:
		stored[4] = byte(depth)
		fallthrough
	default:
		if !si.hasSum {
			stored = appendSum(stored, sum) // of the bytes the id covers
		}
	}
	if err := s.writeObject(id, stored); err != nil {
		return false, fmt.Errorf("write object %s: %w", id, err)
	}
	return true, nil
}

// decodeReceived decodes a parsed stored form that came from elsewhere
// and returns the object with its CRC-32C and its id (SHA-256), both
// computed while it is decoded: a grouped or delta form's stripe by
// stripe while in cache, instead of reading the 4 MiB again twice. A form
// carrying a checksum must match it.
func decodeReceived(si storedInfo, getBase func(ID) ([]byte, error), dst []byte) (obj []byte, sum uint32, id ID, err error) {
	if si.enc != encGrouped && si.enc != encDelta {
		obj, sum, err = decodeParsed(si, getBase, dst, true)
		if err == nil {
			id = Sum(obj)
		}
	} else {
		h := sha256.New()
		obj, sum, err = decodePlanes(si, getBase, dst, true, h)
		h.Sum(id[:0])
	}
	if err == nil && si.hasSum && sum != si.sum {
		err = &sumError{got: sum, want: si.sum}
	}
	return obj, sum, id, err
}

// Touch refreshes the modification time of id and of its delta bases, as
// Put does for an object already present, so that GC's grace period starts
// again. It reports whether id is present; a DiskStore's Touch never
// fails (the error is for stores that can: objects.ErrUnavailable).
func (s *DiskStore) Touch(ctx context.Context, id ID) (bool, error) {
	return s.touch(ctx, id, time.Now()), nil
}

// EncodeStored returns a self-contained stored form of canonical object
// bytes (compressed when that helps; elemSize as in PutOptions). It is
// what GetStored sends for objects kept in other stores.
func EncodeStored(obj []byte, elemSize int) []byte {
	return encodeStoredForm(obj, PutOptions{ElemSize: elemSize}, nil, 0)
}

// DecodeStored returns the canonical bytes of a self-contained stored
// form; delta forms give ErrMissingBase.
func DecodeStored(stored []byte) ([]byte, error) {
	return decodeStored(stored, func(base ID) ([]byte, error) {
		return nil, fmt.Errorf("%w: %s", ErrMissingBase, base)
	})
}

// DecodeStoredWith returns the canonical bytes of any stored form, reading
// a delta's base through base (its canonical bytes), and the element size
// a grouped or delta form records (0 for the others), with which
// EncodeStored re-encodes the object self-contained. A store that keeps no
// deltas (an S3 store) uses it for the delta forms a client sends.
func DecodeStoredWith(stored []byte, base func(ID) ([]byte, error)) (obj []byte, elemSize int, err error) {
	si, err := parseStored(stored)
	if err != nil {
		return nil, 0, err
	}
	obj, _, err = decodeStoredSum(stored, base, nil)
	if err != nil {
		return nil, 0, err
	}
	return obj, si.elemSize, nil
}

// OpenStored opens the stored form of id as GetStored returns it for a
// receiver without bases (no local checksum), for serving with byte
// ranges. A delta form is returned as stored: callers serve those only to
// receivers that hold the base, or use GetStored.
func (s *DiskStore) OpenStored(id ID) (io.ReadSeekCloser, error) {
	f, err := s.openObject(id)
	if err != nil {
		return nil, err
	}
	si, size, err := readHeader(f, id)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &wireForm{f: f, r: io.NewSectionReader(f, 0, size), enc: si.enc}, nil
}

// wireForm reads a stored form without its checksum: the section before
// it, with the encoding byte's checksum bit cleared.
type wireForm struct {
	f   *objReader
	r   *io.SectionReader
	enc byte
}

func (w *wireForm) Read(p []byte) (int, error) {
	off, _ := w.r.Seek(0, io.SeekCurrent)
	n, err := w.r.Read(p)
	if off <= 2 && 2 < off+int64(n) {
		p[2-off] = w.enc
	}
	return n, err
}

func (w *wireForm) Seek(offset int64, whence int) (int64, error) {
	return w.r.Seek(offset, whence)
}

func (w *wireForm) Close() error { return w.f.Close() }

// WriteTo writes the rest of the wire form to dst (io.Copy calls it).
// Past the encoding byte, the file's bytes go to dst's ReadFrom when it
// has one, so that a TCP connection sends them from the page cache
// (sendfile) instead of through a buffer. It fails when the file ends
// before the size its header promised.
func (w *wireForm) WriteTo(dst io.Writer) (int64, error) {
	off, _ := w.r.Seek(0, io.SeekCurrent)
	size := w.r.Size()
	var n int64
	if off < 3 && off < size {
		var head [3]byte
		k, err := w.r.ReadAt(head[:min(3, size)], 0)
		if k < min(3, int(size)) {
			return 0, fmt.Errorf("read stored object: %w", err)
		}
		head[2] = w.enc
		m, err := dst.Write(head[off:min(3, size)])
		n += int64(m)
		if err != nil {
			return n, err
		}
		off += int64(m)
	}
	if off < size {
		// a loose file is copied from its own offset (sendfile); a pack's
		// section through a buffer (its file is shared)
		var src io.Reader = io.NewSectionReader(w.f, off, size-off)
		if w.f.own {
			if _, err := w.f.f.Seek(off, io.SeekStart); err != nil {
				return n, err
			}
			src = &io.LimitedReader{R: w.f.f, N: size - off}
		}
		m, err := io.Copy(dst, src)
		n += m
		off += m
		if err == nil && off < size {
			err = fmt.Errorf("read stored object: %w", io.ErrUnexpectedEOF)
		}
		if err != nil {
			w.r.Seek(off, io.SeekStart)
			return n, err
		}
	}
	w.r.Seek(off, io.SeekStart)
	return n, nil
}
