package remote

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/fed-vcs/fed/objects"
)

// The framed object stream (media type application/x-fed-objects), used
// for uploads and downloads:
//
//	stream = magic frame* end
//	magic  = "FEDOBJ" 0x00 0x01           8 bytes; the last is the version
//	frame  = id form length payload
//	  id      32 bytes   the object id
//	  form    1 byte     0 canonical bytes, 1 stored form (objects "FZ")
//	  length  4 bytes    big-endian payload length
//	  payload length bytes
//	end    = 32 zero bytes, 0xFF, 4 zero bytes
//
// A stream that stops before its end marker is truncated: the frames
// before the cut are whole and usable, the rest must be sent again.

// Frame forms.
const (
	FormCanonical byte = 0
	FormStored    byte = 1
	formEnd       byte = 0xFF
)

// FrameHeaderSize is the size of a frame header.
const FrameHeaderSize = objects.IDSize + 1 + 4

var streamMagic = [8]byte{'F', 'E', 'D', 'O', 'B', 'J', 0, 1}

// Errors of the frame reader.
var (
	// ErrTruncated reports a stream that ends before its end marker.
	ErrTruncated = errors.New("remote: object stream truncated")
	// ErrBadFrame reports a malformed stream.
	ErrBadFrame = errors.New("remote: malformed object stream")
)

// FrameWriter writes a framed object stream.
type FrameWriter struct {
	w       io.Writer
	started bool
	hdr     [FrameHeaderSize]byte
}

// NewFrameWriter returns a writer of a stream into w; the magic is
// written with the first frame (or by Close).
func NewFrameWriter(w io.Writer) *FrameWriter { return &FrameWriter{w: w} }

func (fw *FrameWriter) start() error {
	if fw.started {
		return nil
	}
	fw.started = true
	_, err := fw.w.Write(streamMagic[:])
	return err
}

// WriteFrame writes one object.
func (fw *FrameWriter) WriteFrame(id objects.ID, form byte, payload []byte) error {
	if form != FormCanonical && form != FormStored {
		return fmt.Errorf("remote: frame form %d", form)
	}
	if uint64(len(payload)) > 1<<32-1 {
		return fmt.Errorf("remote: frame of %d bytes", len(payload))
	}
	if err := fw.WriteFrameHeader(id, form, int64(len(payload))); err != nil {
		return err
	}
	_, err := fw.w.Write(payload)
	return err
}

// WriteFrameHeader writes the header of a frame whose n payload bytes the
// caller then writes to the underlying writer itself (from a file, say).
func (fw *FrameWriter) WriteFrameHeader(id objects.ID, form byte, n int64) error {
	if form != FormCanonical && form != FormStored {
		return fmt.Errorf("remote: frame form %d", form)
	}
	if n < 0 || n > 1<<32-1 {
		return fmt.Errorf("remote: frame of %d bytes", n)
	}
	if err := fw.start(); err != nil {
		return err
	}
	copy(fw.hdr[:], id[:])
	fw.hdr[objects.IDSize] = form
	binary.BigEndian.PutUint32(fw.hdr[objects.IDSize+1:], uint32(n))
	_, err := fw.w.Write(fw.hdr[:])
	return err
}

// StreamLen is the length of a whole stream of frames whose payloads
// total payload bytes.
func StreamLen(frames int, payload int64) int64 {
	return int64(len(streamMagic)) + int64(frames+1)*FrameHeaderSize + payload
}

// Close writes the end marker (it does not close the underlying writer).
func (fw *FrameWriter) Close() error {
	if err := fw.start(); err != nil {
		return err
	}
	var end [FrameHeaderSize]byte
	end[objects.IDSize] = formEnd
	_, err := fw.w.Write(end[:])
	return err
}

// Frame is one object read from a stream.
type Frame struct {
	ID      objects.ID
	Form    byte
	Payload []byte
}

// FrameReader reads a framed object stream.
type FrameReader struct {
	r       *bufio.Reader
	max     int64
	started bool
	done    bool
}

