package zk

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark/backend/groth16"
	"github.com/consensys/gnark/constraint"
	"github.com/consensys/gnark/frontend"
	"github.com/consensys/gnark/frontend/cs/r1cs"

	"github.com/fed-vcs/fed/internal/fsys"
	"github.com/fed-vcs/fed/objects"
)

// Origin says who made a key pair.
type Origin uint8

// Key origins.
const (
	// Development keys come from a single-party setup: whoever ran it can
	// forge proofs. Every output labels them.
	Development Origin = 1
	// Ceremony keys come from a multi-party computation (gnark mpcsetup):
	// sound as long as one contributor destroyed their secret.
	Ceremony Origin = 2
)

func (o Origin) String() string {
	switch o {
	case Development:
		return "development"
	case Ceremony:
		return "ceremony"
	}
	return fmt.Sprintf("origin(%d)", uint8(o))
}

// Key file layout (see design-zk.md):
//
//	0  4  magic "FZKK"
//	4  1  key file version (1)
//	5  1  type: 'P' proving, 'V' verifying
//	6  1  origin (1 development, 2 ceremony)
//	7  1  length s of the shape name
//	8  s  shape name (Shape.String, carries the circuit version)
//	proving keys only: 32 bytes SHA-256 of the payload
//	.. payload: gnark's encoding (verifying: WriteTo, compressed points;
//	   proving: WriteRawTo) to the end of the file
const (
	keyMagic   = "FZKK"
	keyVersion = 1
)

// VerifyingKey is a decoded verifying key file.
type VerifyingKey struct {
	Shape  Shape
	Origin Origin
	// ID is the object id of the chunk object holding the key file: what
	// proofs name and repositories pin.
	ID  objects.ID
	Raw []byte // the whole key file
	vk  groth16.VerifyingKey
}

// KeyID returns the id of a verifying key file: the object id of a chunk
// object holding it.
func KeyID(file []byte) objects.ID { return objects.Sum(objects.EncodeChunk(file)) }

func encodeKeyHeader(typ byte, shape Shape, origin Origin) []byte {
	name := shape.String()
	b := append([]byte(keyMagic), keyVersion, typ, byte(origin), byte(len(name)))
	return append(b, name...)
}

func decodeKeyHeader(b []byte, typ byte) (Shape, Origin, []byte, error) {
	if len(b) < 8 || string(b[:4]) != keyMagic {
		return Shape{}, 0, nil, fmt.Errorf("%w: not a fed zk key file", ErrMalformed)
	}
	if b[4] != keyVersion {
		return Shape{}, 0, nil, fmt.Errorf("%w: key file version %d (this fed reads %d)", ErrUnknownVersion, b[4], keyVersion)
	}
	if b[5] != typ {
		return Shape{}, 0, nil, fmt.Errorf("%w: key file of type %q, want %q", ErrMalformed, b[5], typ)
	}
	origin := Origin(b[6])
	if origin != Development && origin != Ceremony {
		return Shape{}, 0, nil, fmt.Errorf("%w: key origin %d", ErrMalformed, b[6])
	}
	n := int(b[7])
	if len(b) < 8+n {
		return Shape{}, 0, nil, fmt.Errorf("%w: truncated key header", ErrMalformed)
	}
	shape, err := ParseShape(string(b[8 : 8+n]))
	if err != nil {
		return Shape{}, 0, nil, err
	}
	return shape, origin, b[8+n:], nil
}

// EncodeVerifyingKey returns the key file of a gnark verifying key.
func encodeVerifyingKey(shape Shape, origin Origin, vk groth16.VerifyingKey) ([]byte, error) {
	var buf bytes.Buffer
	buf.Write(encodeKeyHeader('V', shape, origin))
	if _, err := vk.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("zk: encode verifying key %s: %w", shape, err)
	}
	return buf.Bytes(), nil
}

