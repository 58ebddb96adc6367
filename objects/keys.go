package objects

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Errors about keys and signatures.
var (
	// ErrBadSignature reports a signature that does not verify.
	ErrBadSignature = errors.New("objects: bad signature")
	// ErrUnsigned reports an object without a signature.
	ErrUnsigned = errors.New("objects: not signed")
)

// Keypair is a Solana wallet key: an ed25519 private key. On disk it is
// the solana-keygen JSON format: an array of 64 integers 0..255, the
// 32-byte seed followed by the 32-byte public key.
type Keypair struct {
	priv ed25519.PrivateKey
}

// GenerateKeypair makes a new random keypair.
func GenerateKeypair() (*Keypair, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	return &Keypair{priv: priv}, nil
}

// KeypairFromSeed derives a keypair from a 32-byte seed (tests, demos).
func KeypairFromSeed(seed []byte) *Keypair {
	return &Keypair{priv: ed25519.NewKeyFromSeed(seed)}
}

// ParseKeypair decodes the solana-keygen JSON format. name labels errors.
func ParseKeypair(name string, data []byte) (*Keypair, error) {
	var ints []int
	if err := json.Unmarshal(data, &ints); err != nil {
		return nil, fmt.Errorf("keypair %s: not a JSON array of integers: %v", name, err)
	}
	if len(ints) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("keypair %s: %d numbers, want %d", name, len(ints), ed25519.PrivateKeySize)
	}
	b := make([]byte, len(ints))
	for i, v := range ints {
		if v < 0 || v > 255 {
			return nil, fmt.Errorf("keypair %s: number %d at position %d is not a byte", name, v, i)
		}
		b[i] = byte(v)
	}
	priv := ed25519.NewKeyFromSeed(b[:32])
	if string(priv[32:]) != string(b[32:]) {
		return nil, fmt.Errorf("keypair %s: public key does not belong to the secret key", name)
	}
	return &Keypair{priv: priv}, nil
}

// LoadKeypair reads a solana-keygen JSON keypair file.
func LoadKeypair(path string) (*Keypair, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read keypair: %w", err)
	}
	return ParseKeypair(path, data)
}

// MarshalJSON writes the solana-keygen format.
func (k *Keypair) MarshalJSON() ([]byte, error) {
	parts := make([]string, len(k.priv))
	for i, b := range k.priv {
		parts[i] = fmt.Sprint(b)
	}
	return []byte("[" + strings.Join(parts, ",") + "]"), nil
}

// Save writes the keypair to path with mode 0600, refusing to overwrite
// an existing file.
func (k *Keypair) Save(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("save keypair: %w", err)
	}
	data, _ := k.MarshalJSON()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("save keypair: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("save keypair: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("save keypair: %w", err)
	}
	return f.Close()
}

// Public returns the wallet address.
func (k *Keypair) Public() PublicKey {
	var p PublicKey
	copy(p[:], k.priv[32:])
	return p
}

// Sign signs msg with ed25519.
func (k *Keypair) Sign(msg []byte) []byte { return ed25519.Sign(k.priv, msg) }

// Verify checks an ed25519 signature by pub.
func Verify(pub PublicKey, msg, sig []byte) bool {
	return len(sig) == ed25519.SignatureSize && ed25519.Verify(ed25519.PublicKey(pub[:]), msg, sig)
}

// SignCommit sets c.Author to k's public key and signs c.
func SignCommit(c *Commit, k *Keypair) error {
	c.Author = k.Public()
	msg, err := c.Signed()
	if err != nil {
		return err
	}
	c.Signature = k.Sign(msg)
	return nil
}

// VerifyCommit checks c's signature against its author.
func VerifyCommit(c *Commit) error {
	if len(c.Signature) == 0 {
		return ErrUnsigned
	}
	msg, err := c.Signed()
	if err != nil {
		return err
	}
	if !Verify(c.Author, msg, c.Signature) {
		return fmt.Errorf("%w: commit by %s", ErrBadSignature, c.Author)
	}
	return nil
}

// SignTag sets t.Tagger to k's public key and signs t.
func SignTag(t *Tag, k *Keypair) error {
	t.Tagger = k.Public()
	msg, err := t.Signed()
	if err != nil {
		return err
	}
	t.Signature = k.Sign(msg)
	return nil
}

// VerifyTag checks t's signature against its tagger.
func VerifyTag(t *Tag) error {
	if len(t.Signature) == 0 {
		return ErrUnsigned
	}
	msg, err := t.Signed()
	if err != nil {
		return err
	}
	if !Verify(t.Tagger, msg, t.Signature) {
		return fmt.Errorf("%w: tag by %s", ErrBadSignature, t.Tagger)
	}
	return nil
}
