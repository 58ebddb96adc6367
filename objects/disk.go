package objects

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fed-vcs/fed/internal/fsys"
)

// DiskStore keeps loose objects in a directory, one file per object:
// <dir>/<first 2 hex digits>/<remaining 62 hex digits>, each in its
// stored form (see stored.go). Files are written once: to a temporary
// file in the same directory, fsynced, renamed into place, and the
// directory fsynced; a reader never sees a partial object.
type DiskStore struct {
	dir string

	// cache keeps the canonical bytes of recently decoded delta bases:
	// the sides of a merge are deltas against the same parent pieces, a
	// merged piece is stored as a delta against one of them, and both
	// would otherwise be decoded again. Entries are read-only; Get returns
	// copies. Concurrent reads of one object decode it once.
	//
	// A base decoded only to decode a delta is not hashed: the delta's
	// own verification covers the bytes it used (its content is the XOR of
	// the base's bytes and the delta, and must hash to its id). An entry
	// becomes verified when an object decoded from it verifies, or when
	// hashed on demand; Get and delta encoding use verified bytes only.
	cacheMu sync.Mutex
	cache   []*cachedChunk

	// strict makes reads hash every object even when its stored form
	// carries a checksum (fsck; SetStrict).
	strict atomic.Bool

	// Deferred durability (BeginBatch/EndBatch): while a batch is open, a
	// new object is written to a temporary file without fsync and stays
	// there, readable through path, until EndBatch makes the data durable
	// and renames it into place. pending maps such objects to their file.
	batchMu  sync.Mutex
	flushMu  sync.Mutex // held by Flush for its whole run
	batches  int
	pending  map[ID]string
	npending atomic.Int32

	// Packs (pack.go): while a batch is open, small objects go to the
	// pending pack cur; Flush moves it to sealing while it publishes it,
	// then to packs, the published packs this process knows (others may
	// publish more: loadPacks). Guarded by packMu.
	packMu      sync.Mutex
	cur         *pendingPack
	sealing     []*pendingPack
	packs       []*pack
	packSeq     uint64
	badPacks    map[string]error
	packDirMod  time.Time // the pack directory's time when last read
	packDirRead time.Time // when it was last read
	packsLooked bool      // loadPacks ran at least once
}

type cachedChunk struct {
	id       ID
	base     ID // delta base the bytes were decoded with, or zero
	verified atomic.Bool
	obj      []byte
	err      error
	ready    chan struct{}
	// guarded by cacheMu: the file the bytes were decoded from, how many
	// callers use obj, and whether the entry left the cache (its buffer
	// is reused once the last user is done)
	stamp fileStamp
	refs  int
	gone  bool
}

const chunkCacheEntries = 12

// cached returns the cached decoded chunk id decoded from the file
// version st, waiting for a decode in progress, and holds it for the
// caller (release it); nil when absent or stale. When absent and claim is
// set, it registers an entry the caller must fill with fill.
func (s *DiskStore) cached(id ID, st fileStamp, claim bool) (c *cachedChunk, owner bool) {
	s.cacheMu.Lock()
	for i, c := range s.cache {
		if c.id == id {
			copy(s.cache[1:i+1], s.cache[:i])
			s.cache[0] = c
			c.refs++
			s.cacheMu.Unlock()
			<-c.ready
			s.cacheMu.Lock()
			ok := c.err == nil && c.stamp == st
			s.cacheMu.Unlock()
			if !ok {
				s.release(c)
				return nil, false
			}
			return c, false
		}
	}
	if !claim {
		s.cacheMu.Unlock()
		return nil, false
	}
	c = &cachedChunk{id: id, ready: make(chan struct{}), stamp: st, refs: 1}
	if len(s.cache) == chunkCacheEntries {
		s.leave(s.cache[len(s.cache)-1])
		s.cache = s.cache[:len(s.cache)-1]
	}
	s.cache = append(s.cache, nil)
	copy(s.cache[1:], s.cache[:len(s.cache)-1])
	s.cache[0] = c
	s.cacheMu.Unlock()
	return c, true
}