// DecodeVerifyingKey parses a verifying key file. It never panics.
func DecodeVerifyingKey(b []byte) (k *VerifyingKey, err error) {
	shape, origin, payload, err := decodeKeyHeader(b, 'V')
	if err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			k, err = nil, fmt.Errorf("%w: verifying key %s: %v", ErrMalformed, shape, r)
		}
	}()
	vk := groth16.NewVerifyingKey(ecc.BN254)
	n, err := vk.ReadFrom(bytes.NewReader(payload))
	if err != nil {
		return nil, fmt.Errorf("%w: verifying key %s: %v", ErrMalformed, shape, err)
	}
	if n != int64(len(payload)) {
		return nil, fmt.Errorf("%w: verifying key %s: %d trailing bytes", ErrMalformed, shape, int64(len(payload))-n)
	}
	if want := publicInputs(shape); vk.NbPublicWitness() != want {
		return nil, fmt.Errorf("%w: verifying key %s has %d public inputs, the circuit %d", ErrMalformed, shape, vk.NbPublicWitness(), want)
	}
	return &VerifyingKey{Shape: shape, Origin: origin, ID: KeyID(b), Raw: append([]byte(nil), b...), vk: vk}, nil
}

// publicInputs is the number of public inputs of a shape as gnark's
// verifying key counts them: the statement's, plus one for the BSB22
// commitment of the range checker.
func publicInputs(s Shape) int {
	switch s.Kind {
	case KindCommit:
		return 1 + 1
	case KindUpdate:
		return 4 + 1
	default:
		return 2*s.K + 1 + 1
	}
}

// Cache holds compiled circuits in memory and key files in a directory
// that its caller chooses (cmd/fed: $FED_ZK_CACHE, else the user cache
// directory + "/fed/zk").
type Cache struct {
	Dir string

	mu   sync.Mutex
	ccs  map[string]constraint.ConstraintSystem
	pks  map[string]groth16.ProvingKey
	vks  map[string]*VerifyingKey
	busy map[string]*sync.Mutex // one setup per shape at a time
}

// NewCache returns a cache over dir (created when keys are written).
func NewCache(dir string) *Cache {
	return &Cache{Dir: dir, ccs: map[string]constraint.ConstraintSystem{}, pks: map[string]groth16.ProvingKey{},
		vks: map[string]*VerifyingKey{}, busy: map[string]*sync.Mutex{}}
}

func (c *Cache) path(shape Shape, ext string) string { return filepath.Join(c.Dir, shape.String()+ext) }

// compiled returns the constraint system of shape, compiling it once.
func (c *Cache) compiled(shape Shape) (constraint.ConstraintSystem, error) {
	c.mu.Lock()
	cs, ok := c.ccs[shape.String()]
	c.mu.Unlock()
	if ok {
		return cs, nil
	}
	cs, err := frontend.Compile(ecc.BN254.ScalarField(), r1cs.NewBuilder, shape.placeholder())
	if err != nil {
		return nil, fmt.Errorf("zk: compile %s: %w", shape, err)
	}
	c.mu.Lock()
	c.ccs[shape.String()] = cs
	c.mu.Unlock()
	return cs, nil
}

// Constraints returns the number of constraints of shape.
func (c *Cache) Constraints(shape Shape) (int, error) {
	cs, err := c.compiled(shape)
	if err != nil {
		return 0, err
	}
	return cs.GetNbConstraints(), nil
}

func (c *Cache) lock(shape Shape) func() {
	c.mu.Lock()
	m, ok := c.busy[shape.String()]
	if !ok {
		m = &sync.Mutex{}
		c.busy[shape.String()] = m
	}
	c.mu.Unlock()
	m.Lock()
	return m.Unlock
}

