package nft

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/fed-vcs/fed/objects"
)

// Account layouts of Token-2022 (all integers little-endian).
//
// Mint, 82 bytes: mint_authority COption<Pubkey> (u32 tag + 32),
// supply u64, decimals u8, is_initialized u8, freeze_authority
// COption<Pubkey> (u32 tag + 32). A mint with extensions is padded with
// zeros to 165 bytes, then one account-type byte (1 mint, 2 token
// account) at offset 165, then TLV entries from offset 166: type u16,
// length u16, value. Type 0 ends the list (unused space).
//
// Token account, 165 bytes: mint (32), owner (32), amount u64, delegate
// COption<Pubkey> (36), state u8 (0 uninitialized, 1 initialized,
// 2 frozen), is_native COption<u64> (12), delegated_amount u64,
// close_authority COption<Pubkey> (36); extensions as for a mint.
const (
	mintBaseLen      = 82
	tokenAccountLen  = 165
	accountTypeAt    = 165
	tlvStart         = 166
	accountTypeMint  = 1
	accountTypeToken = 2
	multisigLen      = 355

	extMetadataPointer = 18
	extTokenMetadata   = 19

	metadataPointerLen = 64
)

// ErrMalformed reports account data that is not what it claims to be.
var ErrMalformed = errors.New("nft: malformed account data")

// Field is one key/value of a token's metadata.
type Field struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Metadata is the TokenMetadata extension of a mint.
type Metadata struct {
	// UpdateAuthority may rewrite the metadata; zero when nobody may.
	UpdateAuthority objects.PublicKey
	Mint            objects.PublicKey
	Name            string
	Symbol          string
	URI             string
	// Fields are the additional key/value pairs, in their on-chain order.
	Fields []Field
}

// Get returns the value of key among m's fields.
func (m *Metadata) Get(key string) (string, bool) {
	for _, f := range m.Fields {
		if f.Key == key {
			return f.Value, true
		}
	}
	return "", false
}

// encodedLen is the length of m's borsh encoding.
func (m *Metadata) encodedLen() int {
	n := 64 + 4 + len(m.Name) + 4 + len(m.Symbol) + 4 + len(m.URI) + 4
	for _, f := range m.Fields {
		n += 8 + len(f.Key) + len(f.Value)
	}
	return n
}

// encode is m in the token metadata interface's borsh layout:
// update_authority (32, zeros for none), mint (32), name, symbol, uri
// (u32 length + bytes each), then u32 count and count key/value string
// pairs.
func (m *Metadata) encode() []byte {
	b := make([]byte, 0, m.encodedLen())
	b = append(b, m.UpdateAuthority[:]...)
	b = append(b, m.Mint[:]...)
	b = borshString(b, m.Name)
	b = borshString(b, m.Symbol)
	b = borshString(b, m.URI)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(m.Fields)))
	for _, f := range m.Fields {
		b = borshString(b, f.Key)
		b = borshString(b, f.Value)
	}
	return b
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.err = fmt.Errorf("%w: need %d bytes, have %d", ErrMalformed, n, len(r.b))
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) u32() uint32 {
	b := r.take(4)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(b)
}

func (r *reader) str() string {
	n := r.u32()
	b := r.take(int(min(n, uint32(len(r.b)+1))))
	if r.err == nil && !utf8.Valid(b) {
		r.err = fmt.Errorf("%w: string is not UTF-8", ErrMalformed)
	}
	return string(b)
}

func (r *reader) key() objects.PublicKey {
	var k objects.PublicKey
	copy(k[:], r.take(32))
	return k
}

// decodeMetadata parses the borsh layout written by encode.
func decodeMetadata(b []byte) (*Metadata, error) {
	r := &reader{b: b}
	m := &Metadata{UpdateAuthority: r.key(), Mint: r.key()}
	m.Name, m.Symbol, m.URI = r.str(), r.str(), r.str()
	n := r.u32()
	if r.err == nil && uint64(n)*8 > uint64(len(r.b)) {
		return nil, fmt.Errorf("%w: %d metadata fields in %d bytes", ErrMalformed, n, len(r.b))
	}
	for i := uint32(0); i < n && r.err == nil; i++ {
		m.Fields = append(m.Fields, Field{Key: r.str(), Value: r.str()})
	}
	if r.err != nil {
		return nil, fmt.Errorf("token metadata: %w", r.err)
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("token metadata: %w: %d trailing bytes", ErrMalformed, len(r.b))
	}
	return m, nil
}

// MintState is a decoded Token-2022 mint account.
type MintState struct {
	MintAuthority   *objects.PublicKey // nil: none
	Supply          uint64
	Decimals        uint8
	Initialized     bool
	FreezeAuthority *objects.PublicKey // nil: none
	// MetadataPointer is the MetadataPointer extension, when present.
	MetadataPointer *MetadataPointer
	// Metadata is the TokenMetadata extension, when present.
	Metadata *Metadata
	// Extensions lists the TLV types present, in order.
	Extensions []uint16
}