// leave marks c as out of the cache, reusing its buffer when nobody holds
// it. cacheMu must be held.
func (s *DiskStore) leave(c *cachedChunk) {
	c.gone = true
	if c.refs == 0 && c.obj != nil {
		putBuf(c.obj)
		c.obj = nil
	}
}

// release ends a use of c's bytes.
func (s *DiskStore) release(c *cachedChunk) {
	s.cacheMu.Lock()
	c.refs--
	if c.gone {
		s.leave(c)
	}
	s.cacheMu.Unlock()
}

// fill completes a claimed entry; failed decodes are dropped.
func (s *DiskStore) fill(c *cachedChunk, obj []byte, err error) {
	c.obj, c.err = obj, err
	close(c.ready)
	if err != nil {
		s.drop(c)
	}
}

var _ Store = (*DiskStore)(nil)
var _ DeltaStore = (*DiskStore)(nil)

// tmpPrefix starts the names of temporary files; gc removes old ones.
const tmpPrefix = fsys.TempPrefix

// OpenDisk opens (creating if needed) a disk store rooted at dir.
func OpenDisk(dir string) (*DiskStore, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("open object store: %w", err)
	}
	return &DiskStore{dir: dir}, nil
}

// Dir returns the store's directory.
func (s *DiskStore) Dir() string { return s.dir }

// final is the file of id once published.
func (s *DiskStore) final(id ID) string {
	h := id.String()
	return filepath.Join(s.dir, h[:2], h[2:])
}

// path is the file of id: its temporary file while the object is pending
// in a batch, else its final name. A caller that finds no file at a
// temporary path asks again (moved): the batch may have published it.
func (s *DiskStore) path(id ID) string {
	if s.npending.Load() > 0 {
		s.batchMu.Lock()
		tmp, ok := s.pending[id]
		s.batchMu.Unlock()
		if ok {
			return tmp
		}
	}
	return s.final(id)
}

// moved reports whether err says that p, a path returned by path(id), no
// longer exists because the object was published meanwhile: the caller
// retries at final(id).
func (s *DiskStore) moved(id ID, p string, err error) bool {
	return err != nil && errors.Is(err, fs.ErrNotExist) && p != s.final(id)
}

