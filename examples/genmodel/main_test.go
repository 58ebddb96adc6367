package main

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/fed-vcs/fed/codec/safetensors"
)

func tensorCount(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	l, _, err := safetensors.Parse(f, fi.Size(), path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	n := 0
	for _, s := range l.Segments {
		if s.Tensor != nil {
			n++
		}
	}
	return n
}

// -from X -o X derives the new version from X and replaces X with it
// (os.Create truncated X before it was read).
func TestFromAndOutputSameFile(t *testing.T) {
	dir := t.TempDir()
	x := filepath.Join(dir, "model.safetensors")
	if err := run([]string{"-o", x, "-size", "64KiB", "-tensors", "4"}); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(x)
	if err != nil {
		t.Fatal(err)
	}
	if err := run([]string{"-from", x, "-o", x, "-nudge", "0.01", "-seed", "2"}); err != nil {
		t.Fatalf("genmodel -from X -o X: %v", err)
	}
	after, err := os.ReadFile(x)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) || bytes.Equal(after, before) {
		t.Fatalf("X went from %d to %d bytes (equal: %v); want a nudged model of the same size", len(before), len(after), bytes.Equal(after, before))
	}
	if n := tensorCount(t, x); n != 4 {
		t.Fatalf("X has %d tensors, want 4", n)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".genmodel-*")); len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
	// a failed run leaves X whole
	if err := run([]string{"-from", filepath.Join(dir, "absent"), "-o", x}); err == nil {
		t.Fatal("-from a missing file succeeded")
	}
	if n := tensorCount(t, x); n != 4 {
		t.Fatalf("after a failed run X has %d tensors, want 4", n)
	}
}

// -every N nudges one weight in N, at one offset for the whole model, and
// leaves the others' bits alone.
func TestNudgeEvery(t *testing.T) {
	dir := t.TempDir()
	x := filepath.Join(dir, "a.safetensors")
	y := filepath.Join(dir, "b.safetensors")
	if err := run([]string{"-o", x, "-size", "64KiB", "-tensors", "2"}); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{"-from", x, "-o", y, "-nudge", "0.01", "-every", "8", "-seed", "5"}); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(x)
	b, _ := os.ReadFile(y)
	if len(a) != len(b) {
		t.Fatalf("sizes %d and %d", len(a), len(b))
	}
	hdr := 8 + int(binary.LittleEndian.Uint64(a))
	offsets := map[int]int{}
	for i := hdr; i+4 <= len(a); i += 4 {
		if !bytes.Equal(a[i:i+4], b[i:i+4]) {
			offsets[(i-hdr)/4%8]++
		}
	}
	if len(offsets) != 1 {
		t.Fatalf("changed weights at offsets mod 8 %v, want one offset", offsets)
	}
	for _, n := range offsets {
		if n < (len(a)-hdr)/4/8/2 {
			t.Fatalf("%d weights changed, want about one in 8 of %d", n, (len(a)-hdr)/4)
		}
	}
	if err := run([]string{"-from", x, "-o", y, "-nudge", "0.01", "-every", "0"}); err == nil {
		t.Fatal("-every 0 accepted")
	}
}
