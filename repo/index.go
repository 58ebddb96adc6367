package repo

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/fed-vcs/fed/internal/fsys"
	"github.com/fed-vcs/fed/objects"
)

// Index is the staging area: the tree of the next commit, one entry per
// file, with the file's stat data when it was last hashed so that status
// of an unchanged tree needs no reading. The on-disk bytes are specified
// in doc/design.md ("Index").
type Index struct {
	Entries []IndexEntry // sorted by Path, then Stage
	// written is when the index file was last written: entries whose mtime
	// is not before it may have changed within the timestamp's granularity
	// ("racily clean") and are rehashed.
	written time.Time
}

// IndexEntry is one staged file.
type IndexEntry struct {
	Path  string // slash-separated, relative to the root
	Mode  uint32 // objects.ModeFile or ModeExec
	Kind  objects.Kind
	Stage uint8 // 0 normal; 1 base, 2 ours, 3.. theirs of a conflict
	ID    objects.ID
	Size  int64
	MTime int64 // unix nanoseconds
	CTime int64
	Ino   uint64
}

var indexMagic = []byte("FIDX")

const indexVersion = 1

// ErrBadIndex reports an index file that does not parse.
var ErrBadIndex = errors.New("repo: corrupt index")

func (r *Repo) indexPath() string { return filepath.Join(r.Dir, "index") }

// ReadIndex loads the index (empty when there is none yet).
func (r *Repo) ReadIndex() (*Index, error) {
	p := r.indexPath()
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return &Index{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read index: %w", err)
	}
	idx, err := decodeIndex(b)
	if err != nil {
		return nil, fmt.Errorf("index %s: %w", p, err)
	}
	if fi, err := os.Stat(p); err == nil {
		idx.written = fi.ModTime()
	}
	return idx, nil
}

func decodeIndex(b []byte) (*Index, error) {
	if len(b) < 12+sha256.Size || !bytes.Equal(b[:4], indexMagic) {
		return nil, fmt.Errorf("%w: bad header", ErrBadIndex)
	}
	body, sum := b[:len(b)-sha256.Size], b[len(b)-sha256.Size:]
	if s := sha256.Sum256(body); !bytes.Equal(s[:], sum) {
		return nil, fmt.Errorf("%w: checksum mismatch", ErrBadIndex)
	}
	if v := binary.LittleEndian.Uint32(b[4:]); v != indexVersion {
		return nil, fmt.Errorf("%w: version %d (this fed reads %d)", ErrBadIndex, v, indexVersion)
	}
	n := binary.LittleEndian.Uint32(b[8:])
	p := body[12:]
	idx := &Index{}
	const fixed = 4 + 1 + 1 + objects.IDSize + 8 + 8 + 8 + 8
	for i := uint32(0); i < n; i++ {
		l, k := binary.Uvarint(p)
		if k <= 0 || l > uint64(len(p)-k) || l == 0 {
			return nil, fmt.Errorf("%w: entry %d: bad path length", ErrBadIndex, i)
		}
		e := IndexEntry{Path: string(p[k : k+int(l)])}
		p = p[k+int(l):]
		if len(p) < fixed {
			return nil, fmt.Errorf("%w: entry %d truncated", ErrBadIndex, i)
		}
		e.Mode = binary.LittleEndian.Uint32(p)
		e.Kind = objects.Kind(p[4])
		e.Stage = p[5]
		copy(e.ID[:], p[6:])
		q := p[6+objects.IDSize:]
		e.Size = int64(binary.LittleEndian.Uint64(q))
		e.MTime = int64(binary.LittleEndian.Uint64(q[8:]))
		e.CTime = int64(binary.LittleEndian.Uint64(q[16:]))
		e.Ino = binary.LittleEndian.Uint64(q[24:])
		p = p[fixed:]
		if err := validPath(e.Path); err != nil {
			return nil, fmt.Errorf("%w: entry %d: %v", ErrBadIndex, i, err)
		}
		if len(idx.Entries) > 0 && !entryLess(idx.Entries[len(idx.Entries)-1], e) {
			return nil, fmt.Errorf("%w: entries out of order at %q", ErrBadIndex, e.Path)
		}
		idx.Entries = append(idx.Entries, e)
	}
	if len(p) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrBadIndex, len(p))
	}
	return idx, nil
}

func entryLess(a, b IndexEntry) bool {
	if a.Path != b.Path {
		return a.Path < b.Path
	}
	return a.Stage < b.Stage
}

func encodeIndex(idx *Index) []byte {
	b := append([]byte{}, indexMagic...)
	b = binary.LittleEndian.AppendUint32(b, indexVersion)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(idx.Entries)))
	for _, e := range idx.Entries {
		b = binary.AppendUvarint(b, uint64(len(e.Path)))
		b = append(b, e.Path...)
		b = binary.LittleEndian.AppendUint32(b, e.Mode)
		b = append(b, byte(e.Kind), e.Stage)
		b = append(b, e.ID[:]...)
		b = binary.LittleEndian.AppendUint64(b, uint64(e.Size))
		b = binary.LittleEndian.AppendUint64(b, uint64(e.MTime))
		b = binary.LittleEndian.AppendUint64(b, uint64(e.CTime))
		b = binary.LittleEndian.AppendUint64(b, e.Ino)
	}
	s := sha256.Sum256(b)
	return append(b, s[:]...)
}

