package objects

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

func TestDecoder(t *testing.T) {
	errFormat := errors.New("format: malformed")
	b := binary.AppendUvarint(nil, 300)
	b = append(b, 7)
	b = binary.AppendUvarint(b, 2) // two items of 4 bytes
	b = append(b, "abcdefgh"...)
	d := NewDecoder(b, errFormat, "body: ")
	if v := d.Uvarint("size"); v != 300 {
		t.Errorf("Uvarint = %d, want 300", v)
	}
	if v := d.Byte("flag"); v != 7 {
		t.Errorf("Byte = %d, want 7", v)
	}
	if n := d.Count("items", 4); n != 2 {
		t.Errorf("Count = %d, want 2", n)
	}
	if p := d.Take(8, "items"); string(p) != "abcdefgh" {
		t.Errorf("Take = %q", p)
	}
	d.End("items")
	if d.Err() != nil || d.Len() != 0 {
		t.Fatalf("after reading everything: %v, %d bytes left", d.Err(), d.Len())
	}

	// The first error sticks, wraps the sentinel and names the field.
	d = NewDecoder([]byte{0x80}, errFormat, "body: ")
	if v := d.Uvarint("chunk size"); v != 0 {
		t.Errorf("Uvarint of a cut varint = %d", v)
	}
	if p := d.Take(1, "rest"); p != nil {
		t.Errorf("Take after an error = %q", p)
	}
	d.Fail("later")
	err := d.Err()
	if !errors.Is(err, errFormat) || errors.Is(err, ErrMalformed) || err.Error() != "format: malformed: body: bad varint in chunk size" {
		t.Errorf("error %q", err)
	}

	// A count the remaining bytes cannot hold is refused before any
	// allocation; without a sentinel the error is ErrMalformed.
	d = NewDecoder(binary.AppendUvarint(nil, 1<<40), nil, "")
	if n := d.Count("items", 1); n != 0 || !errors.Is(d.Err(), ErrMalformed) || !strings.Contains(d.Err().Error(), "items: count 1099511627776 exceeds the remaining bytes") {
		t.Errorf("huge count: %d, %v", n, d.Err())
	}
	d = NewDecoder([]byte("ab"), nil, "")
	if d.Take(3, "digest"); d.Err() == nil || !strings.Contains(d.Err().Error(), "truncated digest") {
		t.Errorf("short Take: %v", d.Err())
	}
	d = NewDecoder([]byte("ab"), nil, "")
	if d.End("tree"); d.Err() == nil || !strings.Contains(d.Err().Error(), "2 trailing bytes after tree") {
		t.Errorf("End with bytes left: %v", d.Err())
	}
}
