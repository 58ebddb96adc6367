package nft

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fed-vcs/fed/objects"
)

// mintAccount lays out a Token-2022 mint account by hand, following the
// documented layout: 82-byte base, zero padding to 165, account type 1,
// then TLV entries.
func mintAccount(authority *objects.PublicKey, supply uint64, tlv ...[]byte) []byte {
	b := make([]byte, 0, 512)
	if authority != nil {
		b = binary.LittleEndian.AppendUint32(b, 1)
		b = append(b, authority[:]...)
	} else {
		b = append(b, make([]byte, 36)...)
	}
	b = binary.LittleEndian.AppendUint64(b, supply)
	b = append(b, 0, 1)                // decimals 0, initialized
	b = append(b, make([]byte, 36)...) // no freeze authority
	b = append(b, make([]byte, 83)...) // padding to 165
	b = append(b, 1)                   // account type: mint
	for _, e := range tlv {
		b = append(b, e...)
	}
	return b
}

func tlvEntry(typ uint16, v []byte) []byte {
	b := binary.LittleEndian.AppendUint16(nil, typ)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(v)))
	return append(b, v...)
}

func objKey(b byte) objects.PublicKey { return objects.PublicKey(pk(b)) }

func TestDecodeMint(t *testing.T) {
	mint, holder := objKey(1), objKey(2)
	md := &Metadata{UpdateAuthority: holder, Mint: mint, Name: "fed: demo", Symbol: "FED", URI: "http://x/y",
		Fields: []Field{{FieldRepo, strings.Repeat("ab", 32)}}}
	// The metadata bytes, written from the interface's borsh layout.
	want := append(append([]byte{}, holder[:]...), mint[:]...)
	want = append(want, 9, 0, 0, 0)
	want = append(want, "fed: demo"...)
	want = append(want, 3, 0, 0, 0, 'F', 'E', 'D', 10, 0, 0, 0)
	want = append(want, "http://x/y"...)
	want = append(want, 1, 0, 0, 0, 8, 0, 0, 0)
	want = append(want, "fed.repo"...)
	want = append(want, 64, 0, 0, 0)
	want = append(want, strings.Repeat("ab", 32)...)
	if got := md.encode(); !bytes.Equal(got, want) {
		t.Fatalf("metadata encoding\n got %x\nwant %x", got, want)
	}
	if md.encodedLen() != len(want) {
		t.Errorf("encodedLen %d, want %d", md.encodedLen(), len(want))
	}

	pointer := append(make([]byte, 32), mint[:]...)
	data := mintAccount(nil, 1, tlvEntry(extMetadataPointer, pointer), tlvEntry(extTokenMetadata, want))
	if len(data) != mintLenWithMetadata(md) {
		t.Errorf("account of %d bytes, mintLenWithMetadata says %d", len(data), mintLenWithMetadata(md))
	}
	m, err := decodeMint(data)
	if err != nil {
		t.Fatal(err)
	}
	if m.MintAuthority != nil || m.FreezeAuthority != nil || m.Supply != 1 || m.Decimals != 0 || !m.Initialized {
		t.Errorf("base: %+v", m)
	}
	if d := cmp.Diff(&MetadataPointer{Address: mint}, m.MetadataPointer); d != "" {
		t.Errorf("pointer (-want +got):\n%s", d)
	}
	if d := cmp.Diff(md, m.Metadata); d != "" {
		t.Errorf("metadata (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]uint16{extMetadataPointer, extTokenMetadata}, m.Extensions); d != "" {
		t.Errorf("extensions (-want +got):\n%s", d)
	}
	if v, ok := m.Metadata.Get(FieldRepo); !ok || v != strings.Repeat("ab", 32) {
		t.Errorf("Get(fed.repo) = %q, %v", v, ok)
	}

	// A plain 82-byte mint with a mint authority.
	plain := mintAccount(&holder, 5)[:mintBaseLen]
	if m, err := decodeMint(plain); err != nil || m.MintAuthority == nil || *m.MintAuthority != holder || m.Supply != 5 || m.Metadata != nil {
		t.Errorf("plain mint: %+v, %v", m, err)
	}
}

func TestDecodeMintMalformed(t *testing.T) {
	mint := objKey(1)
	good := mintAccount(nil, 1, tlvEntry(extMetadataPointer, append(make([]byte, 32), mint[:]...)))
	cases := map[string][]byte{
		"short":                 good[:40],
		"between base and type": good[:120],
		"account type 2":        func() []byte { b := bytes.Clone(good); b[accountTypeAt] = 2; return b }(),
		"padding not zero":      func() []byte { b := bytes.Clone(good); b[100] = 1; return b }(),
		"bad coption tag":       func() []byte { b := bytes.Clone(good); b[0] = 7; return b }(),
		"tlv overruns":          append(bytes.Clone(good[:tlvStart]), tlvEntry(extMetadataPointer, make([]byte, 64))[:20]...),
		"pointer too short":     mintAccount(nil, 1, tlvEntry(extMetadataPointer, make([]byte, 10))),
		"extension twice":       mintAccount(nil, 1, tlvEntry(3, make([]byte, 32)), tlvEntry(3, make([]byte, 32))),
		"metadata truncated":    mintAccount(nil, 1, tlvEntry(extTokenMetadata, make([]byte, 70))),
		"metadata trailing":     mintAccount(nil, 1, tlvEntry(extTokenMetadata, append((&Metadata{}).encode(), 0))),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := decodeMint(b); !errors.Is(err, ErrMalformed) {
				t.Errorf("decodeMint: %v, want ErrMalformed", err)
			}
		})
	}
}

