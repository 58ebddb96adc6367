package codec_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/fed-vcs/fed/codec"
)

// Fake formats registered once for this test binary; their signatures
// and suffixes are used by no other test.
func init() {
	codec.RegisterDetector("zz-fedtest", codec.Detector{
		Content:  func(h []byte) bool { return bytes.HasPrefix(h, []byte("FEDTEST!")) },
		Suffixes: []string{".fedtest"},
	})
	codec.RegisterDetector("aa-fedtest", codec.Detector{Suffixes: []string{".aafedtest"}})
	// The fixer of "fix-fedtest" writes the sum of all tensor bytes into
	// the 4 bytes at offset 32766 (inside a raw segment, across the
	// 32 KiB copy buffer of Rewrite), as a checksum of a container would.
	codec.RegisterFixer("fix-fedtest", func(file io.ReaderAt, l *codec.Layout) ([]codec.Fixup, error) {
		var s byte
		for _, seg := range l.Segments {
			if seg.Tensor == nil {
				continue
			}
			b := make([]byte, seg.Length)
			if _, err := file.ReadAt(b, seg.Offset); err != nil {
				return nil, err
			}
			for _, c := range b {
				s += c
			}
		}
		return []codec.Fixup{{Offset: 32766, Data: []byte{s, s, s, s}}}, nil
	})
	codec.RegisterFixer("bad-fedtest", func(io.ReaderAt, *codec.Layout) ([]codec.Fixup, error) {
		return []codec.Fixup{{Offset: 40001, Data: []byte{1}}}, nil // inside the tensor
	})
}

func TestDetectRegistered(t *testing.T) {
	t.Parallel()
	tests := []struct {
		head []byte
		file string
		want string
	}{
		{[]byte("FEDTEST!rest"), "x.bin", "zz-fedtest"},
		{[]byte("FEDTEST!rest"), "x.aafedtest", "zz-fedtest"}, // content before suffixes
		{[]byte("other"), "X.FEDTEST", "zz-fedtest"},
		{[]byte("other"), "x.aafedtest", "aa-fedtest"},
		{stHead(8, `{}      `), "x.fedtest", "safetensors"}, // safetensors rules first
		{[]byte("FEDTEST!"), "x.safetensors", "safetensors"},
		{[]byte("other"), "x.bin", ""},
	}
	for _, tt := range tests {
		if got := codec.Detect(tt.head, tt.file); got != tt.want {
			t.Errorf("Detect(%q, %q) = %q, want %q", tt.head, tt.file, got, tt.want)
		}
	}
}

func TestRegisterDetectorConflicts(t *testing.T) {
	t.Parallel()
	for name, f := range map[string]func(){
		"same format":      func() { codec.RegisterDetector("zz-fedtest", codec.Detector{}) },
		"taken suffix":     func() { codec.RegisterDetector("other-fedtest", codec.Detector{Suffixes: []string{".fedtest"}}) },
		"safetensors name": func() { codec.RegisterDetector("st-fedtest", codec.Detector{Suffixes: []string{".safetensors"}}) },
		"fixer twice":      func() { codec.RegisterFixer("fix-fedtest", nil) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

func TestOpaqueError(t *testing.T) {
	t.Parallel()
	var err error = &codec.OpaqueError{File: "m.pt", Format: "torch", Reason: "TorchScript archive"}
	wrapped := fmt.Errorf("add: %w", err)
	var oe *codec.OpaqueError
	if !errors.Is(wrapped, codec.ErrNotModel) || !errors.As(wrapped, &oe) || oe.Reason != "TorchScript archive" {
		t.Fatalf("%v does not unwrap to ErrNotModel and the OpaqueError", wrapped)
	}
	if !strings.Contains(err.Error(), "m.pt") || !strings.Contains(err.Error(), "TorchScript archive") {
		t.Errorf("message %q", err)
	}
}

// testFile is 40000 raw bytes (0x11), a 16-byte tensor, 10 raw bytes.
func testFile(format string) ([]byte, *codec.Layout) {
	b := append(bytes.Repeat([]byte{0x11}, 40000), make([]byte, 26)...)
	for i := range 16 {
		b[40000+i] = byte(i)
	}
	return b, &codec.Layout{Format: format, Size: int64(len(b)), Segments: []codec.Segment{
		{Offset: 0, Length: 40000},
		{Offset: 40000, Length: 16, Tensor: tensor("t", "U8", 16)},
		{Offset: 40016, Length: 10},
	}}
}

func TestPatch(t *testing.T) {
	t.Parallel()
	orig, l := testFile("plain")
	repl := bytes.Repeat([]byte{7}, 16)
	var out bytes.Buffer
	if err := codec.Patch(&out, bytes.NewReader(orig), l, map[string]io.ReaderAt{"t": bytes.NewReader(repl)}); err != nil {
		t.Fatal(err)
	}
	want := bytes.Clone(orig)
	copy(want[40000:], repl)
	if !bytes.Equal(out.Bytes(), want) {
		t.Error("patched file differs")
	}
	if err := codec.Patch(io.Discard, bytes.NewReader(orig), l, map[string]io.ReaderAt{"nope": bytes.NewReader(repl)}); err == nil || !strings.Contains(err.Error(), `no tensor "nope"`) {
		t.Errorf("unknown tensor: err = %v", err)
	}
	err := codec.Patch(io.Discard, bytes.NewReader(orig), l, map[string]io.ReaderAt{"t": bytes.NewReader(repl[:3])})
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("short tensor: err = %v, want ErrUnexpectedEOF", err)
	}
	if err := codec.Rewrite(io.Discard, l, nil); err == nil {
		t.Error("Rewrite with no segment readers succeeded")
	}
}

func TestRewriteFixer(t *testing.T) {
	t.Parallel()
	orig, l := testFile("fix-fedtest")
	repl := bytes.Repeat([]byte{1}, 16)
	var out bytes.Buffer
	if err := codec.Patch(&out, bytes.NewReader(orig), l, map[string]io.ReaderAt{"t": bytes.NewReader(repl)}); err != nil {
		t.Fatal(err)
	}
	want := bytes.Clone(orig)
	copy(want[40000:], repl)
	copy(want[32766:], []byte{16, 16, 16, 16}) // the fixer saw the new tensor data
	if !bytes.Equal(out.Bytes(), want) {
		i := 0
		for i < len(want) && out.Bytes()[i] == want[i] {
			i++
		}
		t.Errorf("rewritten file differs at byte %d", i)
	}
	_, bad := testFile("bad-fedtest")
	if err := codec.Patch(io.Discard, bytes.NewReader(orig), bad, nil); !errors.Is(err, codec.ErrFixup) {
		t.Errorf("fixup inside a tensor: err = %v, want ErrFixup", err)
	}
}
