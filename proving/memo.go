package proving

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"slices"
	"sync"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/zk"
)

// MemoFile is the name of the verification memo in a repository's .fed
// directory (design §15.6b).
const MemoFile = "verified"

// memoHeader is the memo's first line; a file with another first line
// (another version) is not read and is started afresh.
const memoHeader = "fed verified 1\n"

// memoMaxSize bounds the file: a memo that grew larger is started afresh
// (it only ever saves work).
const memoMaxSize = 32 << 20

// Memo keeps what earlier verifications of a repository established about
// immutable inputs, so that `fed verify A..B` after `fed verify ..A` does
// only what is new:
//   - the zk commitment of a commit's weights at a chunk size (the costly
//     part of a verification: reading, quantising and hashing every
//     weight), keyed by the commitment scheme, the commit and the chunk
//     size;
//   - that a proof object verified against a verifying key, keyed by the
//     proof system, the commit, the proof object, the verifying key and the
//     pinned keys (zk.vk), so that a change of keys or pins is a miss.
//
// Every key names content-addressed objects only, so an entry never goes
// stale; what it cannot guard against is someone who can write the
// repository's .fed directory (doc/security.md). Only successes are kept:
// a failure is always recomputed, so its report names the failing chunk.
// A Memo is safe for concurrent use; a nil *Memo remembers nothing.
type Memo struct {
	path string

	mu     sync.Mutex
	seen   map[[32]byte][]byte
	f      *os.File // the file, open for appending after the first Put
	werr   error    // the first write error; later Puts only count
	Hits   int      // lookups answered from the memo
	Misses int      // lookups that were not
}

// OpenMemo reads the memo at path (a missing file is an empty memo).
// Lines that do not check (a write torn by a crash) are skipped.
func OpenMemo(path string) (*Memo, error) {
	m := &Memo{path: path, seen: map[[32]byte][]byte{}}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return m, nil
	case err != nil:
		return nil, fmt.Errorf("proving: verification memo: %w", err)
	}
	if len(b) > memoMaxSize || !bytes.HasPrefix(b, []byte(memoHeader)) {
		return m, nil // started afresh by the first Put
	}
	sc := bufio.NewScanner(bytes.NewReader(b[len(memoHeader):]))
	sc.Buffer(nil, 1<<16)
	for sc.Scan() {
		if k, v, ok := parseMemoLine(sc.Bytes()); ok {
			m.seen[k] = v
		}
	}
	return m, nil
}

// memoLine is "<key hex> <value hex> <crc hex>": the key is the SHA-256
// of the entry's key bytes, the CRC-32C (Castagnoli) covers everything
// before its space.
func memoLine(k [32]byte, v []byte) []byte {
	s := hex.EncodeToString(k[:]) + " " + hex.EncodeToString(v)
	return fmt.Appendf(nil, "%s %08x\n", s, crc32.Checksum([]byte(s), crcTable))
}

var crcTable = crc32.MakeTable(crc32.Castagnoli)

func parseMemoLine(line []byte) (k [32]byte, v []byte, ok bool) {
	i := bytes.LastIndexByte(line, ' ')
	if i < 0 || len(line)-i-1 != 8 {
		return k, nil, false
	}
	var crc [4]byte
	if _, err := hex.Decode(crc[:], line[i+1:]); err != nil || binary.BigEndian.Uint32(crc[:]) != crc32.Checksum(line[:i], crcTable) {
		return k, nil, false
	}
	ks, vs, found := bytes.Cut(line[:i], []byte{' '})
	if !found || len(ks) != 64 {
		return k, nil, false
	}
	if _, err := hex.Decode(k[:], ks); err != nil {
		return k, nil, false
	}
	v = make([]byte, hex.DecodedLen(len(vs)))
	if _, err := hex.Decode(v, vs); err != nil {
		return k, nil, false
	}
	return k, v, true
}

func (m *Memo) get(key []byte) ([]byte, bool) {
	if m == nil {
		return nil, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.seen[sha256.Sum256(key)]
	if ok {
		m.Hits++
	} else {
		m.Misses++
	}
	return v, ok
}

// put records key → value, appending one line to the file (no sync: an
// entry lost in a crash is recomputed, a torn one fails its CRC).
func (m *Memo) put(key, value []byte) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k := sha256.Sum256(key)
	if old, ok := m.seen[k]; ok && bytes.Equal(old, value) {
		return
	}
	m.seen[k] = value
	if m.werr != nil {
		return
	}
	if m.f == nil {
		m.werr = m.openForAppend()
		if m.werr != nil {
			return
		}
	}
	_, m.werr = m.f.Write(memoLine(k, value))
}

// openForAppend opens the file for appending, starting it afresh (an
// atomic replacement, so a concurrent reader sees the old or the new
// file) when it is missing, of another version or too large.
func (m *Memo) openForAppend() error {
	b := make([]byte, len(memoHeader))
	f, err := os.OpenFile(m.path, os.O_RDWR|os.O_APPEND, 0)
	if err == nil {
		fi, serr := f.Stat()
		if _, rerr := f.ReadAt(b, 0); rerr == nil && serr == nil && string(b) == memoHeader && fi.Size() <= memoMaxSize {
			// end a line torn by a crash, so that the next entry reads
			last := make([]byte, 1)
			if _, err := f.ReadAt(last, fi.Size()-1); err != nil {
				f.Close()
				return err
			}
			if last[0] != '\n' {
				if _, err := f.Write([]byte{'\n'}); err != nil {
					f.Close()
					return err
				}
			}
			m.f = f
			return nil
		}
		f.Close()
	}
	tmp := m.path + ".new"
	if err := os.WriteFile(tmp, []byte(memoHeader), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, m.path); err != nil {
		return err
	}
	m.f, err = os.OpenFile(m.path, os.O_WRONLY|os.O_APPEND, 0)
	return err
}

// Close closes the file; the memo keeps answering from memory.
func (m *Memo) Close() error {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.f == nil {
		return m.werr
	}
	err := m.f.Close()
	m.f = nil
	return errors.Join(m.werr, err)
}

// commitmentKey names the commitment of commit id's weights at chunk size
// chunk under this fed's commitment scheme.
func commitmentKey(id objects.ID, chunk int) []byte {
	k := append([]byte("commitment\x00"+zk.System+"\x00"), id[:]...)
	return binary.BigEndian.AppendUint64(k, uint64(chunk))
}

// commitmentValue is what the memo keeps of a commitment: the number of
// chunks, the SHA-256 of their digests in order, and the root.
func commitmentValue(chunks []zk.Digest, root [32]byte) []byte {
	h := sha256.New()
	for _, d := range chunks {
		h.Write(d[:])
	}
	v := binary.BigEndian.AppendUint64(nil, uint64(len(chunks)))
	v = h.Sum(v)
	return append(v, root[:]...)
}

// proofKey names the successful verification of proof object pid (commit
// id's) against verifying key vk with the keys pinned.
func proofKey(id, pid, vk objects.ID, pinned []objects.ID) []byte {
	k := append([]byte("proof\x00"+zk.System+"\x00"), id[:]...)
	k = append(k, pid[:]...)
	k = append(k, vk[:]...)
	p := slices.Clone(pinned)
	slices.SortFunc(p, func(a, b objects.ID) int { return bytes.Compare(a[:], b[:]) })
	for _, id := range slices.Compact(p) {
		k = append(k, id[:]...)
	}
	return k
}
