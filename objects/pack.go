package objects

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/fed-vcs/fed/internal/fsys"
)

// Packs (design §2, §13): the small objects a batch writes go into one
// file, objects/pack/<64 hex>.pack, instead of a file each. Creating a
// file costs the file system far more than writing its bytes (tens of
// microseconds to most of a millisecond of kernel time on ext4, and some
// seven system calls), and a model of thousands of small tensors is
// thousands of small objects.
//
// A pack is:
//
//	magic       8 bytes "FEDPACK\x01"
//	objects     the stored form of each object (exactly the bytes its loose
//	            file would hold, checksum included), one after another
//	index       count entries of 44 bytes, sorted by id, ids distinct:
//	            id (32 bytes), offset of the stored form from the start of
//	            the file (uint64 LE), its length (uint32 LE)
//	trailer     24 bytes: offset of the index (uint64 LE), count (uint32
//	            LE), CRC-32C of the index (uint32 LE), "FEDPEND\x01"
//
// Every entry lies between the magic and the index, none overlaps
// another, none is empty. The file's name is the SHA-256 of its index.

const (
	// PackMaxStored is the largest stored form a batch writes into a pack;
	// larger ones stay loose files (their own file costs little beside
	// their bytes). A 4 MiB tensor piece is above it.
	PackMaxStored = 1 << 20
	// PackMinObjects is the least number of small objects a batch packs:
	// a batch with fewer publishes them as loose files, as without packs
	// (Git's transfer.unpackLimit plays the same part).
	PackMinObjects = 32
	// packMemBuffer is how many bytes of a pending pack are kept in memory
	// before they are written to its temporary file.
	packMemBuffer = 4 << 20

	packMagic       = "FEDPACK\x01"
	packEndMagic    = "FEDPEND\x01"
	packEntrySize   = 32 + 8 + 4
	packTrailerSize = 8 + 4 + 4 + 8
	packSuffix      = ".pack"
	// PackDir is the directory of packs inside the object directory.
	PackDir = "pack"
)

var crc32c = crc32.MakeTable(crc32.Castagnoli)

// packEntry locates one object in a pack.
type packEntry struct {
	id  ID
	off int64
	n   int64
}

// pack is a published pack file this process has opened and indexed.
type pack struct {
	path    string
	file    *fileAt // a pack removed meanwhile is still read where kept open
	ino     uint64
	seq     uint64      // when this process learnt of it (see loadPacks)
	entries []packEntry // sorted by id
}

func (p *pack) find(id ID) (packEntry, bool) {
	i := sort.Search(len(p.entries), func(i int) bool { return bytes.Compare(p.entries[i].id[:], id[:]) >= 0 })
	if i < len(p.entries) && p.entries[i].id == id {
		return p.entries[i], true
	}
	return packEntry{}, false
}

// pendingPack collects the small objects written while a batch is open.
// Its bytes are those of the pack file to be, up to the index: the first
// fileLen bytes in its temporary file (created once the memory buffer
// fills), the rest in mem.
type pendingPack struct {
	file    *fileAt // nil until the first spill
	fileLen int64   // bytes of the file written or being written
	mem     []byte
	entries map[ID]packEntry
	// flying are the buffers being written to the file outside packMu
	// (spillLater), read from memory until written; flights counts them
	// and werr keeps the first failure, which fails the publication.
	flying  []flight
	flights sync.WaitGroup
	werr    error
	mu      *sync.Mutex // the store's packMu, which guards all of the above
}

// flight is a buffer of a pending pack on its way to the file at off.
type flight struct {
	off int64
	b   []byte
}

func newPendingPack(mu *sync.Mutex) *pendingPack {
	return &pendingPack{mem: append(make([]byte, 0, 64<<10), packMagic...), entries: map[ID]packEntry{}, mu: mu}
}

// size is the length of the pending pack's data.
func (pp *pendingPack) size() int64 { return pp.fileLen + int64(len(pp.mem)) }

// ensureFile creates the pending pack's temporary file in dir unless it
// has one.
func (pp *pendingPack) ensureFile(dir string) error {
	if pp.file != nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := fsys.CreateTemp(dir, fsys.OncePerm)
	if err != nil {
		return err
	}
	pp.file = keep(f)
	return nil
}