// Setup makes development keys for shape unless the cache holds keys for
// it already, and returns the verifying key.
func (c *Cache) Setup(ctx context.Context, shape Shape) (*VerifyingKey, error) {
	if err := shape.Validate(); err != nil {
		return nil, err
	}
	unlock := c.lock(shape)
	defer unlock()
	if vk, err := c.VerifyingKey(shape); err == nil {
		return vk, nil
	} else if !errors.Is(err, ErrNoKeys) {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cs, err := c.compiled(shape)
	if err != nil {
		return nil, err
	}
	pk, vk, err := groth16.Setup(cs)
	if err != nil {
		return nil, fmt.Errorf("zk: setup %s: %w", shape, err)
	}
	return c.store(shape, Development, pk, vk)
}

// Import stores keys from a multi-party ceremony (gnark mpcsetup's
// VerifyPhase2 output, written with WriteTo) for shape, replacing any keys
// the cache holds. It checks that they prove and verify a sample witness.
func (c *Cache) Import(ctx context.Context, shape Shape, pkr, vkr io.Reader) (*VerifyingKey, error) {
	if err := shape.Validate(); err != nil {
		return nil, err
	}
	pk := groth16.NewProvingKey(ecc.BN254)
	vk := groth16.NewVerifyingKey(ecc.BN254)
	if err := safeRead(func() error { _, err := pk.ReadFrom(bufio.NewReader(pkr)); return err }); err != nil {
		return nil, fmt.Errorf("zk: import %s: proving key: %w", shape, err)
	}
	if err := safeRead(func() error { _, err := vk.ReadFrom(bufio.NewReader(vkr)); return err }); err != nil {
		return nil, fmt.Errorf("zk: import %s: verifying key: %w", shape, err)
	}
	if vk.NbPublicWitness() != publicInputs(shape) {
		return nil, fmt.Errorf("zk: import %s: %w: verifying key has %d public inputs, the circuit %d", shape, ErrMalformed, vk.NbPublicWitness(), publicInputs(shape))
	}
	cs, err := c.compiled(shape)
	if err != nil {
		return nil, err
	}
	full, public, err := sampleWitness(shape)
	if err != nil {
		return nil, err
	}
	proof, err := groth16.Prove(cs, pk, full)
	if err != nil {
		return nil, fmt.Errorf("zk: import %s: keys do not fit the circuit: %w", shape, err)
	}
	if err := groth16.Verify(proof, vk, public); err != nil {
		return nil, fmt.Errorf("zk: import %s: proving and verifying keys do not match: %w", shape, err)
	}
	unlock := c.lock(shape)
	defer unlock()
	return c.store(shape, Ceremony, pk, vk)
}

func safeRead(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", ErrMalformed, r)
		}
	}()
	if err := fn(); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return nil
}

// store writes both key files (temporary file and rename) and caches them.
func (c *Cache) store(shape Shape, origin Origin, pk groth16.ProvingKey, vk groth16.VerifyingKey) (*VerifyingKey, error) {
	vkFile, err := encodeVerifyingKey(shape, origin, vk)
	if err != nil {
		return nil, err
	}
	var payload bytes.Buffer
	if _, err := pk.WriteRawTo(&payload); err != nil {
		return nil, fmt.Errorf("zk: encode proving key %s: %w", shape, err)
	}
	sum := sha256.Sum256(payload.Bytes())
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("zk: key cache: %w", err)
	}
	hdr := append(encodeKeyHeader('P', shape, origin), sum[:]...)
	if err := writeAtomic(c.path(shape, ".pk"), hdr, payload.Bytes()); err != nil {
		return nil, err
	}
	if err := writeAtomic(c.path(shape, ".vk"), vkFile); err != nil {
		return nil, err
	}
	k, err := DecodeVerifyingKey(vkFile)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.pks[shape.String()] = pk
	c.vks[shape.String()] = k
	c.mu.Unlock()
	return k, nil
}

func writeAtomic(path string, parts ...[]byte) error {
	if err := fsys.WriteFile(path, 0o600, parts...); err != nil {
		return fmt.Errorf("zk: write %s: %w", path, err)
	}
	return nil
}

