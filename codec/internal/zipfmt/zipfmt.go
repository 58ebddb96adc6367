// Package zipfmt reads the structure of a zip archive (PKWARE APPNOTE
// 6.3) without decompressing anything: where each entry's local header,
// data and CRC-32 fields lie. The torch and npz codecs build their layouts
// from it, and its Fixer recomputes CRC-32 fields after tensor data
// changed.
//
// Read is strict about structure, since the layout built from it must tile
// the file: one disk only; every central directory record's local header
// must exist, carry the same name and lie before the central directory;
// entries must not overlap (overlapping entries are the classic zip bomb);
// names must be relative paths without "..", backslashes or NUL. It reads
// only headers, never entry data, and its memory is bounded by the
// central directory's size, itself bounded by the file size.
package zipfmt

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"slices"
	"strings"

	"github.com/fed-vcs/fed/codec"
)

// ErrInvalid is wrapped by every error about a malformed archive.
var ErrInvalid = errors.New("zip: invalid archive")

const (
	sigLocal      = 0x04034b50
	sigCentral    = 0x02014b50
	sigEOCD       = 0x06054b50
	sigEOCD64     = 0x06064b50
	sigLocator64  = 0x07064b50
	sigDescriptor = 0x08074b50

	localLen   = 30
	centralLen = 46
	eocdLen    = 22

	// MethodStore is the compression method of entries stored as is.
	MethodStore = 0
	// FlagEncrypted and FlagDescriptor are general purpose flag bits.
	FlagEncrypted  = 1
	FlagDescriptor = 8

	maxCentralDir = 1 << 30 // refuse central directories above 1 GiB
)

// Entry is one file of an archive.
type Entry struct {
	Name             string
	Method, Flags    uint16
	CRC32            uint32 // from the central directory
	CompressedSize   int64
	UncompressedSize int64
	HeaderOffset     int64   // local file header
	DataOffset       int64   // first byte of the (compressed) data
	End              int64   // end of data and data descriptor
	CRCOffsets       []int64 // file offsets of every copy of the CRC-32 field
}

// DataEnd returns the offset just after the entry's data.
func (e *Entry) DataEnd() int64 { return e.DataOffset + e.CompressedSize }

// Stored reports whether the entry's data is the file's bytes as they are:
// not compressed and not encrypted.
func (e *Entry) Stored() bool {
	return e.Method == MethodStore && e.Flags&FlagEncrypted == 0 && e.CompressedSize == e.UncompressedSize
}

// Archive is the structure of a zip file.
type Archive struct {
	Size int64
	// Entries in local-header (file) order.
	Entries []Entry
	// CentralDir is the offset of the central directory; everything from
	// there to Size is directory, zip64 records and end record.
	CentralDir int64
}

// Lookup returns the entry with the given name, or nil.
func (a *Archive) Lookup(name string) *Entry {
	for i := range a.Entries {
		if a.Entries[i].Name == name {
			return &a.Entries[i]
		}
	}
	return nil
}

// IsLocalHeader reports whether head starts with a zip local file header
// and returns the first entry's name when head holds it.
func IsLocalHeader(head []byte) (name string, ok bool) {
	if len(head) < 4 || binary.LittleEndian.Uint32(head) != sigLocal {
		return "", false
	}
	if len(head) < localLen {
		return "", true
	}
	n := int(binary.LittleEndian.Uint16(head[26:]))
	if len(head) < localLen+n {
		return "", true
	}
	return string(head[localLen : localLen+n]), true
}

func bad(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// readAt fills buf from r at off; a short read is a truncated archive.
func readAt(r io.ReaderAt, buf []byte, off int64) error {
	n, err := r.ReadAt(buf, off)
	if n == len(buf) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		return bad("truncated: cannot read %d bytes at offset %d", len(buf), off)
	}
	return err
}