// spill writes the memory buffer to the temporary file in dir.
func (pp *pendingPack) spill(dir string) error {
	if err := pp.ensureFile(dir); err != nil {
		return err
	}
	if _, err := pp.file.WriteAt(pp.mem, pp.fileLen); err != nil {
		return err
	}
	pp.fileLen += int64(len(pp.mem))
	pp.mem = pp.mem[:0]
	return nil
}

// spillLater hands the memory buffer to the temporary file in dir like
// spill, but returns the write for the caller to make after it released
// packMu: a 4 MiB write into the page cache takes milliseconds, and every
// writer and reader of the store would wait for it under the lock. Until
// the write is done the buffer is read from memory (read). The returned
// write reports the failure, which also fails the pack's publication.
// packMu must be held.
func (pp *pendingPack) spillLater(dir string) (func() error, error) {
	if err := pp.ensureFile(dir); err != nil {
		return nil, err
	}
	fl := flight{off: pp.fileLen, b: pp.mem}
	file := pp.file
	pp.flying = append(pp.flying, fl)
	pp.fileLen += int64(len(fl.b))
	pp.mem = make([]byte, 0, packMemBuffer)
	pp.flights.Add(1)
	return func() error {
		_, err := file.WriteAt(fl.b, fl.off)
		pp.landed(fl, err)
		return err
	}, nil
}

// landed records that the flight fl was written (or failed with err).
func (pp *pendingPack) landed(fl flight, err error) {
	pp.mu.Lock()
	pp.flying = slices.DeleteFunc(pp.flying, func(x flight) bool { return x.off == fl.off })
	if err != nil && pp.werr == nil {
		pp.werr = fmt.Errorf("write pending pack: %w", err)
	}
	pp.mu.Unlock()
	pp.flights.Done()
}

// settle waits for the pending pack's writes in flight and returns the
// first failure of any.
func (pp *pendingPack) settle() error {
	pp.flights.Wait()
	pp.mu.Lock()
	defer pp.mu.Unlock()
	return pp.werr
}

// read returns a copy of e's bytes, fs.ErrNotExist when e left pp (for a
// loose file). packMu must be held.
func (pp *pendingPack) read(e packEntry, into []byte) ([]byte, error) {
	if _, ok := pp.entries[e.id]; !ok {
		return nil, fs.ErrNotExist
	}
	b := into[:e.n]
	for _, fl := range pp.flying {
		if e.off >= fl.off && e.off+e.n <= fl.off+int64(len(fl.b)) {
			copy(b, fl.b[e.off-fl.off:])
			return b, nil
		}
	}
	if e.off < pp.fileLen && pp.file == nil {
		return nil, errors.New("pending pack file lost")
	}
	if e.off >= pp.fileLen {
		copy(b, pp.mem[e.off-pp.fileLen:])
		return b, nil
	}
	if _, err := pp.file.ReadAt(b, e.off); err != nil {
		return nil, err
	}
	return b, nil
}

// discard closes and removes the temporary file.
func (pp *pendingPack) discard() {
	pp.flights.Wait()
	if pp.file != nil {
		pp.file.Close()
		os.Remove(pp.file.name)
	}
}

// packIndex returns the index and trailer of a pack holding entries
// (sorted by id here) whose data ends at dataEnd.
func packIndex(entries []packEntry, dataEnd int64) []byte {
	slices.SortFunc(entries, func(a, b packEntry) int { return bytes.Compare(a.id[:], b.id[:]) })
	b := make([]byte, 0, len(entries)*packEntrySize+packTrailerSize)
	for _, e := range entries {
		b = append(b, e.id[:]...)
		b = binary.LittleEndian.AppendUint64(b, uint64(e.off))
		b = binary.LittleEndian.AppendUint32(b, uint32(e.n))
	}
	crc := crc32.Checksum(b, crc32c)
	b = binary.LittleEndian.AppendUint64(b, uint64(dataEnd))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(entries)))
	b = binary.LittleEndian.AppendUint32(b, crc)
	return append(b, packEndMagic...)
}