// Has reports whether the object's file, or a pack holding it, exists.
func (s *DiskStore) Has(ctx context.Context, id ID) (bool, error) {
	_, err := looseOr(s, id, false, s.packedLive, func(p string) (struct{}, error) {
		_, err := os.Lstat(p)
		return struct{}{}, err
	}, func(packLoc) (struct{}, error) { return struct{}{}, nil })
	if err == nil {
		return true, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return false, fmt.Errorf("stat object %s: %w", id, err)
}

// looseOr returns loose(p) for id's loose file p (its temporary file while
// pending, else its final name, retried there when the object was
// published meanwhile), or, when id has no loose file, packed(l) for the
// pack entry find locates. An object that Flush moves from a pending pack
// to a loose file is registered as loose before it leaves the pack: a
// second look finds one or the other. With packsFirst (reads), the
// packs this process knows are looked at first, which costs no system
// call (a failed open of the loose file for each packed object did): a
// damaged packed copy is not hidden by a loose one, and Delete (repair)
// takes an object out of its packs.
func looseOr[T any](s *DiskStore, id ID, packsFirst bool, find func(ID) (packLoc, bool), loose func(p string) (T, error), packed func(l packLoc) (T, error)) (T, error) {
	if packsFirst {
		if l, ok := s.findPacked(id, false); ok {
			v, err := packed(l)
			if !errors.Is(err, fs.ErrNotExist) {
				return v, err
			}
		}
	}
	for try := 0; ; try++ {
		p := s.path(id)
		v, err := loose(p)
		if s.moved(id, p, err) {
			v, err = loose(s.final(id))
		}
		if !errors.Is(err, fs.ErrNotExist) || try == 1 {
			return v, err
		}
		if l, ok := find(id); ok {
			v, err := packed(l)
			if !errors.Is(err, fs.ErrNotExist) {
				return v, err
			}
			// it left a pending pack for a loose file meanwhile
		}
	}
}

// findFresh is findPacked looking for packs published since it last did.
func (s *DiskStore) findFresh(id ID) (packLoc, bool) { return s.findPacked(id, true) }

// Get reads, decodes and verifies an object.
func (s *DiskStore) Get(ctx context.Context, id ID) ([]byte, error) {
	return s.GetInto(ctx, id, nil)
}

// GetInto is Get decoding into buf's backing array when it is large
// enough: the result may alias buf, never anything else.
func (s *DiskStore) GetInto(ctx context.Context, id ID, buf []byte) ([]byte, error) {
	b, rel, err := s.getSharedInto(ctx, id, 0, false, true, buf)
	if err != nil {
		return nil, err
	}
	if rel == nil {
		return b, nil // decoded for this call alone
	}
	out := append(buf[:0], b...)
	rel()
	return out, nil
}

// getShared is get through the chunk cache. When rel is not nil the
// result belongs to the cache: it must not be modified, and rel must be
// called once the caller is done with it. Only objects read as delta
// bases (insert) enter the cache: they are the ones many reads share.
// Unless verify is set, the bytes may be unverified (see cache).
func (s *DiskStore) getShared(ctx context.Context, id ID, depth int, insert, verify bool) (b []byte, rel func(), err error) {
	return s.getSharedInto(ctx, id, depth, insert, verify, nil)
}

// getSharedInto is getShared decoding into buf when the result is not the
// cache's.
func (s *DiskStore) getSharedInto(ctx context.Context, id ID, depth int, insert, verify bool, buf []byte) (b []byte, rel func(), err error) {
	if !insert && !s.inCache(id) {
		// nothing to share and none to keep: not worth a stat (most reads,
		// and a merge of thousands of tensors reads tens of thousands)
		b, _, err = s.get(ctx, id, depth, true, buf)
		return b, nil, err
	}
	st, statErr := s.stamp(id)
	if statErr != nil {
		b, _, err = s.get(ctx, id, depth, true, buf)
		return b, nil, err
	}
	c, owner := s.cached(id, st, insert)
	if !owner {
		if c != nil {
			if verify && (!c.verified.Load() || s.strict.Load()) {
				if got := Sum(c.obj); got != id {
					s.drop(c)
					s.release(c)
					return nil, nil, &CorruptError{ID: id, Err: fmt.Errorf("content hashes to %s", got)}
				}
				s.markVerified(c)
			}
			return c.obj, func() { s.release(c) }, nil
		}
		b, _, err = s.get(ctx, id, depth, true, buf) // absent, stale, or a failed decode
		return b, nil, err
	}
	// this goroutine decodes, into a reused buffer; concurrent readers of
	// id wait for it
	b, base, verified, err := s.getSum(ctx, id, depth, verify, getBuf(0))
	c.base = base
	c.verified.Store(verified)
	s.fill(c, b, err)
	if err != nil {
		s.release(c)
		return nil, nil, err
	}
	return b, func() { s.release(c) }, nil
}

// SetStrict makes every read hash the object it returns, as if no stored
// form carried a checksum (fsck: a checksum catches a damaged disk, not a
// deliberately altered file). It returns the previous setting.
func (s *DiskStore) SetStrict(on bool) bool { return s.strict.Swap(on) }

// markVerified records that c's bytes are right, and so are those of the
// cached bases they were decoded from.
func (s *DiskStore) markVerified(c *cachedChunk) {
	for i := 0; c != nil && i <= MaxDeltaDepth; i++ {
		if c.verified.Swap(true) || c.base.IsZero() {
			return
		}
		c = s.lookup(c.base)
	}
}

// lookup returns the complete, successful cache entry for id, or nil.
func (s *DiskStore) lookup(id ID) *cachedChunk {
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	return s.readyLocked(id)
}

// inCache reports whether the cache has an entry for id, complete or not.
func (s *DiskStore) inCache(id ID) bool {
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	for _, c := range s.cache {
		if c.id == id {
			return true
		}
	}
	return false
}

// readyLocked is lookup with cacheMu held.
func (s *DiskStore) readyLocked(id ID) *cachedChunk {
	for _, c := range s.cache {
		if c.id == id {
			select {
			case <-c.ready:
				if c.err == nil {
					return c
				}
			default:
			}
			return nil
		}
	}
	return nil
}

// drop removes c from the cache.
func (s *DiskStore) drop(c *cachedChunk) {
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	for i, e := range s.cache {
		if e == c {
			s.cache = append(s.cache[:i], s.cache[i+1:]...)
			s.leave(c)
			return
		}
	}
}

// hold returns the complete, successful cache entry for id held for the
// caller (release it), or nil.
func (s *DiskStore) hold(id ID) *cachedChunk {
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	c := s.readyLocked(id)
	if c != nil {
		c.refs++
	}
	return c
}

// fileStamp identifies one version of an object's file: a cached decode
// is used only while the file is the one it was decoded from.
// A packed object's stamp is its pack's inode and its place in it (the
// bytes there never change; the pack's time does, when reused).
type fileStamp struct {
	ino, size uint64
	mtime     int64
	off       int64 // in a pack; -1 for a pending pack's entry
}

func (s *DiskStore) stamp(id ID) (fileStamp, error) {
	return looseOr(s, id, true, s.findFresh, func(p string) (fileStamp, error) {
		fi, err := os.Stat(p)
		if err != nil {
			return fileStamp{}, err
		}
		st := fileStamp{size: uint64(fi.Size()), mtime: fi.ModTime().UnixNano()}
		st.ino = fsys.IdentityOf(fi).Ino
		return st, nil
	}, func(l packLoc) (fileStamp, error) {
		if l.pk == nil {
			return fileStamp{size: uint64(l.e.n), off: -1}, nil
		}
		return fileStamp{ino: l.pk.ino, size: uint64(l.e.n), off: l.e.off}, nil
	})
}

// get reads and decodes id, verifying it when verify is set, and returns
// the delta base it was decoded with (zero if none). A form that carries
// a checksum is always checked against it, and that check is the
// verification (design §6): the id was computed from, or checked against,
// the same bytes when the object was written. Other forms are hashed.
func (s *DiskStore) get(ctx context.Context, id ID, depth int, verify bool, into []byte) ([]byte, ID, error) {
	obj, base, _, err := s.getSum(ctx, id, depth, verify, into)
	return obj, base, err
}

// getSum is get that also reports whether the result is verified.
func (s *DiskStore) getSum(ctx context.Context, id ID, depth int, verify bool, into []byte) ([]byte, ID, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, ZeroID, false, err
	}
	for try := 0; ; try++ {
		b, done, mapped, inPack, err := s.readStored(id)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, ZeroID, false, &NotFoundError{ID: id}
			}
			return nil, ZeroID, false, fmt.Errorf("read object %s: %w", id, err)
		}
		obj, base, ok, err := s.decodeSum(ctx, id, b, mapped, depth, verify, into)
		done()
		var ce *CorruptError
		if err != nil && inPack != "" && errors.As(err, &ce) && ce.ID == id {
			if _, serr := os.Lstat(inPack); errors.Is(serr, fs.ErrNotExist) && try == 0 {
				// a pack another process replaced (fsck --repair took the
				// object out of it): read the packs again, and the object
				s.loadPacks(true)
				continue
			}
			ce.Err = fmt.Errorf("in pack %s: %w", inPack, ce.Err)
		}
		return obj, base, ok, err
	}
}

