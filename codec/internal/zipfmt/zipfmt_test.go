package zipfmt

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"testing"

	"github.com/fed-vcs/fed/codec"
)

// zip64File builds by hand a one-entry archive whose central record keeps
// its sizes and offset in a zip64 extra field, with zip64 end records.
func zip64File(data []byte) []byte {
	le := binary.LittleEndian
	name := "a/b.bin"
	crc := crc32.ChecksumIEEE(data)
	var b []byte
	b = le.AppendUint32(b, sigLocal)
	b = le.AppendUint16(b, 45)
	b = le.AppendUint16(b, 0) // flags
	b = le.AppendUint16(b, 0) // store
	b = le.AppendUint32(b, 0) // time, date
	b = le.AppendUint32(b, crc)
	b = le.AppendUint32(b, uint32(len(data)))
	b = le.AppendUint32(b, uint32(len(data)))
	b = le.AppendUint16(b, uint16(len(name)))
	b = le.AppendUint16(b, 0)
	b = append(b, name...)
	b = append(b, data...)
	cd := len(b)
	b = le.AppendUint32(b, sigCentral)
	b = le.AppendUint16(b, 45)
	b = le.AppendUint16(b, 45)
	b = le.AppendUint16(b, 0)
	b = le.AppendUint16(b, 0)
	b = le.AppendUint32(b, 0)
	b = le.AppendUint32(b, crc)
	b = le.AppendUint32(b, 0xffffffff)
	b = le.AppendUint32(b, 0xffffffff)
	b = le.AppendUint16(b, uint16(len(name)))
	b = le.AppendUint16(b, 28) // extra
	b = le.AppendUint16(b, 0)  // comment
	b = le.AppendUint16(b, 0)  // disk
	b = le.AppendUint16(b, 0)
	b = le.AppendUint32(b, 0)
	b = le.AppendUint32(b, 0xffffffff) // header offset in zip64 extra
	b = append(b, name...)
	b = le.AppendUint16(b, 1)
	b = le.AppendUint16(b, 24)
	b = le.AppendUint64(b, uint64(len(data)))
	b = le.AppendUint64(b, uint64(len(data)))
	b = le.AppendUint64(b, 0)
	cdEnd := len(b)
	b = le.AppendUint32(b, sigEOCD64)
	b = le.AppendUint64(b, 44)
	b = le.AppendUint16(b, 45)
	b = le.AppendUint16(b, 45)
	b = le.AppendUint32(b, 0)
	b = le.AppendUint32(b, 0)
	b = le.AppendUint64(b, 1)
	b = le.AppendUint64(b, 1)
	b = le.AppendUint64(b, uint64(cdEnd-cd))
	b = le.AppendUint64(b, uint64(cd))
	b = le.AppendUint32(b, sigLocator64)
	b = le.AppendUint32(b, 0)
	b = le.AppendUint64(b, uint64(cdEnd))
	b = le.AppendUint32(b, 1)
	b = le.AppendUint32(b, sigEOCD)
	b = le.AppendUint16(b, 0)
	b = le.AppendUint16(b, 0)
	b = le.AppendUint16(b, 0xffff)
	b = le.AppendUint16(b, 0xffff)
	b = le.AppendUint32(b, 0xffffffff)
	b = le.AppendUint32(b, 0xffffffff)
	b = le.AppendUint16(b, 0)
	return b
}

func TestZip64(t *testing.T) {
	t.Parallel()
	data := []byte("0123456789abcdef")
	b := zip64File(data)
	if _, err := zip.NewReader(bytes.NewReader(b), int64(len(b))); err != nil {
		t.Fatalf("the hand-made archive is not valid for archive/zip: %v", err)
	}
	a, err := Read(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	e := a.Entries[0]
	if e.Name != "a/b.bin" || e.DataOffset != 30+7 || e.CompressedSize != 16 || !e.Stored() || len(e.CRCOffsets) != 2 {
		t.Fatalf("entry %+v", e)
	}
	// The fixer rewrites both CRC copies after the data changed.
	l := &codec.Layout{Format: "x", Size: int64(len(b)), Segments: []codec.Segment{
		{Offset: 0, Length: e.DataOffset},
		{Offset: e.DataOffset, Length: 16, Tensor: &codec.TensorInfo{Name: "t", DType: "U8", Shape: []uint64{16}}},
		{Offset: e.DataEnd(), Length: int64(len(b)) - e.DataEnd()},
	}}
	changed := bytes.Clone(b)
	copy(changed[e.DataOffset:], "ABCDEFGHIJKLMNOP")
	fixups, err := Fixer(bytes.NewReader(changed), l)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fixups {
		copy(changed[f.Offset:], f.Data)
	}
	zr, err := zip.NewReader(bytes.NewReader(changed), int64(len(changed)))
	if err != nil {
		t.Fatal(err)
	}
	rc, _ := zr.File[0].Open()
	if got, err := io.ReadAll(rc); err != nil || string(got) != "ABCDEFGHIJKLMNOP" {
		t.Fatalf("read %q, %v", got, err)
	}
}

func TestBad(t *testing.T) {
	t.Parallel()
	b := zip64File([]byte("0123456789abcdef"))
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.CreateHeader(&zip.FileHeader{Name: "x", Method: zip.Store})
	w.Write([]byte("hello"))
	zw.Close()
	tooMany := buf.Bytes()
	binary.LittleEndian.PutUint16(tooMany[len(tooMany)-12:], 1000) // entry count in the end record
	badCRC := bytes.Clone(b)
	badCRC[14] ^= 1 // local CRC disagrees with the central one
	tests := map[string][]byte{
		"empty":            nil,
		"no end record":    b[:len(b)-22],
		"truncated":        b[:len(b)-1],
		"local crc":        badCRC,
		"garbage":          bytes.Repeat([]byte("PK"), 40),
		"too many entries": tooMany,
	}
	for name, f := range tests {
		if _, err := Read(bytes.NewReader(f), int64(len(f))); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
}

func TestCheckName(t *testing.T) {
	t.Parallel()
	for name, ok := range map[string]bool{
		"a/data.pkl": true, "a/..b": true, "..": false, "a/../b": false, "/abs": false,
		`a\b`: false, "c:/x": false, "a\x00": false, "": false,
	} {
		if err := checkName(name); (err == nil) != ok {
			t.Errorf("checkName(%q) = %v", name, err)
		}
	}
}

func FuzzRead(f *testing.F) {
	f.Add(zip64File([]byte("abc")))
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.CreateHeader(&zip.FileHeader{Name: "x/data.pkl", Method: zip.Store})
	w.Write([]byte("hello"))
	zw.Close()
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := Read(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		for i, e := range a.Entries {
			if e.HeaderOffset < 0 || e.DataOffset < e.HeaderOffset || e.End < e.DataEnd() || e.End > a.CentralDir {
				t.Fatalf("entry %d out of order: %+v", i, e)
			}
			if i > 0 && a.Entries[i-1].End > e.HeaderOffset {
				t.Fatalf("entries %d and %d overlap", i-1, i)
			}
		}
	})
}
