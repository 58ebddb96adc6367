package npy

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/fed-vcs/fed/codec"
)

func seeds(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.np?"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seeds in testdata: %v", err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// check runs a parser on b: errors are FormatErrors or opaque; accepted
// layouts are valid and Patch without changes gives b back.
func check(t *testing.T, p codec.Parser, b []byte) {
	l, err := p.Parse(bytes.NewReader(b), int64(len(b)), "fuzz")
	if err != nil {
		if !errors.Is(err, ErrInvalid) && !errors.Is(err, codec.ErrNotModel) {
			t.Fatalf("error %v is neither a FormatError nor opaque", err)
		}
		return
	}
	if err := l.Validate(); err != nil {
		t.Fatalf("accepted layout is invalid: %v", err)
	}
	var out bytes.Buffer
	if err := codec.Patch(&out, bytes.NewReader(b), l, nil); err != nil || !bytes.Equal(out.Bytes(), b) {
		t.Fatalf("Patch without changes did not reproduce the file: %v", err)
	}
	if _, err := codec.Describe(bytes.NewReader(b), l); err != nil {
		t.Fatalf("describe an accepted file: %v", err)
	}
}

func FuzzNPY(f *testing.F) {
	seeds(f)
	f.Add(npyFile("{'descr': [('a', '<f4')], 'fortran_order': True, 'shape': (1, 2), }", make([]byte, 8)))
	f.Fuzz(func(t *testing.T, b []byte) { check(t, NPYParser{}, b) })
}

func FuzzNPZ(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, b []byte) { check(t, NPZParser{}, b) })
}

func FuzzLiteral(f *testing.F) {
	for _, s := range []string{
		"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
		`{"a": [("x", '<i4', (2,)), None, True], 'b': -3L}`,
		"{'a': 'it\\'s'}",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { _, _ = parseLiteral(s) })
}