// readStored returns id's stored form and the function that releases it
// (see readObjectFile): from its loose file (pending or published) when
// there is one, else from a pack, whose file it names.
func (s *DiskStore) readStored(id ID) (b []byte, done func(), mapped bool, inPack string, err error) {
	type read struct {
		b      []byte
		done   func()
		mapped bool
	}
	r, err := looseOr(s, id, true, s.findFresh, func(p string) (read, error) {
		b, done, mapped, err := readObjectFile(p)
		return read{b, done, mapped}, err
	}, func(l packLoc) (read, error) {
		if l.pk != nil {
			inPack = l.pk.path
		}
		b, err := s.readPacked(l)
		if err != nil {
			return read{}, err
		}
		return read{b, func() { putBuf(b) }, false}, nil
	})
	return r.b, r.done, r.mapped, inPack, err
}

// decodeSum is getSum for the stored form b of id (mapped: a mapped file,
// see guardFault).
func (s *DiskStore) decodeSum(ctx context.Context, id ID, b []byte, mapped bool, depth int, verify bool, into []byte) ([]byte, ID, bool, error) {
	var err error
	var baseID ID
	var baseRel func()
	var obj []byte
	var summed bool
	decode := func() error {
		obj, summed, err = decodeStoredSum(b, func(base ID) ([]byte, error) {
			if depth >= MaxDeltaDepth {
				return nil, fmt.Errorf("delta chain deeper than %d", MaxDeltaDepth)
			}
			baseID = base
			b, rel, err := s.getShared(ctx, base, depth+1, true, false)
			baseRel = rel
			return b, err
		}, into)
		return nil
	}
	if mapped {
		if ferr := guardFault(decode); ferr != nil {
			obj, summed, err = nil, false, ferr
		}
	} else {
		decode()
	}
	if baseRel != nil {
		baseRel()
	}
	var bad *sumError
	if errors.As(err, &bad) {
		// like a wrong hash below: the base may be the broken one
		return nil, ZeroID, false, s.badContent(id, baseID, err)
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, ZeroID, false, ctx.Err()
		}
		// A broken or missing delta base makes this object unreadable too.
		return nil, ZeroID, false, &CorruptError{ID: id, Err: err}
	}
	if summed && !s.strict.Load() {
		// the checksum held: so did the base's bytes it was decoded with
		if !baseID.IsZero() {
			if c := s.lookup(baseID); c != nil {
				s.markVerified(c)
			}
		}
		return obj, baseID, true, nil
	}
	if !verify {
		return obj, baseID, false, nil
	}
	if got := Sum(obj); got != id {
		return nil, ZeroID, false, s.badContent(id, baseID, fmt.Errorf("content hashes to %s", got))
	}
	if !baseID.IsZero() {
		if c := s.lookup(baseID); c != nil {
			s.markVerified(c)
		}
	}
	return obj, baseID, true, nil
}

