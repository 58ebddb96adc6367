package codec

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
)

// ErrFixup is wrapped by the errors of Rewrite when a format's Fixer
// cannot make the new file consistent or returns fixups outside the raw
// segments.
var ErrFixup = errors.New("codec: cannot fix up rewritten file")

// Fixup replaces len(Data) bytes of a rewritten file at file offset
// Offset. Fixups only ever touch raw segments.
type Fixup struct {
	Offset int64
	Data   []byte
}

// Fixer computes the fixups a file of its format needs after the bytes of
// some tensor segments changed (same lengths): for a zip container, the
// CRC-32 fields of the changed entries. file reads the new file as it is
// before the fixups, of l.Size bytes; l is its layout.
type Fixer func(file io.ReaderAt, l *Layout) ([]Fixup, error)

var fixers = map[string]Fixer{} // guarded by registryMu

// RegisterFixer makes f the fixer of format. Formats whose raw bytes do not
// depend on tensor data (safetensors, npy, onnx raw_data) register none.
// Registering twice panics.
func RegisterFixer(format string, f Fixer) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := fixers[format]; dup {
		panic("codec: RegisterFixer called twice for format " + format)
	}
	fixers[format] = f
}

// Rewrite writes to w the file of layout l whose segment i holds the
// l.Segments[i].Length bytes at the start of segs[i]: raw segments should
// be the original bytes and tensor segments may carry new data of the same
// dtype and shape. This is how a merge writes a model file: the structure
// of the original is kept and only tensor bytes change. When the format
// has a registered Fixer (torch and npz: zip CRC-32 fields), Rewrite reads
// every segment twice: once for the fixer, once to write. A segment
// shorter than its Length is an error wrapping io.ErrUnexpectedEOF.
func Rewrite(w io.Writer, l *Layout, segs []io.ReaderAt) error {
	if err := l.Validate(); err != nil {
		return fmt.Errorf("codec: rewrite %s file: %w", l.Format, err)
	}
	if len(segs) != len(l.Segments) {
		return fmt.Errorf("codec: rewrite %s file: %d segment readers for %d segments", l.Format, len(segs), len(l.Segments))
	}
	fixups, err := Fixups(l, segs)
	if err != nil {
		return err
	}
	pw := &patchWriter{w: w, fixups: fixups}
	for i, s := range l.Segments {
		n, err := io.Copy(pw, io.NewSectionReader(segs[i], 0, s.Length))
		if err == nil && n < s.Length {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			return fmt.Errorf("codec: rewrite %s file: segment %d (%s): %w", l.Format, i, segName(s), err)
		}
	}
	return nil
}

// Fixups returns the fixups the format of l needs for the file whose
// segment i is segs[i] (see Rewrite), sorted by offset; nil when the
// format registered no Fixer. A caller that stores segments as objects
// (a merge writing a model object without writing the file) applies them
// to the raw segments they fall in, each of which lies inside one raw
// segment.
func Fixups(l *Layout, segs []io.ReaderAt) ([]Fixup, error) {
	if len(segs) != len(l.Segments) {
		return nil, fmt.Errorf("codec: fix up %s file: %d segment readers for %d segments", l.Format, len(segs), len(l.Segments))
	}
	registryMu.RLock()
	fix := fixers[l.Format]
	registryMu.RUnlock()
	if fix == nil {
		return nil, nil
	}
	fixups, err := fix(&concatReaderAt{l: l, segs: segs}, l)
	if err != nil {
		return nil, fmt.Errorf("codec: fix up %s file: %w", l.Format, err)
	}
	if err := checkFixups(l, fixups); err != nil {
		return nil, fmt.Errorf("codec: fix up %s file: %w", l.Format, err)
	}
	return fixups, nil
}