// MetadataPointer is the MetadataPointer extension: who may repoint it
// and where the metadata lives (zero keys: none).
type MetadataPointer struct {
	Authority objects.PublicKey
	Address   objects.PublicKey
}

func coptionKey(b []byte) (*objects.PublicKey, error) {
	switch binary.LittleEndian.Uint32(b) {
	case 0:
		return nil, nil
	case 1:
		var k objects.PublicKey
		copy(k[:], b[4:36])
		return &k, nil
	default:
		return nil, fmt.Errorf("%w: COption tag %d", ErrMalformed, binary.LittleEndian.Uint32(b))
	}
}

// decodeMint parses a mint account's data with its extensions.
func decodeMint(b []byte) (*MintState, error) {
	if len(b) < mintBaseLen {
		return nil, fmt.Errorf("mint: %w: %d bytes", ErrMalformed, len(b))
	}
	var m MintState
	var err error
	if m.MintAuthority, err = coptionKey(b[0:36]); err != nil {
		return nil, fmt.Errorf("mint authority: %w", err)
	}
	m.Supply = binary.LittleEndian.Uint64(b[36:44])
	m.Decimals = b[44]
	m.Initialized = b[45] == 1
	if m.FreezeAuthority, err = coptionKey(b[46:82]); err != nil {
		return nil, fmt.Errorf("freeze authority: %w", err)
	}
	if len(b) == mintBaseLen {
		return &m, nil
	}
	if len(b) < tlvStart || len(b) == multisigLen {
		return nil, fmt.Errorf("mint: %w: %d bytes is not a mint with extensions", ErrMalformed, len(b))
	}
	for _, c := range b[mintBaseLen:accountTypeAt] {
		if c != 0 {
			return nil, fmt.Errorf("mint: %w: padding is not zero", ErrMalformed)
		}
	}
	if b[accountTypeAt] != accountTypeMint {
		return nil, fmt.Errorf("mint: %w: account type %d", ErrMalformed, b[accountTypeAt])
	}
	err = walkTLV(b[tlvStart:], func(typ uint16, v []byte) error {
		m.Extensions = append(m.Extensions, typ)
		switch typ {
		case extMetadataPointer:
			if len(v) != metadataPointerLen {
				return fmt.Errorf("metadata pointer: %w: %d bytes", ErrMalformed, len(v))
			}
			p := &MetadataPointer{}
			copy(p.Authority[:], v[:32])
			copy(p.Address[:], v[32:])
			m.MetadataPointer = p
		case extTokenMetadata:
			md, err := decodeMetadata(v)
			if err != nil {
				return err
			}
			m.Metadata = md
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("mint: %w", err)
	}
	return &m, nil
}

// walkTLV calls fn for each entry of a Token-2022 TLV area; a type 0
// entry (or fewer than 4 bytes left) ends it.
func walkTLV(b []byte, fn func(typ uint16, v []byte) error) error {
	seen := map[uint16]bool{}
	for len(b) >= 4 {
		typ := binary.LittleEndian.Uint16(b)
		n := int(binary.LittleEndian.Uint16(b[2:]))
		if typ == 0 {
			return nil
		}
		if 4+n > len(b) {
			return fmt.Errorf("%w: extension %d claims %d bytes, %d left", ErrMalformed, typ, n, len(b)-4)
		}
		if seen[typ] {
			return fmt.Errorf("%w: extension %d twice", ErrMalformed, typ)
		}
		seen[typ] = true
		if err := fn(typ, b[4:4+n]); err != nil {
			return err
		}
		b = b[4+n:]
	}
	return nil
}

// tokenAccount is the part of a token account fed reads.
type tokenAccount struct {
	Mint   objects.PublicKey
	Owner  objects.PublicKey
	Amount uint64
	State  uint8
}

func decodeTokenAccount(b []byte) (*tokenAccount, error) {
	if len(b) < tokenAccountLen || (len(b) > tokenAccountLen && b[accountTypeAt] != accountTypeToken) {
		return nil, fmt.Errorf("token account: %w: %d bytes", ErrMalformed, len(b))
	}
	t := &tokenAccount{Amount: binary.LittleEndian.Uint64(b[64:72]), State: b[108]}
	copy(t.Mint[:], b[0:32])
	copy(t.Owner[:], b[32:64])
	return t, nil
}

// mintLen is the size of a mint account with the MetadataPointer
// extension only: what CreateAccount allocates before InitializeMint2.
const mintLen = tlvStart + 4 + metadataPointerLen

// mintLenWithMetadata is the size the mint grows to once TokenMetadata
// m is stored in it (Token-2022 reallocates; the rent must be there).
func mintLenWithMetadata(m *Metadata) int {
	n := mintLen + 4 + m.encodedLen()
	if n == multisigLen {
		n += 2 // Token-2022 never leaves an account the size of a multisig
	}
	return n
}