// NewFrameReader returns a reader of the stream in r that refuses frames
// with payloads over maxPayload bytes (ErrTooLarge).
func NewFrameReader(r io.Reader, maxPayload int64) *FrameReader {
	return &FrameReader{r: bufio.NewReaderSize(r, 64<<10), max: maxPayload}
}

// Next reads the next frame. alloc returns a buffer of n bytes for the
// payload (nil alloc: make); it may block to bound memory, and its error
// is returned as is; when reading the payload fails, the frame comes back
// with the error so that the caller can release its buffer. After the end marker Next returns io.EOF; a stream
// cut short gives ErrTruncated.
func (fr *FrameReader) Next(alloc func(n int) ([]byte, error)) (Frame, error) {
	var f Frame
	if fr.done {
		return f, io.EOF
	}
	if !fr.started {
		var m [8]byte
		if _, err := io.ReadFull(fr.r, m[:]); err != nil {
			return f, fr.cut(err)
		}
		if m != streamMagic {
			if string(m[:6]) == string(streamMagic[:6]) {
				return f, fmt.Errorf("%w: object stream version %d, this fed reads %d", ErrVersion, m[7], streamMagic[7])
			}
			return f, fmt.Errorf("%w: bad magic", ErrBadFrame)
		}
		fr.started = true
	}
	var hdr [FrameHeaderSize]byte
	if _, err := io.ReadFull(fr.r, hdr[:]); err != nil {
		return f, fr.cut(err)
	}
	copy(f.ID[:], hdr[:objects.IDSize])
	f.Form = hdr[objects.IDSize]
	n := int64(binary.BigEndian.Uint32(hdr[objects.IDSize+1:]))
	switch f.Form {
	case formEnd:
		if !f.ID.IsZero() || n != 0 {
			return Frame{}, fmt.Errorf("%w: bad end marker", ErrBadFrame)
		}
		fr.done = true
		return Frame{}, io.EOF
	case FormCanonical, FormStored:
	default:
		return Frame{}, fmt.Errorf("%w: frame form %d", ErrBadFrame, f.Form)
	}
	if f.ID.IsZero() {
		return Frame{}, fmt.Errorf("%w: frame with the zero id", ErrBadFrame)
	}
	if n > fr.max {
		return Frame{}, fmt.Errorf("%w: object %s of %d bytes (limit %d)", ErrTooLarge, f.ID.Short(), n, fr.max)
	}
	var err error
	if alloc == nil {
		f.Payload = make([]byte, n)
	} else if f.Payload, err = alloc(int(n)); err != nil {
		return Frame{}, err
	}
	if _, err := io.ReadFull(fr.r, f.Payload); err != nil {
		return f, fr.cut(err) // f.Payload returned so that the caller can release it
	}
	return f, nil
}

func (fr *FrameReader) cut(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return ErrTruncated
	}
	return err
}

// payloadFree keeps a few frame payload buffers (objects are pieces of a
// few MiB) for reuse across frames.
var payloadFree = make(chan []byte, 16)

// PayloadBuffer returns a buffer of n bytes for a frame payload, reused
// when one is free; ReleasePayload hands it back once the frame is stored.
// Its capacity leaves room for payloadSpare more bytes, so that a store
// appending a trailer to what it received (the local checksum of a
// stored form) does not copy the payload into a larger array.
func PayloadBuffer(n int) []byte {
	select {
	case b := <-payloadFree:
		if cap(b) >= n+payloadSpare {
			return b[:n]
		}
	default:
	}
	c := max(n+payloadSpare, 1<<20)
	if c <= pieceBuffer {
		c = pieceBuffer
	}
	return make([]byte, n, c)
}

// pieceBuffer is the capacity of a payload buffer for any frame up to a
// piece's stored form (at most the piece and a few header bytes), so
// that a buffer released after one piece fits the next, whatever the
// two compressed to.
const pieceBuffer = objects.DefaultPieceSize + 64<<10

// payloadSpare is the spare capacity of a payload buffer.
const payloadSpare = 64

// ReleasePayload returns a payload buffer for reuse; nothing may use it
// afterwards.
func ReleasePayload(b []byte) {
	if cap(b) >= 1<<20 && cap(b) <= 16<<20 {
		select {
		case payloadFree <- b[:0]:
		default:
		}
	}
}
