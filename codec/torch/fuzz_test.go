package torch

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fed-vcs/fed/codec"
	"github.com/fed-vcs/fed/codec/internal/zipfmt"
)

func FuzzParse(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.p*"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seeds in testdata: %v", err)
	}
	for _, name := range files {
		if filepath.Ext(name) == ".json" {
			continue
		}
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	// A small hand-made checkpoint mutates faster than torch's files.
	var small bytes.Buffer
	zw := zip.NewWriter(&small)
	for _, e := range []struct{ name, data string }{{"a/data.pkl", stateDict}, {"a/data/0", "\x00\x00\x80?\x00\x00\x00@"}} {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: e.name, Method: zip.Store})
		if err != nil {
			f.Fatal(err)
		}
		if _, err := io.WriteString(w, e.data); err != nil {
			f.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		f.Fatal(err)
	}
	f.Add(small.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		l, _, err := Parse(bytes.NewReader(b), int64(len(b)), "fuzz.pt")
		if err != nil {
			var oe *codec.OpaqueError
			if !errors.Is(err, ErrInvalid) && !errors.As(err, &oe) {
				t.Fatalf("error %v is neither a FormatError nor opaque", err)
			}
			return
		}
		if err := l.Validate(); err != nil {
			t.Fatalf("accepted layout is invalid: %v", err)
		}
		var same bytes.Buffer
		if err := codec.Patch(&same, bytes.NewReader(b), l, nil); err != nil {
			t.Fatalf("Patch without changes: %v", err)
		}
		checkSamePatch(t, b, same.Bytes())
		// Zero every tensor: the result parses to the same layout.
		repl := map[string]io.ReaderAt{}
		for _, s := range l.Segments {
			if s.Tensor != nil {
				repl[s.Tensor.Name] = bytes.NewReader(make([]byte, s.Length))
			}
		}
		var out bytes.Buffer
		if err := codec.Patch(&out, bytes.NewReader(b), l, repl); err != nil {
			return // e.g. a stored entry whose data is shared with a deflated one
		}
		l2, _, err := Parse(bytes.NewReader(out.Bytes()), int64(out.Len()), "fuzz.pt")
		if err != nil {
			t.Fatalf("patched file does not parse: %v", err)
		}
		// the content a merge compares leaves tensor data out
		d1, err := codec.Describe(bytes.NewReader(b), l)
		if err != nil {
			t.Fatalf("describe an accepted checkpoint: %v", err)
		}
		d2, err := codec.Describe(bytes.NewReader(out.Bytes()), l2)
		if err != nil || !bytes.Equal(d1.Content, d2.Content) {
			t.Fatalf("zeroing tensors changed the content a merge compares (%v)", err)
		}
		if diff := cmp.Diff(l, l2); diff != "" {
			t.Fatalf("layout changed by patching:\n%s", diff)
		}
	})
}

func FuzzUnpickle(f *testing.F) {
	f.Add([]byte(stateDict))
	f.Add([]byte(proto + "}q\x00" + str("a") + "]q\x01h\x01as" + str("b") + "h\x01s."))
	f.Add([]byte(proto + "cos\nsystem\n" + str("x") + "\x85R."))
	f.Add([]byte(proto + "\x8f(K\x01K\x02\x90\x91(t\x95\x00\x00\x00\x00\x00\x00\x00\x00." + "\x8a\x02\xff\x7f"))
	f.Add([]byte(proto + "c_codecs\nencode\n" + str("\u00ff") + str("latin1") + "\x86R."))
	if b, err := os.ReadFile(filepath.Join("testdata", "checkpoint.pth")); err == nil {
		if zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b))); err == nil {
			for _, zf := range zr.File {
				if filepath.Base(zf.Name) == "data.pkl" {
					rc, _ := zf.Open()
					p, _ := io.ReadAll(rc)
					f.Add(p)
				}
			}
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		root, _, err := unpickle(b)
		if err != nil {
			return
		}
		_, _ = collect(root)
	})
}

// checkSamePatch: a file patched without changes is the file itself, but
// for CRC-32 fields that did not match their entry's data (a damaged or
// fuzzed archive): a rewrite always writes the CRC-32 of the data it
// writes, so that torch.load accepts it. Any other difference fails.
func checkSamePatch(t *testing.T, orig, got []byte) {
	t.Helper()
	if len(got) != len(orig) {
		t.Fatalf("Patch without changes wrote %d bytes of a %d-byte file", len(got), len(orig))
	}
	if bytes.Equal(got, orig) {
		return
	}
	a, err := zipfmt.Read(bytes.NewReader(orig), int64(len(orig)))
	if err != nil {
		t.Fatalf("Patch without changes changed a file zipfmt cannot read: %v", err)
	}
	crcAt := map[int64]uint32{}
	for _, e := range a.Entries {
		if e.DataEnd() > int64(len(orig)) {
			continue
		}
		sum := crc32.ChecksumIEEE(orig[e.DataOffset:e.DataEnd()])
		for _, off := range e.CRCOffsets {
			crcAt[off] = sum
		}
	}
	for i := 0; i < len(orig); i++ {
		if got[i] == orig[i] {
			continue
		}
		field := int64(-1)
		for off := range crcAt {
			if int64(i) >= off && int64(i) < off+4 {
				field = off
			}
		}
		if field < 0 {
			t.Fatalf("Patch without changes changed byte %d (%#x -> %#x), outside every CRC-32 field", i, orig[i], got[i])
		}
		want := crcAt[field]
		if binary.LittleEndian.Uint32(got[field:]) != want {
			t.Fatalf("Patch without changes wrote CRC-32 %08x at %d; the entry's data has %08x", binary.LittleEndian.Uint32(got[field:]), field, want)
		}
	}
}
