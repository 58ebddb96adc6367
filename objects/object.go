package objects

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
)

// Kind is the type of an object, byte 4 of its canonical encoding.
type Kind uint8

// The object kinds of format version 1.
const (
	KindChunk  Kind = 1 // raw bytes: a tensor piece or a content-defined chunk of a file
	KindTensor Kind = 2 // dtype, shape and ordered piece ids
	KindBlob   Kind = 3 // an opaque file: ordered chunk ids
	KindModel  Kind = 4 // a model file: format and segments (raw blobs and named tensors)
	KindTree   Kind = 5 // a directory
	KindCommit Kind = 6 // a signed snapshot with parents and metadata
	KindTag    Kind = 7 // a signed, named pointer to another object
	KindProof  Kind = 8 // a proof attached to a commit (body defined by the zk layer)
)

var kindNames = [...]string{"", "chunk", "tensor", "blob", "model", "tree", "commit", "tag", "proof"}

func (k Kind) valid() bool { return k >= KindChunk && k <= KindProof }

func (k Kind) String() string {
	if k.valid() {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// ParseKind is the inverse of Kind.String.
func ParseKind(s string) (Kind, error) {
	for i, n := range kindNames {
		if n != "" && n == s {
			return Kind(i), nil
		}
	}
	return 0, fmt.Errorf("objects: unknown kind %q", s)
}

// Object is any decoded object.
type Object interface {
	Kind() Kind
	// Refs lists the ids this object refers to, in encoding order.
	Refs() []ID
}

// KV is one key/value pair of metadata. Lists of KV are sorted by key with
// unique, non-empty keys in canonical encodings.
type KV struct{ Key, Value string }

// Chunk is raw bytes.
type Chunk struct{ Data []byte }

// Tensor is one tensor's element type, shape and bytes, stored as pieces
// of PieceSize bytes (the last piece may be shorter).
type Tensor struct {
	DType     DType
	Shape     []uint64
	Size      uint64 // bytes
	PieceSize uint64
	Pieces    []ID
}

// ChunkRef is a chunk of a blob with its length.
type ChunkRef struct {
	ID   ID
	Size uint64
}

// Blob is an opaque file cut into content-defined chunks.
type Blob struct {
	Size   uint64
	Chunks []ChunkRef
}

// Segment is a contiguous part of a model file: either raw bytes (Name
// empty, ID a blob) or a named tensor (ID a tensor).
type Segment struct {
	Name string
	ID   ID
	Size uint64
}

// IsTensor reports whether the segment holds a tensor.
func (s Segment) IsTensor() bool { return s.Name != "" }

// Model is a model file (safetensors, ...): concatenating its segments in
// order rebuilds the file byte for byte.
type Model struct {
	Format   string
	Size     uint64
	Segments []Segment
	Meta     []KV
}

// File modes of tree entries.
const (
	ModeFile = 0o100644
	ModeExec = 0o100755
	ModeDir  = 0o040000
)

// TreeEntry is one name in a directory.
type TreeEntry struct {
	Name string
	Mode uint32
	Kind Kind // KindBlob, KindModel or KindTree
	ID   ID
}

// Tree is a directory, entries sorted by name (byte order).
type Tree struct{ Entries []TreeEntry }

// PublicKey is an ed25519 public key: a Solana wallet address.
type PublicKey [32]byte

// String returns the base58 form used by Solana.
func (k PublicKey) String() string { return Base58(k[:]) }

// Commit is a signed snapshot.
type Commit struct {
	Tree      ID
	Parents   []ID
	Author    PublicKey
	Time      int64 // unix seconds
	TZ        int16 // offset from UTC in minutes
	Message   string
	Meta      []KV // e.g. samples=1437; sorted by key
	Signature []byte
}

// Tag is a signed name for another object.
type Tag struct {
	Target     ID
	TargetKind Kind
	Name       string
	Tagger     PublicKey
	Time       int64
	TZ         int16
	Message    string
	Signature  []byte
}

// Proof is an opaque proof attached to a commit. Its System names the
// proof system and circuit; Body is defined by that layer.
type Proof struct {
	Commit ID
	System string
	Needs  []ID // other objects the proof needs (keys, parents' commitments)
	Body   []byte
}

func (*Chunk) Kind() Kind  { return KindChunk }
func (*Tensor) Kind() Kind { return KindTensor }
func (*Blob) Kind() Kind   { return KindBlob }
func (*Model) Kind() Kind  { return KindModel }
func (*Tree) Kind() Kind   { return KindTree }
func (*Commit) Kind() Kind { return KindCommit }
func (*Tag) Kind() Kind    { return KindTag }
func (*Proof) Kind() Kind  { return KindProof }

func (*Chunk) Refs() []ID    { return nil }
func (t *Tensor) Refs() []ID { return t.Pieces }
func (b *Blob) Refs() []ID {
	ids := make([]ID, len(b.Chunks))
	for i, c := range b.Chunks {
		ids[i] = c.ID
	}
	return ids
}
func (m *Model) Refs() []ID {
	ids := make([]ID, len(m.Segments))
	for i, s := range m.Segments {
		ids[i] = s.ID
	}
	return ids
}
func (t *Tree) Refs() []ID {
	ids := make([]ID, len(t.Entries))
	for i, e := range t.Entries {
		ids[i] = e.ID
	}
	return ids
}
func (c *Commit) Refs() []ID { return append([]ID{c.Tree}, c.Parents...) }
func (t *Tag) Refs() []ID    { return []ID{t.Target} }
func (p *Proof) Refs() []ID  { return append([]ID{p.Commit}, p.Needs...) }

// GetKV returns the value of key in a sorted KV list.
func GetKV(kvs []KV, key string) (string, bool) {
	i := sort.Search(len(kvs), func(i int) bool { return kvs[i].Key >= key })
	if i < len(kvs) && kvs[i].Key == key {
		return kvs[i].Value, true
	}
	return "", false
}

// SortKV sorts a KV list by key; later duplicates replace earlier ones.
func SortKV(kvs []KV) []KV {
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		m[kv.Key] = kv.Value
	}
	out := make([]KV, 0, len(m))
	for k, v := range m {
		out = append(out, KV{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// Encode returns the canonical encoding of o. It validates o, so that
// every encoding it returns decodes again to the same object.
func Encode(o Object) ([]byte, error) {
	b, err := encode(o)
	if err != nil {
		return nil, err
	}
	if _, ok := o.(*Chunk); ok {
		return b, nil
	}
	if _, err := Decode(b); err != nil {
		return nil, fmt.Errorf("encode %s: %w", o.Kind(), err)
	}
	return b, nil
}

// encode writes the fields of o without validating them.
func encode(o Object) ([]byte, error) {
	var w writer
	switch o := o.(type) {
	case *Chunk:
		return EncodeChunk(o.Data), nil
	case *Tensor:
		w = header(KindTensor, 64+len(o.Pieces)*IDSize)
		w.str(string(o.DType))
		w.uvarint(uint64(len(o.Shape)))
		for _, d := range o.Shape {
			w.uvarint(d)
		}
		w.uvarint(o.Size)
		w.uvarint(o.PieceSize)
		w.uvarint(uint64(len(o.Pieces)))
		for _, id := range o.Pieces {
			w.id(id)
		}
	case *Blob:
		w = header(KindBlob, 16+len(o.Chunks)*(IDSize+4))
		w.uvarint(o.Size)
		w.uvarint(uint64(len(o.Chunks)))
		for _, c := range o.Chunks {
			w.id(c.ID)
			w.uvarint(c.Size)
		}
	case *Model:
		w = header(KindModel, 64+len(o.Segments)*(IDSize+40))
		w.str(o.Format)
		w.uvarint(o.Size)
		w.uvarint(uint64(len(o.Segments)))
		for _, s := range o.Segments {
			w.str(s.Name)
			w.id(s.ID)
			w.uvarint(s.Size)
		}
		writeKVs(&w, o.Meta)
	case *Tree:
		w = header(KindTree, len(o.Entries)*(IDSize+24))
		w.uvarint(uint64(len(o.Entries)))
		for _, e := range o.Entries {
			w.str(e.Name)
			w.uvarint(uint64(e.Mode))
			w.byte1(byte(e.Kind))
			w.id(e.ID)
		}
	case *Commit:
		w = header(KindCommit, 256+len(o.Message))
		w.id(o.Tree)
		w.uvarint(uint64(len(o.Parents)))
		for _, p := range o.Parents {
			w.id(p)
		}
		w.b = append(w.b, o.Author[:]...)
		w.varint(o.Time)
		w.varint(int64(o.TZ))
		w.str(o.Message)
		writeKVs(&w, o.Meta)
		w.bytes(o.Signature)
	case *Tag:
		w = header(KindTag, 256+len(o.Message))
		w.id(o.Target)
		w.byte1(byte(o.TargetKind))
		w.str(o.Name)
		w.b = append(w.b, o.Tagger[:]...)
		w.varint(o.Time)
		w.varint(int64(o.TZ))
		w.str(o.Message)
		w.bytes(o.Signature)
	case *Proof:
		w = header(KindProof, 64+len(o.Body))
		w.id(o.Commit)
		w.str(o.System)
		w.uvarint(uint64(len(o.Needs)))
		for _, id := range o.Needs {
			w.id(id)
		}
		w.bytes(o.Body)
	default:
		return nil, fmt.Errorf("objects: cannot encode %T", o)
	}
	return w.b, nil
}

// EncodeChunk returns the canonical encoding of a chunk holding data.
func EncodeChunk(data []byte) []byte {
	b := make([]byte, HeaderSize+len(data))
	PutChunkHeader(b)
	copy(b[HeaderSize:], data)
	return b
}

// PutChunkHeader writes a chunk header into b[:HeaderSize], so that a
// caller can read data straight into b[HeaderSize:] without a copy.
func PutChunkHeader(b []byte) {
	copy(b, magic[:])
	b[3] = FormatVersion
	b[4] = byte(KindChunk)
}

func writeKVs(w *writer, kvs []KV) {
	w.uvarint(uint64(len(kvs)))
	for _, kv := range kvs {
		w.str(kv.Key)
		w.str(kv.Value)
	}
}

func readKVs(r *reader, what string) []KV {
	n := r.count(what, 2)
	var kvs []KV
	for i := 0; i < n && r.err == nil; i++ {
		k := r.str(what + " key")
		v := r.str(what + " value")
		if r.err != nil {
			break
		}
		if k == "" {
			r.fail("%s: empty key", what)
		}
		if len(kvs) > 0 && kvs[len(kvs)-1].Key >= k {
			r.fail("%s: keys not sorted and unique at %q", what, k)
		}
		kvs = append(kvs, KV{k, v})
	}
	return kvs
}

// Decode parses canonical object bytes. It rejects anything that is not
// the exact canonical encoding (non-minimal varints, unsorted entries,
// trailing bytes), so that every object has one encoding and one id.
// Chunk data aliases b.
func Decode(b []byte) (Object, error) {
	k, err := PeekKind(b)
	if err != nil {
		return nil, err
	}
	r := &reader{b: b[HeaderSize:]}
	var o Object
	switch k {
	case KindChunk:
		return &Chunk{Data: b[HeaderSize:]}, nil
	case KindTensor:
		t := &Tensor{}
		t.DType = DType(r.str("dtype"))
		nd := r.count("shape", 1)
		if nd > 64 {
			r.fail("tensor has %d dimensions (at most 64)", nd)
		}
		for i := 0; i < nd && r.err == nil; i++ {
			t.Shape = append(t.Shape, r.uvarint("shape"))
		}
		t.Size = r.uvarint("size")
		t.PieceSize = r.uvarint("piece size")
		np := r.count("pieces", IDSize)
		for i := 0; i < np && r.err == nil; i++ {
			t.Pieces = append(t.Pieces, r.id("piece"))
		}
		r.end("tensor")
		if r.err == nil {
			validateTensor(r, t)
		}
		o = t
	case KindBlob:
		bl := &Blob{}
		bl.Size = r.uvarint("size")
		n := r.count("chunks", IDSize+1)
		var sum uint64
		for i := 0; i < n && r.err == nil; i++ {
			c := ChunkRef{ID: r.id("chunk"), Size: r.uvarint("chunk size")}
			if r.err == nil && c.Size == 0 {
				r.fail("blob chunk %d is empty", i)
			}
			if sum+c.Size < sum {
				r.fail("blob chunk sizes overflow")
			}
			sum += c.Size
			bl.Chunks = append(bl.Chunks, c)
		}
		r.end("blob")
		if r.err == nil && sum != bl.Size {
			r.fail("blob chunks hold %d bytes, size says %d", sum, bl.Size)
		}
		o = bl
	case KindModel:
		m := &Model{}
		m.Format = r.str("format")
		if r.err == nil && m.Format == "" {
			r.fail("model without format")
		}
		m.Size = r.uvarint("size")
		n := r.count("segments", IDSize+2)
		var sum uint64
		seen := map[string]bool{}
		for i := 0; i < n && r.err == nil; i++ {
			s := Segment{Name: r.str("segment name"), ID: r.id("segment"), Size: r.uvarint("segment size")}
			if r.err != nil {
				break
			}
			if s.Name != "" {
				if seen[s.Name] {
					r.fail("model has tensor %q twice", s.Name)
				}
				seen[s.Name] = true
			}
			if sum+s.Size < sum {
				r.fail("model segment sizes overflow")
			}
			sum += s.Size
			m.Segments = append(m.Segments, s)
		}
		m.Meta = readKVs(r, "model meta")
		r.end("model")
		if r.err == nil && sum != m.Size {
			r.fail("model segments hold %d bytes, size says %d", sum, m.Size)
		}
		o = m
	case KindTree:
		t := &Tree{}
		n := r.count("entries", IDSize+4)
		for i := 0; i < n && r.err == nil; i++ {
			e := TreeEntry{Name: r.str("entry name")}
			mode := r.uvarint("entry mode")
			e.Mode = uint32(mode)
			e.Kind = Kind(r.byte1("entry kind"))
			e.ID = r.id("entry id")
			if r.err != nil {
				break
			}
			if err := ValidName(e.Name); err != nil {
				r.fail("tree entry: %v", err)
			}
			if len(t.Entries) > 0 && t.Entries[len(t.Entries)-1].Name >= e.Name {
				r.fail("tree entries not sorted and unique at %q", e.Name)
			}
			switch {
			case mode == ModeDir && e.Kind == KindTree:
			case (mode == ModeFile || mode == ModeExec) && (e.Kind == KindBlob || e.Kind == KindModel):
			default:
				r.fail("tree entry %q: mode %o with kind %s", e.Name, mode, e.Kind)
			}
			t.Entries = append(t.Entries, e)
		}
		r.end("tree")
		o = t
	case KindCommit:
		c := &Commit{}
		c.Tree = r.id("tree")
		n := r.count("parents", IDSize)
		for i := 0; i < n && r.err == nil; i++ {
			c.Parents = append(c.Parents, r.id("parent"))
		}
		c.Author = PublicKey(r.id("author"))
		c.Time = r.varint("time")
		c.TZ = readTZ(r)
		c.Message = r.str("message")
		c.Meta = readKVs(r, "commit meta")
		c.Signature = r.bytes("signature")
		r.end("commit")
		if r.err == nil && len(c.Signature) != 0 && len(c.Signature) != 64 {
			r.fail("commit signature has %d bytes (want 64 or none)", len(c.Signature))
		}
		o = c
	case KindTag:
		t := &Tag{}
		t.Target = r.id("target")
		t.TargetKind = Kind(r.byte1("target kind"))
		t.Name = r.str("name")
		t.Tagger = PublicKey(r.id("tagger"))
		t.Time = r.varint("time")
		t.TZ = readTZ(r)
		t.Message = r.str("message")
		t.Signature = r.bytes("signature")
		r.end("tag")
		if r.err == nil && !t.TargetKind.valid() {
			r.fail("tag target kind %d", t.TargetKind)
		}
		if r.err == nil && len(t.Signature) != 0 && len(t.Signature) != 64 {
			r.fail("tag signature has %d bytes (want 64 or none)", len(t.Signature))
		}
		o = t
	case KindProof:
		p := &Proof{}
		p.Commit = r.id("commit")
		p.System = r.str("system")
		n := r.count("refs", IDSize)
		for i := 0; i < n && r.err == nil; i++ {
			p.Needs = append(p.Needs, r.id("ref"))
		}
		p.Body = r.bytes("body")
		r.end("proof")
		o = p
	}
	if r.err != nil {
		return nil, fmt.Errorf("decode %s: %w", k, r.err)
	}
	// Non-minimal varints are the one thing the field checks above cannot
	// see; re-encoding catches them.
	if k != KindChunk {
		if again, err := encode(o); err != nil || !bytes.Equal(again, b) {
			return nil, fmt.Errorf("decode %s: %w: not in canonical form", k, ErrMalformed)
		}
	}
	return o, nil
}

func readTZ(r *reader) int16 {
	tz := r.varint("time zone")
	if r.err == nil && (tz < -24*60 || tz > 24*60) {
		r.fail("time zone offset %d minutes", tz)
	}
	return int16(tz)
}

func validateTensor(r *reader, t *Tensor) {
	if _, ok := t.DType.Size(); ok || t.DType == F4 || t.DType == F6E2M3 || t.DType == F6E3M2 {
		n, err := ByteLen(t.DType, t.Shape)
		if err != nil {
			r.fail("%v", err)
			return
		}
		if n != t.Size {
			r.fail("tensor %s%v holds %d bytes, size says %d", t.DType, t.Shape, n, t.Size)
			return
		}
	} else if _, err := NumElements(t.Shape); err != nil {
		r.fail("%v", err)
		return
	}
	if t.DType == "" {
		r.fail("tensor without dtype")
	}
	if t.PieceSize == 0 {
		r.fail("tensor piece size 0")
		return
	}
	want := t.Size / t.PieceSize // rounded up below; Size+PieceSize-1 could overflow
	if t.Size%t.PieceSize != 0 {
		want++
	}
	if uint64(len(t.Pieces)) != want {
		r.fail("tensor of %d bytes in pieces of %d has %d pieces, want %d", t.Size, t.PieceSize, len(t.Pieces), want)
	}
}

// PieceLen returns the length of piece i of t.
func (t *Tensor) PieceLen(i int) uint64 {
	off := uint64(i) * t.PieceSize
	if off+t.PieceSize > t.Size {
		return t.Size - off
	}
	return t.PieceSize
}

// ValidName checks a tree entry name: non-empty, not "." or "..", no '/',
// no NUL, valid UTF-8.
func ValidName(name string) error {
	switch {
	case name == "" || name == "." || name == "..":
		return fmt.Errorf("invalid name %q", name)
	case strings.ContainsAny(name, "/\x00"):
		return fmt.Errorf("name %q contains '/' or NUL", name)
	}
	return nil
}

// Signed returns the bytes a commit's signature covers: the canonical
// encoding of the commit with an empty signature.
func (c *Commit) Signed() ([]byte, error) {
	cc := *c
	cc.Signature = nil
	return Encode(&cc)
}

// Signed returns the bytes a tag's signature covers.
func (t *Tag) Signed() ([]byte, error) {
	tt := *t
	tt.Signature = nil
	return Encode(&tt)
}

// Value returns the commit metadata value of key, if any.
func (c *Commit) Value(key string) (string, bool) { return GetKV(c.Meta, key) }