// packName is the file name of a pack with this index (packIndex's
// result, trailer included).
func packName(indexAndTrailer []byte) string {
	sum := sha256.Sum256(indexAndTrailer[:len(indexAndTrailer)-packTrailerSize])
	return hex.EncodeToString(sum[:]) + packSuffix
}

// PackError reports a pack file whose structure is damaged: none of its
// objects can be located.
type PackError struct {
	Path string
	Err  error
}

func (e *PackError) Error() string {
	return fmt.Sprintf("objects: pack %s is damaged: %v", e.Path, e.Err)
}
func (e *PackError) Unwrap() error { return e.Err }

// readPackIndex reads and checks the index of a pack of size bytes.
func readPackIndex(r io.ReaderAt, size int64) ([]packEntry, error) {
	if size < int64(len(packMagic))+packTrailerSize {
		return nil, fmt.Errorf("%d bytes, too short for a pack", size)
	}
	var head [len(packMagic)]byte
	if _, err := r.ReadAt(head[:], 0); err != nil {
		return nil, err
	}
	if string(head[:]) != packMagic {
		return nil, errors.New("no pack magic at its start")
	}
	var tr [packTrailerSize]byte
	if _, err := r.ReadAt(tr[:], size-packTrailerSize); err != nil {
		return nil, err
	}
	if string(tr[16:]) != packEndMagic {
		return nil, errors.New("no pack end magic in its trailer")
	}
	indexOff := binary.LittleEndian.Uint64(tr[0:])
	count := uint64(binary.LittleEndian.Uint32(tr[8:]))
	crc := binary.LittleEndian.Uint32(tr[12:])
	indexEnd := uint64(size - packTrailerSize)
	if indexOff < uint64(len(packMagic)) || indexOff > indexEnd || (indexEnd-indexOff) != count*packEntrySize {
		return nil, fmt.Errorf("trailer gives an index of %d entries at offset %d, not where the index of a %d-byte file ends", count, indexOff, size)
	}
	idx := make([]byte, indexEnd-indexOff)
	if _, err := r.ReadAt(idx, int64(indexOff)); err != nil {
		return nil, err
	}
	if got := crc32.Checksum(idx, crc32c); got != crc {
		return nil, fmt.Errorf("index checksum %08x, trailer says %08x", got, crc)
	}
	entries := make([]packEntry, count)
	for i := range entries {
		b := idx[i*packEntrySize:]
		e := &entries[i]
		copy(e.id[:], b[:32])
		off := binary.LittleEndian.Uint64(b[32:])
		n := uint64(binary.LittleEndian.Uint32(b[40:]))
		if n == 0 || off < uint64(len(packMagic)) || off > indexOff || n > indexOff-off {
			return nil, fmt.Errorf("entry %d (object %s): %d bytes at offset %d, outside the pack's data (%d to %d)", i, e.id.Short(), n, off, len(packMagic), indexOff)
		}
		e.off, e.n = int64(off), int64(n)
		if i > 0 && bytes.Compare(entries[i-1].id[:], e.id[:]) >= 0 {
			return nil, fmt.Errorf("entry %d (object %s): index not sorted by id or id repeated", i, e.id.Short())
		}
	}
	byOff := slices.Clone(entries)
	slices.SortFunc(byOff, func(a, b packEntry) int { return int(a.off - b.off) })
	for i := 1; i < len(byOff); i++ {
		if byOff[i-1].off+byOff[i-1].n > byOff[i].off {
			return nil, fmt.Errorf("objects %s and %s overlap", byOff[i-1].id.Short(), byOff[i].id.Short())
		}
	}
	return entries, nil
}

// openPack opens and indexes the pack at path.
func openPack(path string) (*pack, error) {
	f, fi, err := openStat(path)
	if err != nil {
		return nil, err
	}
	entries, err := readPackIndex(f, fi.Size())
	if err != nil {
		f.Close()
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, &PackError{Path: path, Err: err}
	}
	return &pack{path: path, file: keep(f), ino: fsys.IdentityOf(fi).Ino, entries: entries}, nil
}

// packDir is the directory of packs.
func (s *DiskStore) packDir() string { return filepath.Join(s.dir, PackDir) }

// isPackName reports whether name is that of a pack file.
func isPackName(name string) bool {
	h, ok := strings.CutSuffix(name, packSuffix)
	if !ok || len(h) != 64 {
		return false
	}
	_, err := hex.DecodeString(h)
	return err == nil
}