// Patch writes to w the file orig of layout l with the data of the tensors
// named in tensors replaced (each a reader of exactly the tensor's byte
// length); see Rewrite. Names not in the layout are an error.
func Patch(w io.Writer, orig io.ReaderAt, l *Layout, tensors map[string]io.ReaderAt) error {
	segs := make([]io.ReaderAt, len(l.Segments))
	used := 0
	for i, s := range l.Segments {
		segs[i] = io.NewSectionReader(orig, s.Offset, s.Length)
		if s.Tensor != nil {
			if r, ok := tensors[s.Tensor.Name]; ok {
				segs[i] = r
				used++
			}
		}
	}
	if used != len(tensors) {
		for name := range tensors {
			if !slices.ContainsFunc(l.Segments, func(s Segment) bool { return s.Tensor != nil && s.Tensor.Name == name }) {
				return fmt.Errorf("codec: patch %s file: no tensor %q", l.Format, name)
			}
		}
	}
	return Rewrite(w, l, segs)
}

func segName(s Segment) string {
	if s.Tensor == nil {
		return "raw"
	}
	return fmt.Sprintf("tensor %q", s.Tensor.Name)
}

// checkFixups sorts fixups by offset and checks that each lies inside one
// raw segment and that they do not overlap.
func checkFixups(l *Layout, fixups []Fixup) error {
	slices.SortFunc(fixups, func(a, b Fixup) int { return cmpInt64(a.Offset, b.Offset) })
	end := int64(0)
	for _, f := range fixups {
		if f.Offset < end {
			return fmt.Errorf("%w: overlapping fixups at %d", ErrFixup, f.Offset)
		}
		i := segmentAt(l, f.Offset)
		if i < 0 {
			return fmt.Errorf("%w: fixup at %d is outside the file", ErrFixup, f.Offset)
		}
		s := l.Segments[i]
		if s.Tensor != nil || f.Offset+int64(len(f.Data)) > s.Offset+s.Length {
			return fmt.Errorf("%w: fixup [%d, +%d) is not inside a raw segment", ErrFixup, f.Offset, len(f.Data))
		}
		end = f.Offset + int64(len(f.Data))
	}
	return nil
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// segmentAt returns the index of the non-empty segment holding file
// offset off, or -1.
func segmentAt(l *Layout, off int64) int {
	i := sort.Search(len(l.Segments), func(i int) bool {
		s := l.Segments[i]
		return s.Offset+s.Length > off
	})
	if i == len(l.Segments) || off < l.Segments[i].Offset {
		return -1
	}
	return i
}

// concatReaderAt reads the file made of the layout's segments, segment i
// from segs[i].
type concatReaderAt struct {
	l    *Layout
	segs []io.ReaderAt
}

func (c *concatReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("codec: negative offset %d", off)
	}
	n := 0
	for len(p) > 0 {
		if off >= c.l.Size {
			return n, io.EOF
		}
		i := segmentAt(c.l, off)
		if i < 0 {
			return n, io.EOF
		}
		s := c.l.Segments[i]
		k := min(int64(len(p)), s.Offset+s.Length-off)
		m, err := c.segs[i].ReadAt(p[:k], off-s.Offset)
		n += m
		if m < int(k) {
			if err == nil || errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return n, err
		}
		p, off = p[k:], off+k
	}
	return n, nil
}

// patchWriter writes through to w, replacing the bytes that fixups (sorted,
// non-overlapping) cover.
type patchWriter struct {
	w       io.Writer
	pos     int64
	fixups  []Fixup
	scratch []byte
}

func (pw *patchWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	start, end := pw.pos, pw.pos+int64(len(p))
	out, copied := p, false
	for len(pw.fixups) > 0 {
		f := pw.fixups[0]
		fEnd := f.Offset + int64(len(f.Data))
		if f.Offset >= end {
			break
		}
		if !copied {
			pw.scratch = append(pw.scratch[:0], p...)
			out, copied = pw.scratch, true
		}
		lo, hi := max(f.Offset, start), min(fEnd, end)
		copy(out[lo-start:hi-start], f.Data[lo-f.Offset:hi-f.Offset])
		if fEnd > end {
			break // continues in the next Write
		}
		pw.fixups = pw.fixups[1:]
	}
	n, err := pw.w.Write(out)
	pw.pos += int64(n)
	return n, err
}

// HasFixer reports whether format's raw bytes depend on tensor data (a
// Fixer is registered for it).
func HasFixer(format string) bool {
	registryMu.RLock()
	defer registryMu.RUnlock()
	return fixers[format] != nil
}
