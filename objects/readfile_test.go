package objects

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

func TestReadObjectFile(t *testing.T) {
	dir := t.TempDir()
	for _, size := range []int{100, mapMin - 1, mapMin, 3 << 20} {
		want := bytes.Repeat([]byte{byte(size)}, size)
		want[size-1] = 7
		p := filepath.Join(dir, "obj")
		if err := os.WriteFile(p, want, 0o644); err != nil {
			t.Fatal(err)
		}
		b, done, mapped, err := readObjectFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if runtime.GOOS == "linux" && mapped != (size >= mapMin) {
			t.Errorf("%d bytes: mapped %v", size, mapped)
		}
		if !bytes.Equal(b, want) {
			t.Errorf("%d bytes: content differs", size)
		}
		done()
	}
}

// A mapped object file truncated while it is decoded makes the decode fail
// with an error, not crash the process.
func TestReadObjectFileTruncated(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("mapping is checked on Linux")
	}
	p := filepath.Join(t.TempDir(), "obj")
	if err := os.WriteFile(p, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	b, done, mapped, err := readObjectFile(p)
	if err != nil || !mapped {
		t.Fatalf("mapped %v, %v", mapped, err)
	}
	defer done()
	if err := os.Truncate(p, 0); err != nil {
		t.Fatal(err)
	}
	var sum byte
	err = guardFault(func() error {
		for _, c := range b {
			sum += c
		}
		return nil
	})
	if !errors.Is(err, errFault) {
		t.Fatalf("reading a truncated mapping: %v, want errFault", err)
	}
	// other panics pass through
	defer func() {
		if r := recover(); r != "other" {
			t.Errorf("recovered %v, want the panic passed on", r)
		}
	}()
	guardFault(func() error { panic("other") })
}