// badContent is the error for id decoded (against baseID, when not zero)
// to wrong content: it names the base when the base is the broken one,
// which leaves the cache to be decoded afresh next time.
func (s *DiskStore) badContent(id, baseID ID, err error) error {
	if !baseID.IsZero() {
		if c := s.hold(baseID); c != nil {
			var bsum ID
			if !c.verified.Load() {
				s.drop(c)
				bsum = Sum(c.obj)
			}
			s.release(c)
			if !bsum.IsZero() && bsum != baseID {
				return &CorruptError{ID: id, Err: fmt.Errorf("delta base %s: %w", baseID.Short(), &CorruptError{ID: baseID, Err: fmt.Errorf("content hashes to %s", bsum)})}
			}
		}
	}
	return &CorruptError{ID: id, Err: err}
}

// DeltaBase returns the base of a delta-encoded object, or ZeroID.
func (s *DiskStore) DeltaBase(ctx context.Context, id ID) (ID, error) {
	si, _, err := s.header(id)
	if err != nil {
		return ZeroID, err
	}
	if si.enc == encDelta {
		return si.base, nil
	}
	return ZeroID, nil
}

// header reads the start of id's stored form: its parsed header (not the
// payload) and the size of its wire form (without the local checksum).
func (s *DiskStore) header(id ID) (storedInfo, int64, error) {
	f, err := s.openObject(id)
	if err != nil {
		return storedInfo{}, 0, err
	}
	defer f.Close()
	return readHeader(f, id)
}

// openObject is open with the store's errors: *NotFoundError when id is
// absent.
func (s *DiskStore) openObject(id ID) (*objReader, error) {
	f, err := s.open(id)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &NotFoundError{ID: id}
	}
	if err != nil {
		return nil, fmt.Errorf("read object %s: %w", id, err)
	}
	return f, nil
}

// readHeader is header for the open stored form f of id.
func readHeader(f *objReader, id ID) (storedInfo, int64, error) {
	var hdr [deltaHeader]byte
	n, err := f.ReadAt(hdr[:], 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return storedInfo{}, 0, &CorruptError{ID: id, Err: err}
	}
	size := f.n
	if n >= 3 && hdr[2]&flagSum != 0 {
		hdr[2] &^= flagSum // a header, not the whole form: no checksum to strip
		size -= sumSize
	}
	si, err := parseStored(hdr[:n])
	if err != nil {
		return storedInfo{}, 0, &CorruptError{ID: id, Err: err}
	}
	return si, size, nil
}