// packLoc is where a packed object is: in a published pack or in one of
// this process's pending packs.
type packLoc struct {
	pk *pack
	pp *pendingPack
	e  packEntry
}

// findPacked locates id among this process's pending packs and the packs
// it knows. When fresh is set and id is not found, it looks for packs
// other processes published (or that gc replaced) since it last looked.
// packMu must not be held.
func (s *DiskStore) findPacked(id ID, fresh bool) (packLoc, bool) {
	s.packMu.Lock()
	l, ok := s.findPackedLocked(id)
	looked := s.packsLooked
	s.packMu.Unlock()
	if ok || (!fresh && looked) {
		return l, ok
	}
	if !s.loadPacks(false) {
		return packLoc{}, false
	}
	s.packMu.Lock()
	defer s.packMu.Unlock()
	return s.findPackedLocked(id)
}

func (s *DiskStore) findPackedLocked(id ID) (packLoc, bool) {
	if s.cur != nil {
		if e, ok := s.cur.entries[id]; ok {
			return packLoc{pp: s.cur, e: e}, true
		}
	}
	for _, pp := range s.sealing {
		if e, ok := pp.entries[id]; ok {
			return packLoc{pp: pp, e: e}, true
		}
	}
	for i := len(s.packs) - 1; i >= 0; i-- {
		if e, ok := s.packs[i].find(id); ok {
			return packLoc{pk: s.packs[i], e: e}, true
		}
	}
	return packLoc{}, false
}

// racyDir is how recent a change of the pack directory must be for its
// modification time not to be trusted to show the next change: file
// system clocks tick coarsely.
const racyDir = 2 * time.Second

// loadPacks brings the list of packs up to date with the pack directory
// (unless force is false and the directory did not change since it was
// last read) and reports whether it read the directory. Damaged packs are
// left out (BadPacks names them).
func (s *DiskStore) loadPacks(force bool) bool {
	dir := s.packDir()
	fi, err := os.Stat(dir)
	if err != nil {
		s.packMu.Lock()
		s.packsLooked = true
		s.packMu.Unlock()
		return false
	}
	now := time.Now()
	s.packMu.Lock()
	if !force && s.packDirMod.Equal(fi.ModTime()) && s.packDirRead.Sub(fi.ModTime()) > racyDir {
		s.packMu.Unlock()
		return false
	}
	seq := s.packSeq
	known := make(map[string]bool, len(s.packs))
	for _, p := range s.packs {
		known[p.path] = true
	}
	s.packMu.Unlock()
	names, err := os.ReadDir(dir)
	if err != nil {
		s.packMu.Lock()
		s.packsLooked = true
		s.packMu.Unlock()
		return false
	}
	listed := map[string]bool{}
	var added []*pack
	bad := map[string]error{}
	for _, n := range names {
		if !isPackName(n.Name()) {
			continue
		}
		p := filepath.Join(dir, n.Name())
		listed[p] = true
		if known[p] {
			continue
		}
		pk, err := openPack(p)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				bad[p] = err
			}
			continue
		}
		added = append(added, pk)
	}
	s.packMu.Lock()
	defer s.packMu.Unlock()
	// packs removed from the directory (gc) are forgotten, unless learnt
	// of after the directory was read
	kept := s.packs[:0]
	for _, p := range s.packs {
		if listed[p.path] || p.seq > seq {
			kept = append(kept, p)
		}
	}
	s.packs = kept
	have := make(map[string]bool, len(s.packs))
	for _, p := range s.packs {
		have[p.path] = true
	}
	for _, pk := range added {
		if have[pk.path] {
			pk.file.Close() // a concurrent load added it
			continue
		}
		s.packSeq++
		pk.seq = s.packSeq
		s.packs = append(s.packs, pk)
	}
	s.badPacks = bad
	s.packDirMod, s.packDirRead = fi.ModTime(), now
	s.packsLooked = true
	return true
}

