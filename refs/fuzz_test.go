package refs

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func addFiles(f *testing.F, pattern string) {
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) == 0 {
		f.Fatalf("no seeds for %s: %v", pattern, err)
	}
	for _, path := range files {
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// FuzzParseRef checks that ref and HEAD file parsing never panics and
// accepts only the canonical bytes it would write.
func FuzzParseRef(f *testing.F) {
	addFiles(f, "testdata/ref/*")
	f.Fuzz(func(t *testing.T, b []byte) {
		if id, reason := parseRef(b); reason == "" {
			if !bytes.Equal(formatRef(id), b) || id.IsZero() {
				t.Fatalf("parseRef(%q) = %s, which formats as %q", b, id, formatRef(id))
			}
		}
		if h, reason := parseHead(b); reason == "" {
			if !bytes.Equal(formatHead(h), b) {
				t.Fatalf("parseHead(%q) = %+v, which formats as %q", b, h, formatHead(h))
			}
			if h.Symbolic != "" && ValidateName(string(h.Symbolic)) != nil {
				t.Fatalf("parseHead(%q) accepted invalid target %q", b, h.Symbolic)
			}
		}
	})
}

// FuzzParseLog checks that reflog parsing never panics and that every
// accepted line formats back to the same bytes.
func FuzzParseLog(f *testing.F) {
	addFiles(f, "testdata/reflog/*")
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, err := parseLog("fuzz", b)
		if err != nil {
			return
		}
		var out strings.Builder
		for _, e := range entries {
			out.WriteString(formatLogLine(e))
		}
		whole := b[:bytes.LastIndexByte(b, '\n')+1] // without a torn tail
		if out.String() != string(whole) {
			t.Fatalf("round trip of %q gave %q", whole, out.String())
		}
	})
}