// openStat opens the file p for reading and returns it with its details.
func openStat(p string) (*os.File, os.FileInfo, error) {
	f, err := fsys.Open(p)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}

// open opens id's stored form for reading: its loose file, else its pack
// entry.
func (s *DiskStore) open(id ID) (*objReader, error) {
	return looseOr(s, id, true, s.findFresh, func(p string) (*objReader, error) {
		f, fi, err := openStat(p)
		if err != nil {
			return nil, err
		}
		return &objReader{f: f, ra: f, n: fi.Size(), own: true}, nil
	}, func(l packLoc) (*objReader, error) {
		if l.pk != nil {
			return &objReader{ra: l.pk.file, off: l.e.off, n: l.e.n, pack: l.pk.path}, nil
		}
		s.packMu.Lock()
		b, err := l.pp.read(l.e, make([]byte, l.e.n))
		s.packMu.Unlock()
		if err != nil {
			return nil, err
		}
		return &objReader{mem: b, n: l.e.n}, nil
	})
}

// objReader reads one stored form: a loose file (own: closed by Close), a
// section of a pack file, or a copy of a pending pack's bytes (mem).
type objReader struct {
	f      *os.File    // the loose file (own)
	ra     io.ReaderAt // f, or the pack file
	off, n int64
	own    bool
	mem    []byte
	pack   string // the pack file, when in one
}

// ReadAt reads within the stored form.
func (r *objReader) ReadAt(p []byte, off int64) (int, error) {
	if off >= r.n {
		return 0, io.EOF
	}
	want := len(p)
	if int64(want) > r.n-off {
		p = p[:r.n-off]
	}
	var n int
	var err error
	if r.mem != nil {
		n = copy(p, r.mem[off:])
	} else {
		n, err = r.ra.ReadAt(p, r.off+off)
	}
	if err == nil && n < want {
		err = io.EOF
	}
	return n, err
}

// Close closes a loose file.
func (r *objReader) Close() error {
	if r.own {
		return r.f.Close()
	}
	return nil
}

// deltaDepth returns the depth of id's stored form: 0 unless a delta.
func (s *DiskStore) deltaDepth(id ID) (int, error) {
	f, err := s.open(id)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var hdr [5]byte
	if _, err := f.ReadAt(hdr[:], 0); err != nil {
		return 0, err
	}
	if hdr[0] == storedMagic0 && hdr[1] == storedMagic1 && hdr[2]&^flagSum == encDelta {
		return int(hdr[4]), nil
	}
	return 0, nil
}

// Put stores obj unless an object with its id is already there, in which
// case it only refreshes the modification time of that file and of its
// delta bases (so that a concurrent gc, which spares recent files, cannot
// remove an object a writer has just decided to reuse). A delta base it
// uses is refreshed the same way.
func (s *DiskStore) Put(ctx context.Context, obj []byte, opts PutOptions) (ID, error) {
	if err := checkPut(obj); err != nil {
		return ZeroID, err
	}
	if err := ctx.Err(); err != nil {
		return ZeroID, err
	}
	return s.putKnown(ctx, Sum(obj), obj, opts)
}

// putKnown is Put for a caller that has just computed id = Sum(obj) (the
// Writer hashes every piece once, in its reading goroutine).
func (s *DiskStore) putKnown(ctx context.Context, id ID, obj []byte, opts PutOptions) (ID, error) {
	now := time.Now()
	if s.touch(ctx, id, now) {
		return id, nil
	}
	var base []byte
	depth := 0
	if !opts.DeltaBase.IsZero() && opts.ElemSize > 0 && s.touch(ctx, opts.DeltaBase, now) {
		if d, err := s.deltaDepth(opts.DeltaBase); err == nil && d < MaxDeltaDepth {
			// not kept in the cache: a new version's piece is the only
			// delta against its parent's (a cached copy would hold a
			// buffer for nothing); decoded into a pooled buffer of the
			// base's size, which is obj's (a piece-sized one for each
			// small piece, with many in flight, was allocated and zeroed
			// anew: most of the CPU time of merging thousands of small
			// tensors)
			if b, rel, err := s.getSharedInto(ctx, opts.DeltaBase, 0, false, true, getBuf(len(obj))); err == nil {
				base, depth = b, d
				if rel != nil {
					defer rel()
				} else {
					defer putBuf(b)
				}
			}
		}
	}
	stored := encodeStored(obj, opts, base, depth)
	err := s.writeObject(id, stored)
	putBuf(stored)
	if err != nil {
		return ZeroID, fmt.Errorf("write object %s: %w", id, err)
	}
	return id, nil
}