// BadPacks returns the damaged pack files the store found when it last
// read the pack directory, reading it again first: fsck reports them.
func (s *DiskStore) BadPacks() []error {
	s.loadPacks(true)
	s.packMu.Lock()
	defer s.packMu.Unlock()
	var out []error
	for _, err := range s.badPacks {
		out = append(out, err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Error() < out[j].Error() })
	return out
}

// readPacked reads the stored form at l into a pooled buffer.
func (s *DiskStore) readPacked(l packLoc) ([]byte, error) {
	if l.e.n > MaxObjectSize+1<<20 {
		return nil, fmt.Errorf("pack entry of %d bytes is larger than any object", l.e.n)
	}
	b := getBuf(int(l.e.n))
	if l.pp != nil {
		s.packMu.Lock()
		out, err := l.pp.read(l.e, b)
		s.packMu.Unlock()
		if err != nil {
			putBuf(b)
		}
		return out, err
	}
	_, err := l.pk.file.ReadAt(b, l.e.off)
	if errors.Is(err, fs.ErrNotExist) {
		// not kept open, and gc rewrote it meanwhile
		s.loadPacks(true)
		if l2, ok := s.findPacked(l.e.id, false); ok && l2.pk != nil && l2.pk != l.pk && l2.e.n <= MaxObjectSize+1<<20 {
			putBuf(b)
			b = getBuf(int(l2.e.n))
			_, err = l2.pk.file.ReadAt(b, l2.e.off)
		}
	}
	if err != nil {
		putBuf(b)
		if errors.Is(err, io.EOF) {
			err = fmt.Errorf("pack %s ends within the object", l.pk.path)
		}
		return nil, err
	}
	return b, nil
}

// addPending appends a small object's stored form to the pending pack.
// When that fills the memory buffer, the buffer goes to the temporary
// file by the returned write, which the caller makes once it released
// packMu (and the batch lock). packMu must be held.
func (s *DiskStore) addPending(id ID, stored []byte) (write func() error, err error) {
	if s.cur == nil {
		s.cur = newPendingPack(&s.packMu)
	}
	pp := s.cur
	if _, dup := pp.entries[id]; dup {
		return nil, nil // a concurrent writer of the same object was first
	}
	if len(pp.mem) > 0 && len(pp.mem)+len(stored) > packMemBuffer {
		// to the file first, so that the buffer never grows past its size
		if write, err = pp.spillLater(s.packDir()); err != nil {
			return nil, err
		}
	}
	off := pp.size()
	pp.mem = append(pp.mem, stored...)
	pp.entries[id] = packEntry{id: id, off: off, n: int64(len(stored))}
	return write, nil
}

// publishPending makes the objects of pp durable and visible to every
// process: in a pack when there are at least PackMinObjects of them,
// else as loose files (deferred in s.pending, for Flush to publish).
func (s *DiskStore) publishPending(pp *pendingPack) error {
	if err := pp.settle(); err != nil {
		return fmt.Errorf("publish objects: %w", err)
	}
	if len(pp.entries) < PackMinObjects {
		return s.unpack(pp)
	}
	s.packMu.Lock()
	err := error(nil)
	if len(pp.mem) > 0 || pp.file == nil {
		err = pp.spill(s.packDir())
	}
	s.packMu.Unlock()
	if err != nil {
		return fmt.Errorf("publish objects: %w", err)
	}
	s.packMu.Lock()
	entries := make([]packEntry, 0, len(pp.entries))
	for _, e := range pp.entries {
		entries = append(entries, e)
	}
	s.packMu.Unlock()
	idx := packIndex(entries, pp.fileLen)
	path := filepath.Join(s.packDir(), packName(idx))
	renamed, werr := s.writePackFile(&pp.file, &s.packMu, pp.fileLen, idx, path)
	if !renamed {
		return werr
	}
	if pp.file == nil {
		// published, but not open here: read it as another process's
		s.packMu.Lock()
		s.sealing = slices.DeleteFunc(s.sealing, func(x *pendingPack) bool { return x == pp })
		s.packMu.Unlock()
		s.loadPacks(true)
		return werr
	}
	fi, err := os.Stat(path)
	pk := &pack{path: path, file: pp.file, entries: entries}
	if err == nil {
		pk.ino = fsys.IdentityOf(fi).Ino
	}
	s.packMu.Lock()
	s.packSeq++
	pk.seq = s.packSeq
	s.packs = append(s.packs, pk)
	s.sealing = slices.DeleteFunc(s.sealing, func(x *pendingPack) bool { return x == pp })
	s.packMu.Unlock()
	return werr
}