// Read parses the structure of the zip archive r of size bytes.
func Read(r io.ReaderAt, size int64) (*Archive, error) {
	if size < eocdLen {
		return nil, bad("truncated: %d bytes is shorter than an end of central directory record", size)
	}
	// The end record is within the last 22+65535 bytes; take the last one
	// whose comment runs exactly to the end of the file.
	tailLen := min(size, eocdLen+0xffff)
	tail := make([]byte, tailLen)
	if err := readAt(r, tail, size-tailLen); err != nil {
		return nil, err
	}
	eocd := -1
	for i := len(tail) - eocdLen; i >= 0; i-- {
		if binary.LittleEndian.Uint32(tail[i:]) == sigEOCD &&
			i+eocdLen+int(binary.LittleEndian.Uint16(tail[i+20:])) == len(tail) {
			eocd = i
			break
		}
	}
	if eocd < 0 {
		return nil, bad("no end of central directory record (truncated or not a zip)")
	}
	eocdOff := size - tailLen + int64(eocd)
	e := tail[eocd:]
	disk, cdDisk := binary.LittleEndian.Uint16(e[4:]), binary.LittleEndian.Uint16(e[6:])
	count := uint64(binary.LittleEndian.Uint16(e[10:]))
	cdSize := uint64(binary.LittleEndian.Uint32(e[12:]))
	cdOff := uint64(binary.LittleEndian.Uint32(e[16:]))
	cdEnd := uint64(eocdOff)
	saturated := count == 0xffff || cdSize == 0xffffffff || cdOff == 0xffffffff || disk == 0xffff
	var loc [20]byte
	hasLocator := eocdOff >= 20 && readAt(r, loc[:], eocdOff-20) == nil && binary.LittleEndian.Uint32(loc[:]) == sigLocator64
	if saturated && !hasLocator {
		return nil, bad("zip64 end of central directory locator missing")
	}
	if hasLocator {
		// zip64 (miniz, which torch uses, writes these records always):
		// the locator just before the end record points at the zip64
		// end record, which follows the central directory.
		off64 := binary.LittleEndian.Uint64(loc[8:])
		if off64 > uint64(eocdOff-20) || uint64(eocdOff-20)-off64 < 56 {
			return nil, bad("zip64 end of central directory record at %d is out of range", off64)
		}
		var rec [56]byte
		if err := readAt(r, rec[:], int64(off64)); err != nil {
			return nil, err
		}
		if binary.LittleEndian.Uint32(rec[:]) != sigEOCD64 {
			return nil, bad("bad zip64 end of central directory signature at %d", off64)
		}
		disk, cdDisk = uint16(min(binary.LittleEndian.Uint32(rec[16:]), 0xffff)), uint16(min(binary.LittleEndian.Uint32(rec[20:]), 0xffff))
		count = binary.LittleEndian.Uint64(rec[32:])
		cdSize = binary.LittleEndian.Uint64(rec[40:])
		cdOff = binary.LittleEndian.Uint64(rec[48:])
		cdEnd = off64
	}
	if disk != 0 || cdDisk != 0 {
		return nil, bad("multi-disk archives are not supported")
	}
	if cdOff > cdEnd || cdSize != cdEnd-cdOff {
		return nil, bad("central directory [%d, +%d) does not end at the end record (%d)", cdOff, cdSize, cdEnd)
	}
	if cdSize > maxCentralDir {
		return nil, bad("central directory of %d bytes exceeds the limit of %d", cdSize, maxCentralDir)
	}
	if count > cdSize/centralLen {
		return nil, bad("%d entries cannot fit in a %d-byte central directory", count, cdSize)
	}
	cd := make([]byte, cdSize)
	if err := readAt(r, cd, int64(cdOff)); err != nil {
		return nil, err
	}
	a := &Archive{Size: size, CentralDir: int64(cdOff), Entries: make([]Entry, 0, count)}
	names := make(map[string]bool, count)
	p := cd
	for i := uint64(0); i < count; i++ {
		ent, rest, err := parseCentral(p, int64(cdOff)+int64(len(cd)-len(p)))
		if err != nil {
			return nil, err
		}
		p = rest
		if err := checkName(ent.Name); err != nil {
			return nil, err
		}
		if names[ent.Name] {
			return nil, bad("duplicate entry %q", ent.Name)
		}
		names[ent.Name] = true
		if err := readLocal(r, &ent, int64(cdOff)); err != nil {
			return nil, err
		}
		a.Entries = append(a.Entries, ent)
	}
	if len(p) != 0 {
		return nil, bad("%d bytes left in the central directory after %d entries", len(p), count)
	}
	slices.SortFunc(a.Entries, func(x, y Entry) int { return cmp.Compare(x.HeaderOffset, y.HeaderOffset) })
	for i := 1; i < len(a.Entries); i++ {
		if prev := &a.Entries[i-1]; prev.End > a.Entries[i].HeaderOffset {
			return nil, bad("entries %q and %q overlap", prev.Name, a.Entries[i].Name)
		}
	}
	return a, nil
}

