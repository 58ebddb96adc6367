package objects

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/fed-vcs/fed/internal/fsys"
)

// mapMin is the size from which an object file is mapped into memory for
// decoding instead of read into a buffer: a read copies the file's bytes
// from the page cache once more (a tenth of a 4-way merge's CPU time went
// to that copy), a mapping costs a few system calls whatever the size.
const mapMin = 256 << 10

// readObjectFile returns the content of the object file at path and the
// function that releases it. Large files are mapped read-only: read them
// only under guardFault, which turns the fault of a file that shrank
// meanwhile into an error instead of a crash.
func readObjectFile(path string) (b []byte, release func(), mapped bool, err error) {
	f, err := fsys.Open(path)
	if err != nil {
		return nil, nil, false, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, false, err
	}
	size := fi.Size()
	if size > MaxObjectSize+1<<20 {
		return nil, nil, false, fmt.Errorf("file of %d bytes is larger than any object", size)
	}
	if size >= mapMin {
		if b, unmap, err := fsys.MapReadOnly(f, int(size)); err == nil {
			return b, unmap, true, nil
		}
	}
	b = getBuf(int(size))
	n, err := io.ReadFull(f, b)
	if err != nil {
		putBuf(b)
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, nil, false, fmt.Errorf("file shrank to %d bytes while read", n)
		}
		return nil, nil, false, err
	}
	return b, func() { putBuf(b) }, false, nil
}

// errFault is the error of reading a mapped object file that shrank.
var errFault = errors.New("object file shrank while read (memory fault)")

// guardFault runs fn, which reads a mapped file, turning a memory fault
// (the file was truncated under the mapping) into errFault. fn must not
// leave shared state half-changed when it stops at any memory access.
func guardFault(fn func() error) (err error) {
	old := debug.SetPanicOnFault(true)
	defer func() {
		debug.SetPanicOnFault(old)
		if r := recover(); r != nil {
			if re, ok := r.(runtime.Error); ok && isFault(re) {
				err = errFault
				return
			}
			panic(r)
		}
	}()
	return fn()
}

// isFault reports whether a runtime error is a memory fault raised under
// SetPanicOnFault (it carries the faulting address).
func isFault(e runtime.Error) bool {
	_, ok := e.(interface{ Addr() uintptr })
	return ok
}