// writePackFile appends the index idx at dataEnd to the temporary pack
// *fp, makes it durable and renames it to path. The file is closed for
// the rename (Windows renames no file open without FILE_SHARE_DELETE) and,
// under mu, *fp replaced by the file opened again (nil if that failed), at
// its new name once renamed. It reports whether it renamed it (then only
// the directory's fsync or the new open failed, if anything).
func (s *DiskStore) writePackFile(fp **fileAt, mu sync.Locker, dataEnd int64, idx []byte, path string) (bool, error) {
	tmp := (*fp).name
	f := (*fp).f
	if f == nil {
		var err error
		if f, err = os.OpenFile(tmp, os.O_WRONLY, 0); err != nil {
			return false, fmt.Errorf("write pack: %w", err)
		}
	}
	err := error(nil)
	if _, err = f.WriteAt(idx, dataEnd); err == nil {
		if err = f.Truncate(dataEnd + int64(len(idx))); err == nil {
			err = f.Sync()
		}
	}
	mu.Lock()
	f.Close()
	rerr := err
	if rerr == nil {
		rerr = fsys.Rename(tmp, path)
	}
	at := path
	if rerr != nil {
		at = tmp
	}
	nf, oerr := openAt(at)
	*fp = nf
	mu.Unlock()
	if err != nil {
		return false, fmt.Errorf("write pack: %w", err)
	}
	if rerr != nil {
		return false, fmt.Errorf("publish pack: %w", rerr)
	}
	if oerr != nil {
		return true, fmt.Errorf("open published pack: %w", oerr)
	}
	if err := fsys.SyncDir(filepath.Dir(path)); err != nil {
		return true, fmt.Errorf("publish pack: %w", err)
	}
	return true, nil
}

// keepOpen says whether pack files stay open between reads. On Windows a
// file cannot be removed (its directory stays non-empty) while a handle
// holds it open: there a pack is opened for each read.
const keepOpen = runtime.GOOS != "windows"

// fileAt is a pack file (or a pending pack's temporary file) read and
// written at offsets: through f when kept open, else by name.
type fileAt struct {
	name string
	f    *os.File
}

// keep returns f as a fileAt, closing it unless files are kept open.
func keep(f *os.File) *fileAt {
	if keepOpen {
		return &fileAt{name: f.Name(), f: f}
	}
	f.Close()
	return &fileAt{name: f.Name()}
}

// openAt opens the file at path as a fileAt (nil on error).
func openAt(path string) (*fileAt, error) {
	if !keepOpen {
		if _, err := os.Stat(path); err != nil {
			return nil, err
		}
		return &fileAt{name: path}, nil
	}
	f, err := fsys.Open(path)
	if err != nil {
		return nil, err
	}
	return &fileAt{name: path, f: f}, nil
}

func (x *fileAt) ReadAt(b []byte, off int64) (int, error) {
	if x.f != nil {
		return x.f.ReadAt(b, off)
	}
	f, err := fsys.Open(x.name)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return f.ReadAt(b, off)
}

func (x *fileAt) WriteAt(b []byte, off int64) (int, error) {
	if x.f != nil {
		return x.f.WriteAt(b, off)
	}
	f, err := os.OpenFile(x.name, os.O_WRONLY, 0)
	if err != nil {
		return 0, err
	}
	n, err := f.WriteAt(b, off)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return n, err
}

// Close closes a file kept open.
func (x *fileAt) Close() error {
	if x.f != nil {
		return x.f.Close()
	}
	return nil
}