// WriteIndex replaces the index atomically.
func (r *Repo) WriteIndex(idx *Index) error {
	sort.Slice(idx.Entries, func(i, j int) bool { return entryLess(idx.Entries[i], idx.Entries[j]) })
	r.waitFileClock(idx)
	if err := fsys.WriteFile(r.indexPath(), 0o644, encodeIndex(idx)); err != nil {
		return fmt.Errorf("write index: %w", err)
	}
	idx.written = time.Now()
	return nil
}

// waitFileClock waits (at most 50 ms) until the file system's clock, which
// stamps files with a coarse tick, has moved past the newest entry's
// mtime, so that the index written next is newer than every file it
// records: files just checked out or hashed are then clean for the next
// command instead of "racily clean" and read again whole.
func (r *Repo) waitFileClock(idx *Index) {
	var newest int64
	for _, e := range idx.Entries {
		newest = max(newest, e.MTime)
	}
	now := time.Now()
	if newest == 0 || newest > now.Add(time.Second).UnixNano() || newest < now.Add(-time.Second).UnixNano() {
		return // nothing recent (or a clock far off): nothing to wait for
	}
	for deadline := now.Add(50 * time.Millisecond); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		f, err := os.CreateTemp(r.Dir, ".clock-*")
		if err != nil {
			return
		}
		fi, err := f.Stat()
		f.Close()
		os.Remove(f.Name())
		if err != nil || fi.ModTime().UnixNano() > newest {
			return
		}
	}
}

// Find returns the stage-0 entry for path.
func (idx *Index) Find(path string) (*IndexEntry, bool) {
	i := sort.Search(len(idx.Entries), func(i int) bool { return idx.Entries[i].Path >= path })
	for ; i < len(idx.Entries) && idx.Entries[i].Path == path; i++ {
		if idx.Entries[i].Stage == 0 {
			return &idx.Entries[i], true
		}
	}
	return nil, false
}

// Conflicted reports whether any entry is in a conflict stage.
func (idx *Index) Conflicted() []string {
	var out []string
	for _, e := range idx.Entries {
		if e.Stage != 0 && (len(out) == 0 || out[len(out)-1] != e.Path) {
			out = append(out, e.Path)
		}
	}
	return out
}

// Set adds or replaces the stage-0 entry for e.Path, dropping any conflict
// stages of that path and any entries a file/directory clash would leave.
func (idx *Index) Set(e IndexEntry) {
	idx.Remove(e.Path)
	// a file replaces a directory of the same name and vice versa
	var keep []IndexEntry
	for _, o := range idx.Entries {
		if strings.HasPrefix(o.Path, e.Path+"/") || strings.HasPrefix(e.Path, o.Path+"/") {
			continue
		}
		keep = append(keep, o)
	}
	keep = append(keep, e)
	sort.Slice(keep, func(i, j int) bool { return entryLess(keep[i], keep[j]) })
	idx.Entries = keep
}

// Remove drops every entry (all stages) of path.
func (idx *Index) Remove(path string) bool {
	out := idx.Entries[:0]
	found := false
	for _, e := range idx.Entries {
		if e.Path == path {
			found = true
			continue
		}
		out = append(out, e)
	}
	idx.Entries = out
	return found
}

// statInfo fills the stat-cache fields of e from fi.
func statInfo(e *IndexEntry, fi fs.FileInfo) {
	e.Size = fi.Size()
	e.MTime = fi.ModTime().UnixNano()
	id := fsys.IdentityOf(fi)
	e.CTime, e.Ino = id.CTime, id.Ino
	if !fsys.ExecBits && e.Mode != 0 {
		return // no executable bit to read here (Windows): keep the recorded one
	}
	e.Mode = objects.ModeFile
	if fi.Mode()&0o111 != 0 {
		e.Mode = objects.ModeExec
	}
}

// sameMode reports whether a mode read from the working tree (statInfo
// of a fresh entry) matches the recorded one; where the file system has
// no executable bit (Windows) the recorded one stands.
func sameMode(read, recorded uint32) bool { return read == recorded || !fsys.ExecBits }

// clean reports whether fi matches the stat data of e, so the file need
// not be rehashed.
func (idx *Index) clean(e *IndexEntry, fi fs.FileInfo) bool {
	var probe IndexEntry
	statInfo(&probe, fi)
	if probe.Size != e.Size || probe.MTime != e.MTime || probe.CTime != e.CTime || probe.Ino != e.Ino || !sameMode(probe.Mode, e.Mode) {
		return false
	}
	// racily clean: modified in the same instant the index was written
	return !idx.written.IsZero() && fi.ModTime().Before(idx.written)
}

// validPath checks a repository-relative path from an index or tree.
func validPath(p string) error {
	if p == "" || strings.HasPrefix(p, "/") {
		return fmt.Errorf("invalid path %q", p)
	}
	for _, c := range strings.Split(p, "/") {
		if err := objects.ValidName(c); err != nil {
			return fmt.Errorf("path %q: %v", p, err)
		}
		if objects.ReservedName(c) {
			return fmt.Errorf("path %q: %q would be the repository directory %s on some file systems (case, ignored code points, trailing dots or spaces): reserved", p, c, DirName)
		}
	}
	return nil
}