// parseCentral parses one central directory record at the start of p,
// which lies at file offset off.
func parseCentral(p []byte, off int64) (Entry, []byte, error) {
	if len(p) < centralLen || binary.LittleEndian.Uint32(p) != sigCentral {
		return Entry{}, nil, bad("bad central directory record at %d", off)
	}
	n := int(binary.LittleEndian.Uint16(p[28:]))
	m := int(binary.LittleEndian.Uint16(p[30:]))
	k := int(binary.LittleEndian.Uint16(p[32:]))
	if len(p) < centralLen+n+m+k {
		return Entry{}, nil, bad("central directory record at %d runs past the directory", off)
	}
	if d := binary.LittleEndian.Uint16(p[34:]); d != 0 {
		return Entry{}, nil, bad("multi-disk archives are not supported")
	}
	ent := Entry{
		Name:             string(p[centralLen : centralLen+n]),
		Flags:            binary.LittleEndian.Uint16(p[8:]),
		Method:           binary.LittleEndian.Uint16(p[10:]),
		CRC32:            binary.LittleEndian.Uint32(p[16:]),
		CompressedSize:   int64(binary.LittleEndian.Uint32(p[20:])),
		UncompressedSize: int64(binary.LittleEndian.Uint32(p[24:])),
		HeaderOffset:     int64(binary.LittleEndian.Uint32(p[42:])),
		CRCOffsets:       []int64{off + 16},
	}
	// zip64 extended information: the fields saturated in the record, in
	// order uncompressed size, compressed size, header offset.
	needU, needC, needO := ent.UncompressedSize == 0xffffffff, ent.CompressedSize == 0xffffffff, ent.HeaderOffset == 0xffffffff
	extra := p[centralLen+n : centralLen+n+m]
	for len(extra) >= 4 {
		id, sz := binary.LittleEndian.Uint16(extra), int(binary.LittleEndian.Uint16(extra[2:]))
		if len(extra) < 4+sz {
			return Entry{}, nil, bad("entry %q: extra field runs past its record", ent.Name)
		}
		if id == 1 {
			f := extra[4 : 4+sz]
			next := func(dst *int64) error {
				if len(f) < 8 {
					return bad("entry %q: short zip64 extra field", ent.Name)
				}
				v := binary.LittleEndian.Uint64(f)
				if v > 1<<62 {
					return bad("entry %q: zip64 value %d out of range", ent.Name, v)
				}
				*dst, f = int64(v), f[8:]
				return nil
			}
			for _, x := range []struct {
				need bool
				dst  *int64
			}{{needU, &ent.UncompressedSize}, {needC, &ent.CompressedSize}, {needO, &ent.HeaderOffset}} {
				if x.need {
					if err := next(x.dst); err != nil {
						return Entry{}, nil, err
					}
				}
			}
			needU, needC, needO = false, false, false
		}
		extra = extra[4+sz:]
	}
	if needU || needC || needO {
		return Entry{}, nil, bad("entry %q: zip64 sizes missing", ent.Name)
	}
	return ent, p[centralLen+n+m+k:], nil
}