// unpack turns the few objects of pp into deferred loose files.
func (s *DiskStore) unpack(pp *pendingPack) error {
	buf := getBuf(0)
	defer func() { putBuf(buf) }()
	s.packMu.Lock()
	todo := maps.Clone(pp.entries)
	s.packMu.Unlock()
	for id, e := range todo {
		if cap(buf) < int(e.n) {
			putBuf(buf)
			buf = getBuf(int(e.n))
		}
		s.packMu.Lock()
		b, err := pp.read(e, buf[:cap(buf)])
		s.packMu.Unlock()
		if err != nil {
			return fmt.Errorf("publish object %s: %w", id, err)
		}
		tmp, err := writeTemp(filepath.Dir(s.final(id)), b)
		if err != nil {
			return fmt.Errorf("publish object %s: %w", id, err)
		}
		s.batchMu.Lock()
		if s.pending == nil {
			s.pending = map[ID]string{}
		}
		if _, dup := s.pending[id]; dup {
			os.Remove(tmp)
		} else {
			s.pending[id] = tmp
			s.npending.Add(1)
		}
		s.batchMu.Unlock()
		s.packMu.Lock()
		delete(pp.entries, id)
		s.packMu.Unlock()
	}
	s.packMu.Lock()
	s.sealing = slices.DeleteFunc(s.sealing, func(x *pendingPack) bool { return x == pp })
	s.packMu.Unlock()
	pp.discard()
	return nil
}

// isPendingPack reports whether tmp is the temporary file of a pending pack.
func (s *DiskStore) isPendingPack(tmp string) bool {
	s.packMu.Lock()
	defer s.packMu.Unlock()
	if s.cur != nil && s.cur.file != nil && s.cur.file.name == tmp {
		return true
	}
	for _, pp := range s.sealing {
		if pp.file != nil && pp.file.name == tmp {
			return true
		}
	}
	return false
}

// packedLive is findPacked for a caller that must not trust a pack gc
// may have removed since this process indexed it (Has, ModTime): a
// published pack's file is checked to be still there.
func (s *DiskStore) packedLive(id ID) (packLoc, bool) {
	l, ok := s.findPacked(id, true)
	if !ok || l.pk == nil {
		return l, ok
	}
	if _, err := os.Lstat(l.pk.path); err == nil {
		return l, true
	}
	s.loadPacks(true)
	l, ok = s.findPacked(id, false)
	if ok && l.pk != nil {
		if _, err := os.Lstat(l.pk.path); err != nil {
			return packLoc{}, false
		}
	}
	return l, ok
}

// chtimesPacked refreshes the time of the pack holding id (gc's grace
// period for every object in it starts again); notLoose is the error for
// id's absent loose file, returned when no pack holds id either. A pending
// pack's object needs nothing: gc does not see it.
func (s *DiskStore) chtimesPacked(id ID, now time.Time, notLoose error) error {
	l, ok := s.findPacked(id, false) // a pack published meanwhile elsewhere: written again
	if !ok {
		return notLoose
	}
	if l.pk == nil {
		return nil
	}
	err := os.Chtimes(l.pk.path, now, now)
	if errors.Is(err, fs.ErrNotExist) {
		// removed by gc, perhaps rewritten with the object
		s.loadPacks(true)
		if l, ok = s.findPacked(id, false); !ok {
			return notLoose
		}
		if l.pk == nil {
			return nil
		}
		err = os.Chtimes(l.pk.path, now, now)
	}
	return err
}

// deletePacked removes id from this process's pending packs and from every
// pack holding it (rewriting the pack without it).
func (s *DiskStore) deletePacked(id ID) error {
	s.packMu.Lock()
	if s.cur != nil {
		delete(s.cur.entries, id)
	}
	for _, pp := range s.sealing {
		delete(pp.entries, id)
	}
	s.packMu.Unlock()
	s.loadPacks(false)
	for {
		l, ok := s.findPacked(id, false)
		if !ok || l.pk == nil {
			return nil
		}
		if _, err := s.rewritePack(l.pk, func(x ID) bool { return x != id }, time.Time{}); err != nil {
			return fmt.Errorf("delete object %s: %w", id, err)
		}
	}
}

