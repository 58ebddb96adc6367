package objects

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
)

// IDSize is the length of an object id in bytes (a SHA-256 digest).
const IDSize = sha256.Size

// ID names an object: the SHA-256 of its canonical encoding (see Encode).
type ID [IDSize]byte

// ZeroID is the all-zero id; no object has it. It stands for "none" (an
// absent parent, a ref that does not exist yet).
var ZeroID ID

// ErrBadID reports a malformed hexadecimal object id.
var ErrBadID = errors.New("objects: malformed id")

// Sum returns the id of the canonical object bytes b.
func Sum(b []byte) ID { return ID(sha256.Sum256(b)) }

// String returns the full lowercase hexadecimal form (64 characters).
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// Short returns the 12-character abbreviation used in human output.
func (id ID) Short() string { return id.String()[:12] }

// IsZero reports whether id is ZeroID.
func (id ID) IsZero() bool { return id == ZeroID }

// MarshalText implements encoding.TextMarshaler (full hex).
func (id ID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (id *ID) UnmarshalText(b []byte) error {
	p, err := ParseID(string(b))
	if err != nil {
		return err
	}
	*id = p
	return nil
}

// ParseID parses a full 64-character lowercase or uppercase hex id.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 2*IDSize {
		return id, fmt.Errorf("%w: %q has %d characters, want %d", ErrBadID, s, len(s), 2*IDSize)
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("%w: %q: %v", ErrBadID, s, err)
	}
	return id, nil
}

// IsHexPrefix reports whether s could abbreviate an id: 4 to 64 hex digits.
func IsHexPrefix(s string) bool {
	if len(s) < 4 || len(s) > 2*IDSize {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}