func TestDecodeTokenAccount(t *testing.T) {
	mint, owner := objKey(1), objKey(2)
	b := append(append([]byte{}, mint[:]...), owner[:]...)
	b = binary.LittleEndian.AppendUint64(b, 1)
	b = append(b, make([]byte, 36)...) // delegate
	b = append(b, 1)                   // initialized
	b = append(b, make([]byte, 12+8+36)...)
	ext := append(append(bytes.Clone(b), 2), tlvEntry(7, nil)...) // type 2, ImmutableOwner
	for _, data := range [][]byte{b, ext} {
		ta, err := decodeTokenAccount(data)
		if err != nil || ta.Mint != mint || ta.Owner != owner || ta.Amount != 1 || ta.State != 1 {
			t.Errorf("decode %d bytes: %+v, %v", len(data), ta, err)
		}
	}
	if _, err := decodeTokenAccount(b[:100]); !errors.Is(err, ErrMalformed) {
		t.Errorf("short account: %v", err)
	}
}

func TestMemo(t *testing.T) {
	var repo, commit objects.ID
	repo[0], commit[31] = 1, 2
	zk := strings.Repeat("0a", 32)
	tests := []AnchorRecord{{Repo: repo, Commit: commit}, {Repo: repo, Commit: commit, ZKRoot: zk}}
	for _, a := range tests {
		s := a.Memo()
		if !strings.HasPrefix(s, "fed-anchor/1 repo=01") {
			t.Errorf("memo %q", s)
		}
		got, err := ParseMemo(s)
		if err != nil || got != a {
			t.Errorf("ParseMemo(%q) = %+v, %v", s, got, err)
		}
	}
	if s := tests[1].Memo(); len(s) <= 128 {
		t.Errorf("memo with a zk root is %d bytes; the chain test relies on it being over 128", len(s))
	}
	for _, bad := range []string{
		"", "fed-anchor/2 repo=" + repo.String() + " commit=" + commit.String(),
		"fed-anchor/1 repo=" + repo.String(),
		"fed-anchor/1 repo=" + repo.String() + " commit=xyz",
		"fed-anchor/1 repo=" + repo.String() + " commit=" + commit.String() + " zk=ABC",
		"fed-anchor/1 repo=" + repo.String() + " commit=" + commit.String() + " extra=1",
		"fed-anchor/1 repo=" + repo.String() + " repo=" + repo.String() + " commit=" + commit.String(),
	} {
		if _, err := ParseMemo(bad); err == nil {
			t.Errorf("ParseMemo(%q) accepted", bad)
		}
	}
}

func FuzzDecodeMint(f *testing.F) {
	mint := objKey(1)
	md := &Metadata{Mint: mint, Name: "n", Fields: []Field{{"k", "v"}}}
	f.Add(mintAccount(nil, 1, tlvEntry(extMetadataPointer, append(make([]byte, 32), mint[:]...)), tlvEntry(extTokenMetadata, md.encode())))
	f.Add(mintAccount(nil, 1)[:mintBaseLen])
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMint(b)
		if err != nil {
			return
		}
		if m.Metadata != nil {
			// What decodes re-encodes to the same bytes.
			enc := m.Metadata.encode()
			again, err := decodeMetadata(enc)
			if err != nil || !cmp.Equal(again, m.Metadata) {
				t.Fatalf("metadata round trip: %v", err)
			}
		}
	})
}

func FuzzParseMemo(f *testing.F) {
	f.Add(AnchorRecord{Commit: objects.ID{1}, ZKRoot: strings.Repeat("00", 32)}.Memo())
	f.Add("fed-anchor/1 repo=")
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseMemo(s)
		if err != nil {
			return
		}
		if b, err := ParseMemo(a.Memo()); err != nil || b != a {
			t.Fatalf("round trip of %q: %+v, %v", s, b, err)
		}
	})
}
