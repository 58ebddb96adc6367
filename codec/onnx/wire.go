package onnx

import (
	"errors"
	"fmt"
	"io"

	"google.golang.org/protobuf/encoding/protowire"
)

// window is the size of the read cache of src: fields are parsed from it
// so that walking a graph does not cost one read per field, while tensor
// payloads are skipped without being read.
const window = 64 << 10

// src reads a file through a one-window cache.
type src struct {
	r      io.ReaderAt
	size   int64
	buf    []byte
	bufOff int64
}

// ioError marks an error of the underlying reader.
type ioError struct{ err error }

func (e *ioError) Error() string { return e.err.Error() }
func (e *ioError) Unwrap() error { return e.err }

// peek returns up to n bytes at off, fewer only at the end of the file.
func (s *src) peek(off int64, n int) ([]byte, error) {
	n = int(min(int64(n), s.size-off))
	if n <= 0 {
		return nil, nil
	}
	if off >= s.bufOff && off+int64(n) <= s.bufOff+int64(len(s.buf)) {
		return s.buf[off-s.bufOff : off-s.bufOff+int64(n)], nil
	}
	if n > window {
		b := make([]byte, n)
		if err := s.readFull(b, off); err != nil {
			return nil, err
		}
		return b, nil
	}
	m := int(min(int64(window), s.size-off))
	if cap(s.buf) < window {
		s.buf = make([]byte, window)
	}
	s.buf = s.buf[:m]
	if err := s.readFull(s.buf, off); err != nil {
		s.buf = s.buf[:0]
		return nil, err
	}
	s.bufOff = off
	return s.buf[:n], nil
}

func (s *src) readFull(b []byte, off int64) error {
	k, err := s.r.ReadAt(b, off)
	if k == len(b) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		return &ioError{fmt.Errorf("short read at %d: %w", off, io.ErrUnexpectedEOF)}
	}
	return &ioError{err}
}

// field is one protobuf field: for varints v, for length-delimited ones
// the payload's file offset off and length n; the whole field, tag
// included, is [start, stop).
type field struct {
	num         protowire.Number
	typ         protowire.Type
	v           uint64
	off         int64
	n           int64
	start, stop int64
}

func (f field) end() int64 { return f.off + f.n }

// message calls fn for each field of the message in [off, end).
func (s *src) message(off, end int64, fn func(field) error) error {
	for off < end {
		head, err := s.peek(off, int(min(end-off, 2*binaryVarintMax)))
		if err != nil {
			return err
		}
		num, typ, n := protowire.ConsumeTag(head)
		if n < 0 {
			return fmt.Errorf("bad field tag at %d: %w", off, protowire.ParseError(n))
		}
		f := field{num: num, typ: typ, start: off}
		rest := head[n:]
		pos := off + int64(n)
		switch typ {
		case protowire.VarintType:
			v, k := protowire.ConsumeVarint(rest)
			if k < 0 {
				return fmt.Errorf("bad varint of field %d at %d", num, pos)
			}
			f.v, pos = v, pos+int64(k)
		case protowire.Fixed32Type:
			pos += 4
		case protowire.Fixed64Type:
			pos += 8
		case protowire.BytesType:
			l, k := protowire.ConsumeVarint(rest)
			if k < 0 {
				return fmt.Errorf("bad length of field %d at %d", num, pos)
			}
			pos += int64(k)
			if l > uint64(end-pos) {
				return fmt.Errorf("field %d at %d: %d bytes run past the end of its message at %d", num, off, l, end)
			}
			f.off, f.n = pos, int64(l)
			pos += int64(l)
		default:
			return fmt.Errorf("field %d at %d has wire type %d, which ONNX does not use", num, off, typ)
		}
		if pos > end {
			return fmt.Errorf("field %d at %d runs past the end of its message at %d", num, off, end)
		}
		f.stop = pos
		if err := fn(f); err != nil {
			return err
		}
		off = pos
	}
	return nil
}

// binaryVarintMax is the longest varint encoding.
const binaryVarintMax = 10

// bytes returns the payload of a length-delimited field of at most max
// bytes.
func (s *src) bytes(f field, max int64) ([]byte, error) {
	if f.n > max {
		return nil, fmt.Errorf("field %d at %d: %d bytes exceed the limit of %d", f.num, f.off, f.n, max)
	}
	b, err := s.peek(f.off, int(f.n))
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), b...), nil
}

// str returns the payload of a string field of at most maxName bytes.
func (s *src) str(f field) (string, error) {
	b, err := s.bytes(f, maxName)
	return string(b), err
}