// touch refreshes the modification time of id and of the delta bases
// its stored form depends on, so that gc's grace period covers all of
// them. It reports whether id exists.
func (s *DiskStore) touch(ctx context.Context, id ID, now time.Time) bool {
	if s.chtimes(id, now) != nil {
		return false
	}
	for i := 0; i < MaxDeltaDepth; i++ {
		base, err := s.DeltaBase(ctx, id)
		if err != nil || base.IsZero() || s.chtimes(base, now) != nil {
			break
		}
		id = base
	}
	return true
}

// chtimes sets the modification time of id's file, keeping a cached
// decode of that file valid: only the time changed, not the file.
func (s *DiskStore) chtimes(id ID, now time.Time) error {
	// the file's version before, for a cached decode of it (not worth a
	// stat when none is cached: most puts are of new objects)
	old, stampErr := fileStamp{}, fs.ErrNotExist
	if s.inCache(id) {
		old, stampErr = s.stamp(id)
	}
	p := s.path(id)
	err := os.Chtimes(p, now, now)
	if s.moved(id, p, err) {
		err = os.Chtimes(s.final(id), now, now)
	}
	if errors.Is(err, fs.ErrNotExist) {
		err = s.chtimesPacked(id, now, err)
	}
	if err != nil {
		return err
	}
	if stampErr == nil {
		s.restamp(id, old)
	}
	return nil
}

// restamp moves id's cache entry decoded from the file version old to the
// file's current version.
func (s *DiskStore) restamp(id ID, old fileStamp) {
	st, err := s.stamp(id)
	if err != nil || st.ino != old.ino || st.size != old.size {
		return
	}
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	for _, c := range s.cache {
		if c.id == id {
			if c.stamp == old {
				c.stamp = st
			}
			return
		}
	}
}

// writeFile atomically creates p holding data.
func (s *DiskStore) writeFile(p string, data []byte) error {
	return fsys.WriteFile(p, fsys.OncePerm, data)
}

// Delete removes an object's file, and the object from any pack or
// pending pack holding it.
func (s *DiskStore) Delete(ctx context.Context, id ID) error {
	s.batchMu.Lock()
	if tmp, ok := s.pending[id]; ok {
		os.Remove(tmp)
		delete(s.pending, id)
		s.npending.Add(-1)
	}
	s.batchMu.Unlock()
	err := os.Remove(s.final(id))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete object %s: %w", id, err)
	}
	return s.deletePacked(id)
}

// DeleteUnlessReused removes id's file unless it was written or reused
// after cutoff, also while a writer reuses it at the same moment (GC's
// last step). The file is first renamed aside, under a temporary name, and
// its time read again there: a reuse before the rename has touched it, so
// it is renamed back; a reuse after the rename finds no file and writes
// the object again. It reports whether id was removed. An object in an
// open batch is never removed. A crash between the two renames leaves the
// file aside, where RemoveStaleTemp deletes it once it is older than the
// grace period.
func (s *DiskStore) DeleteUnlessReused(ctx context.Context, id ID, cutoff time.Time) (bool, error) {
	s.batchMu.Lock()
	_, pending := s.pending[id]
	s.batchMu.Unlock()
	if pending {
		return false, nil
	}
	final := s.final(id)
	var r [8]byte
	rand.Read(r[:])
	aside := filepath.Join(filepath.Dir(final), tmpPrefix+"gc-"+hex.EncodeToString(r[:]))
	if err := fsys.Rename(final, aside); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return false, fmt.Errorf("delete object %s: %w", id, err)
	}
	fi, err := os.Stat(aside)
	if err == nil && !fi.ModTime().After(cutoff) {
		if err := os.Remove(aside); err != nil {
			return false, fmt.Errorf("delete object %s: %w", id, err)
		}
		return true, nil
	}
	// Reused since GC looked: put it back, unless a writer has already
	// written it again (same content), which then stays.
	if _, err := os.Lstat(final); err == nil {
		os.Remove(aside)
		return false, nil
	}
	if err := fsys.Rename(aside, final); err != nil {
		return false, fmt.Errorf("restore object %s reused during gc: %w", id, err)
	}
	return false, nil
}