// readLocal reads the entry's local header and data descriptor, fills in
// DataOffset, End and CRCOffsets, and checks that they agree with the
// central directory and end before it (at cdOff).
func readLocal(r io.ReaderAt, ent *Entry, cdOff int64) error {
	if ent.HeaderOffset > cdOff-localLen {
		return bad("entry %q: local header at %d is not before the central directory", ent.Name, ent.HeaderOffset)
	}
	var h [localLen]byte
	if err := readAt(r, h[:], ent.HeaderOffset); err != nil {
		return err
	}
	if binary.LittleEndian.Uint32(h[:]) != sigLocal {
		return bad("entry %q: no local header at %d", ent.Name, ent.HeaderOffset)
	}
	n, m := int64(binary.LittleEndian.Uint16(h[26:])), int64(binary.LittleEndian.Uint16(h[28:]))
	ent.DataOffset = ent.HeaderOffset + localLen + n + m
	if ent.DataOffset > cdOff || ent.CompressedSize > cdOff-ent.DataOffset {
		return bad("entry %q: data runs into the central directory", ent.Name)
	}
	name := make([]byte, n)
	if err := readAt(r, name, ent.HeaderOffset+localLen); err != nil {
		return err
	}
	if string(name) != ent.Name {
		return bad("entry %q: local header names %q", ent.Name, name)
	}
	if lf := binary.LittleEndian.Uint16(h[6:]); lf&FlagDescriptor != ent.Flags&FlagDescriptor || binary.LittleEndian.Uint16(h[8:]) != ent.Method {
		return bad("entry %q: local header disagrees with the central directory", ent.Name)
	}
	ent.End = ent.DataEnd()
	if ent.Flags&FlagDescriptor == 0 {
		if crc := binary.LittleEndian.Uint32(h[14:]); crc != ent.CRC32 {
			return bad("entry %q: local CRC-32 %08x, central %08x", ent.Name, crc, ent.CRC32)
		}
		ent.CRCOffsets = append(ent.CRCOffsets, ent.HeaderOffset+14)
		return nil
	}
	// Data descriptor: optional signature, CRC-32, then 4- or 8-byte sizes.
	var d [4]byte
	if err := readAt(r, d[:], ent.End); err != nil {
		return err
	}
	crcOff, sizes := ent.End, int64(8)
	if binary.LittleEndian.Uint32(d[:]) == sigDescriptor {
		crcOff += 4
	}
	if ent.CompressedSize >= 0xffffffff || ent.UncompressedSize >= 0xffffffff || zip64Local(r, ent, n, m) {
		sizes = 16
	}
	if crcOff+4+sizes > cdOff {
		return bad("entry %q: data descriptor runs into the central directory", ent.Name)
	}
	if err := readAt(r, d[:], crcOff); err != nil {
		return err
	}
	if crc := binary.LittleEndian.Uint32(d[:]); crc != ent.CRC32 {
		return bad("entry %q: data descriptor CRC-32 %08x, central %08x", ent.Name, crc, ent.CRC32)
	}
	ent.CRCOffsets = append(ent.CRCOffsets, crcOff)
	ent.End = crcOff + 4 + sizes
	// The local header's CRC field is zero when a descriptor follows; a
	// writer that filled it in anyway gets it fixed too.
	if binary.LittleEndian.Uint32(h[14:]) == ent.CRC32 && ent.CRC32 != 0 {
		ent.CRCOffsets = append(ent.CRCOffsets, ent.HeaderOffset+14)
	}
	return nil
}

// zip64Local reports whether the local header carries a zip64 extra field
// (then a data descriptor has 8-byte sizes).
func zip64Local(r io.ReaderAt, ent *Entry, n, m int64) bool {
	extra := make([]byte, m)
	if readAt(r, extra, ent.HeaderOffset+localLen+n) != nil {
		return false
	}
	for len(extra) >= 4 {
		id, sz := binary.LittleEndian.Uint16(extra), int(binary.LittleEndian.Uint16(extra[2:]))
		if id == 1 {
			return true
		}
		if len(extra) < 4+sz {
			return false
		}
		extra = extra[4+sz:]
	}
	return false
}

// checkName refuses entry names that would escape a directory if the
// archive were extracted: absolute, with "..", backslashes, NUL or a
// drive letter.
func checkName(name string) error {
	switch {
	case name == "":
		return bad("empty entry name")
	case strings.HasPrefix(name, "/"), strings.ContainsAny(name, "\\\x00"), len(name) > 1 && name[1] == ':':
		return bad("unsafe entry name %q", name)
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return bad("unsafe entry name %q", name)
		}
	}
	return nil
}