// VerifyingKey returns the cached verifying key of shape (ErrNoKeys when
// there is none).
func (c *Cache) VerifyingKey(shape Shape) (*VerifyingKey, error) {
	c.mu.Lock()
	k, ok := c.vks[shape.String()]
	c.mu.Unlock()
	if ok {
		return k, nil
	}
	b, err := os.ReadFile(c.path(shape, ".vk"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &NoKeysError{Shape: shape, err: fmt.Errorf("%w %s (run 'fed zk setup')", ErrNoKeys, shape)}
	}
	if err != nil {
		return nil, fmt.Errorf("zk: read verifying key %s: %w", shape, err)
	}
	k, err = DecodeVerifyingKey(b)
	if err != nil {
		return nil, &KeyFileError{c.path(shape, ".vk"), err}
	}
	if k.Shape != shape {
		return nil, &KeyFileError{c.path(shape, ".vk"), fmt.Errorf("%w: holds keys of %s", ErrMalformed, k.Shape)}
	}
	c.mu.Lock()
	c.vks[shape.String()] = k
	c.mu.Unlock()
	return k, nil
}

// provingKey returns the cached proving key of shape.
func (c *Cache) provingKey(shape Shape) (groth16.ProvingKey, Origin, error) {
	vk, err := c.VerifyingKey(shape)
	if err != nil {
		return nil, 0, err
	}
	c.mu.Lock()
	pk, ok := c.pks[shape.String()]
	c.mu.Unlock()
	if ok {
		return pk, vk.Origin, nil
	}
	b, err := os.ReadFile(c.path(shape, ".pk"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, &NoKeysError{Shape: shape, err: fmt.Errorf("%w %s: the cache holds its verifying key only; proving needs the proving key made with it (copy %s from where the keys were made, or delete %s and run 'fed zk setup' for new development keys)",
			ErrNoKeys, shape, c.path(shape, ".pk"), c.path(shape, ".vk"))}
	}
	if err != nil {
		return nil, 0, fmt.Errorf("zk: read proving key %s: %w", shape, err)
	}
	sh, origin, rest, err := decodeKeyHeader(b, 'P')
	if err != nil || sh != shape || len(rest) < 32 {
		return nil, 0, &KeyFileError{c.path(shape, ".pk"), fmt.Errorf("%w: bad header", ErrMalformed)}
	}
	payload := rest[32:]
	if sum := sha256.Sum256(payload); !bytes.Equal(sum[:], rest[:32]) {
		return nil, 0, &KeyFileError{c.path(shape, ".pk"), fmt.Errorf("%w: checksum mismatch", ErrMalformed)}
	}
	if origin != vk.Origin {
		return nil, 0, &KeyFileError{c.path(shape, ".pk"), fmt.Errorf("%w: proving key is %s, verifying key %s", ErrMalformed, origin, vk.Origin)}
	}
	pk = groth16.NewProvingKey(ecc.BN254)
	if err := safeRead(func() error { _, err := pk.UnsafeReadFrom(bytes.NewReader(payload)); return err }); err != nil {
		return nil, 0, &KeyFileError{c.path(shape, ".pk"), err}
	}
	c.mu.Lock()
	c.pks[shape.String()] = pk
	c.mu.Unlock()
	return pk, origin, nil
}

// List returns the verifying keys in the cache, by shape name.
func (c *Cache) List() ([]*VerifyingKey, error) {
	ents, err := os.ReadDir(c.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("zk: key cache: %w", err)
	}
	var out []*VerifyingKey
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".vk")
		if !ok {
			continue
		}
		shape, err := ParseShape(name)
		if err != nil {
			continue // another version's keys
		}
		k, err := c.VerifyingKey(shape)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Shape.String() < out[j].Shape.String() })
	return out, nil
}

// VerifyingKeyOrigin reads the origin of a verifying key file from its
// header, without decoding the key.
func VerifyingKeyOrigin(file []byte) (Origin, error) {
	_, origin, _, err := decodeKeyHeader(file, 'V')
	return origin, err
}