// List calls fn for every object file and every object in a pack, each id
// once. Temporary files and pending packs are skipped.
func (s *DiskStore) List(ctx context.Context, fn func(ID) error) error {
	s.loadPacks(false)
	s.packMu.Lock()
	packs := slices.Clone(s.packs)
	s.packMu.Unlock()
	var seen map[ID]bool
	if len(packs) > 0 {
		seen = map[ID]bool{}
		inner := fn
		fn = func(id ID) error {
			if seen[id] {
				return nil
			}
			seen[id] = true
			return inner(id)
		}
	}
	if err := s.listLoose(ctx, fn); err != nil {
		return err
	}
	for _, pk := range packs {
		for _, e := range pk.entries {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := fn(e.id); err != nil {
				return err
			}
		}
	}
	return nil
}

// listLoose calls fn for every object file.
func (s *DiskStore) listLoose(ctx context.Context, fn func(ID) error) error {
	shards, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("list objects: %w", err)
	}
	for _, sh := range shards {
		if !sh.IsDir() || len(sh.Name()) != 2 {
			continue
		}
		names, err := os.ReadDir(filepath.Join(s.dir, sh.Name()))
		if err != nil {
			return fmt.Errorf("list objects: %w", err)
		}
		for _, n := range names {
			if err := ctx.Err(); err != nil {
				return err
			}
			if strings.HasPrefix(n.Name(), tmpPrefix) {
				continue
			}
			id, err := ParseID(sh.Name() + n.Name())
			if err != nil {
				continue // not ours
			}
			if err := fn(id); err != nil {
				return err
			}
		}
	}
	return nil
}

// ModTime returns when the object's file was last written or reused (for
// a packed object, when its pack was last written or any object in it
// reused).
func (s *DiskStore) ModTime(id ID) (time.Time, error) {
	t, err := looseOr(s, id, false, s.packedLive, func(p string) (time.Time, error) {
		fi, err := os.Stat(p)
		if err != nil {
			return time.Time{}, err
		}
		return fi.ModTime(), nil
	}, func(l packLoc) (time.Time, error) {
		if l.pk == nil {
			return time.Now(), nil // pending: being written
		}
		fi, err := os.Stat(l.pk.path)
		if err != nil {
			return time.Time{}, err
		}
		return fi.ModTime(), nil
	})
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return time.Time{}, &NotFoundError{ID: id}
		}
		return time.Time{}, err
	}
	return t, nil
}

// MinTempAge is the least age at which gc removes a temporary file,
// whatever its grace period: a writer creates its temporary file before
// it can register it as pending or rename it into place, and a short
// grace period (tests use a nanosecond) must not pull the file from under
// a writer in that window.
const MinTempAge = time.Hour

// RemoveStaleTemp deletes temporary files older than age, left behind by
// killed writers. It returns how many it removed.
func (s *DiskStore) RemoveStaleTemp(age time.Duration) (int, error) {
	shards, err := os.ReadDir(s.dir)
	if err != nil {
		return 0, err
	}
	n := 0
	cutoff := time.Now().Add(-age)
	for _, sh := range shards {
		if !sh.IsDir() {
			continue
		}
		d := filepath.Join(s.dir, sh.Name())
		names, err := os.ReadDir(d)
		if err != nil {
			return n, err
		}
		for _, e := range names {
			if !strings.HasPrefix(e.Name(), tmpPrefix) || s.isPending(filepath.Join(d, e.Name())) || s.isPendingPack(filepath.Join(d, e.Name())) {
				continue
			}
			if fi, err := e.Info(); err == nil && fi.ModTime().Before(cutoff) {
				if os.Remove(filepath.Join(d, e.Name())) == nil {
					n++
				}
			}
		}
	}
	return n, nil
}