// rewritePack replaces the published pack pk by a pack of the entries keep
// accepts, published first, or removes it when keep accepts none. With a
// zero cutoff the old pack is then removed. Otherwise (gc) it is first
// renamed aside and its time read again there: a reuse of one of its
// objects since cutoff refreshed it, and it is renamed back (the kept
// objects are then in both packs); a reuse after the rename finds no
// pack and writes the object again. It reports whether pk was removed.
func (s *DiskStore) rewritePack(pk *pack, keep func(ID) bool, cutoff time.Time) (bool, error) {
	var kept []packEntry
	for _, e := range pk.entries {
		if keep(e.id) {
			kept = append(kept, e)
		}
	}
	if len(kept) == len(pk.entries) {
		return false, nil
	}
	var npk *pack
	if len(kept) > 0 {
		var err error
		if npk, err = s.copyPack(pk, kept); err != nil {
			return false, err
		}
	}
	removed := true
	if cutoff.IsZero() {
		if err := os.Remove(pk.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return false, fmt.Errorf("remove pack: %w", err)
		}
	} else {
		var r [8]byte
		rand.Read(r[:])
		aside := filepath.Join(filepath.Dir(pk.path), tmpPrefix+"gc-"+hex.EncodeToString(r[:]))
		if err := fsys.Rename(pk.path, aside); err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				return false, fmt.Errorf("remove pack: %w", err)
			}
		} else if fi, err := os.Stat(aside); err == nil && !fi.ModTime().After(cutoff) {
			if err := os.Remove(aside); err != nil {
				return false, fmt.Errorf("remove pack: %w", err)
			}
		} else {
			removed = false
			if _, err := os.Lstat(pk.path); err == nil {
				os.Remove(aside) // published again meanwhile
			} else if err := fsys.Rename(aside, pk.path); err != nil {
				return false, fmt.Errorf("restore pack %s reused during gc: %w", pk.path, err)
			}
		}
	}
	s.packMu.Lock()
	if removed {
		s.packs = slices.DeleteFunc(s.packs, func(x *pack) bool { return x == pk })
	}
	if npk != nil {
		s.packSeq++
		npk.seq = s.packSeq
		s.packs = append(s.packs, npk)
	}
	s.packMu.Unlock()
	return removed, nil
}

// copyPack writes and publishes a new pack of the entries of pk.
func (s *DiskStore) copyPack(pk *pack, entries []packEntry) (*pack, error) {
	f, err := fsys.CreateTemp(s.packDir(), fsys.OncePerm)
	if err != nil {
		return nil, fmt.Errorf("write pack: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	slices.SortFunc(entries, func(a, b packEntry) int { return int(a.off - b.off) })
	w := bufio.NewWriterSize(f, 1<<20)
	w.WriteString(packMagic)
	off := int64(len(packMagic))
	out := make([]packEntry, len(entries))
	for i, e := range entries {
		if _, err := io.Copy(w, io.NewSectionReader(pk.file, e.off, e.n)); err != nil {
			return nil, fmt.Errorf("write pack: read %s: %w", pk.path, err)
		}
		out[i] = packEntry{id: e.id, off: off, n: e.n}
		off += e.n
	}
	if err := w.Flush(); err != nil {
		return nil, fmt.Errorf("write pack: %w", err)
	}
	idx := packIndex(out, off)
	path := filepath.Join(s.packDir(), packName(idx))
	var mu sync.Mutex
	ok = true // writePackFile closes f
	fa := &fileAt{name: f.Name(), f: f}
	if renamed, err := s.writePackFile(&fa, &mu, off, idx, path); err != nil || fa == nil {
		// not published: the directory's fsync (or the open) failed
		if fa != nil {
			fa.Close()
			os.Remove(fa.name)
		}
		if renamed {
			os.Remove(path)
		}
		return nil, err
	}
	npk := &pack{path: path, file: fa, entries: out}
	if fi, err := os.Stat(path); err == nil {
		npk.ino = fsys.IdentityOf(fi).Ino
	}
	return npk, nil
}

// PackedIDs calls fn for every packed object with its pack's modification
// time, one pack after another (fn sees an id once per pack holding it).
func (s *DiskStore) packedIDs(ctx context.Context, fn func(pk *pack, mod time.Time) error) error {
	s.loadPacks(true)
	s.packMu.Lock()
	packs := slices.Clone(s.packs)
	s.packMu.Unlock()
	for _, pk := range packs {
		if err := ctx.Err(); err != nil {
			return err
		}
		fi, err := os.Stat(pk.path)
		if err != nil {
			continue // removed meanwhile
		}
		if err := fn(pk, fi.ModTime()); err != nil {
			return err
		}
	}
	return nil
}