// Fixer is a codec.Fixer for layouts built on zip archives whose stored
// entries hold tensor data: it recomputes the CRC-32 of every stored entry
// that overlaps a tensor segment and rewrites each copy of that entry's
// CRC-32 field (central directory, and local header or data descriptor).
func Fixer(file io.ReaderAt, l *codec.Layout) ([]codec.Fixup, error) {
	a, err := Read(file, l.Size)
	if err != nil {
		return nil, err
	}
	var fixups []codec.Fixup
	seg := 0
	for i := range a.Entries {
		e := &a.Entries[i]
		// Does a tensor segment overlap this entry's data?
		for seg < len(l.Segments) && l.Segments[seg].Offset+l.Segments[seg].Length <= e.DataOffset {
			seg++
		}
		touched := false
		for j := seg; j < len(l.Segments) && l.Segments[j].Offset < e.DataEnd(); j++ {
			if l.Segments[j].Tensor != nil && l.Segments[j].Length > 0 {
				touched = true
			}
		}
		if !touched {
			continue
		}
		if !e.Stored() {
			return nil, fmt.Errorf("%w: entry %q holds tensor data but is not stored", codec.ErrFixup, e.Name)
		}
		h := crc32.NewIEEE()
		if _, err := io.Copy(h, io.NewSectionReader(file, e.DataOffset, e.CompressedSize)); err != nil {
			return nil, fmt.Errorf("checksum entry %q: %w", e.Name, err)
		}
		sum := h.Sum32()
		if sum == e.CRC32 {
			continue
		}
		b := binary.LittleEndian.AppendUint32(nil, sum)
		for _, off := range e.CRCOffsets {
			fixups = append(fixups, codec.Fixup{Offset: off, Data: bytes.Clone(b)})
		}
	}
	return fixups, nil
}

// Describer is a codec.Describer for layouts built on zip archives. Its
// Content lists the entries sorted by name, each as its name, a NUL, the
// u64 little-endian count of the entry's data bytes outside tensor
// segments and those bytes: the archive's order, offsets, extra fields,
// CRC-32s and timestamps are left out, and so is tensor data. With
// StripPrefix, names lose their first path component (torch.save's
// archive root, named after the saved file). Entries for which Skip
// returns true (given the name after stripping) are left out. Zip files
// carry no metadata fed merges.
type Describer struct {
	StripPrefix bool
	Skip        func(name string) bool
}

var _ codec.Describer = Describer{}

// Describe implements codec.Describer.
func (d Describer) Describe(r io.ReaderAt, l *codec.Layout) (*codec.Details, error) {
	a, err := Read(r, l.Size)
	if err != nil {
		return nil, err
	}
	type ent struct {
		name string
		e    *Entry
	}
	var ents []ent
	for i := range a.Entries {
		name := a.Entries[i].Name
		if d.StripPrefix {
			if _, rest, ok := strings.Cut(name, "/"); ok {
				name = rest
			}
		}
		if d.Skip != nil && d.Skip(name) {
			continue
		}
		ents = append(ents, ent{name, &a.Entries[i]})
	}
	slices.SortFunc(ents, func(x, y ent) int { return cmp.Compare(x.name, y.name) })
	var out []byte
	for _, x := range ents {
		out = append(out, x.name...)
		out = append(out, 0)
		n := len(out)
		out = binary.LittleEndian.AppendUint64(out, 0)
		var count int64
		lo, hi := x.e.DataOffset, x.e.DataEnd()
		for _, s := range l.Segments {
			a, b := max(lo, s.Offset), min(hi, s.Offset+s.Length)
			if s.Tensor != nil || a >= b {
				continue
			}
			start := len(out)
			out = append(out, make([]byte, b-a)...)
			if err := readAt(r, out[start:], a); err != nil {
				return nil, fmt.Errorf("read entry %q: %w", x.e.Name, err)
			}
			count += b - a
		}
		binary.LittleEndian.PutUint64(out[n:], uint64(count))
	}
	return &codec.Details{Content: out}, nil
}

// SetMeta implements codec.Describer: zip model files have no metadata.
func (Describer) SetMeta(_ io.ReaderAt, _ *codec.Layout, meta map[string]string) ([]codec.Edit, error) {
	if len(meta) > 0 {
		return nil, errors.New("zip model files carry no metadata")
	}
	return nil, nil
}
