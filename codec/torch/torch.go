package torch

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/fed-vcs/fed/codec"
	"github.com/fed-vcs/fed/codec/internal/zipfmt"
	"github.com/fed-vcs/fed/objects"
)

// ErrInvalid is wrapped by every *FormatError: the file is a damaged
// PyTorch zip checkpoint.
var ErrInvalid = errors.New("torch: invalid checkpoint")

// MaxPickleLen is the largest data.pkl read; bigger pickles (which hold
// no tensor data, only structure) make the checkpoint opaque.
const MaxPickleLen = 256 << 20

// RootName names a tensor pickled on its own (torch.save(tensor)).
const RootName = "(root)"

// StoragePrefix starts the names of storage segments, the tensors of a
// checkpoint that are not 1:1 with a storage (see package doc).
const StoragePrefix = "data/"

// FormatError reports why a file is not a valid PyTorch zip checkpoint.
type FormatError struct {
	File string // file name as given to Parse
	Msg  string
}

func (e *FormatError) Error() string { return "torch: " + e.File + ": " + e.Msg }

// Unwrap returns ErrInvalid.
func (e *FormatError) Unwrap() error { return ErrInvalid }

// Tensor is a tensor of the pickled object, a view of a storage.
type Tensor struct {
	Name    string // path in the pickled object, keys joined with "."
	DType   objects.DType
	Shape   []uint64
	Storage string // storage key: the data is in <prefix>/data/<key>
	Offset  int64  // in elements
	Stride  []int64
}

// Checkpoint is what Parse learned about a checkpoint beyond its layout.
type Checkpoint struct {
	Prefix string // the archive's top directory, e.g. "archive"
	// Tensors in the order the pickle reaches them.
	Tensors []Tensor
	// ByStorage lists, for each storage segment of the layout that is
	// named after its storage (StoragePrefix+key), the tensors viewing it.
	ByStorage map[string][]string
}

// legacyMagic is the start of a legacy (non-zip) torch.save file after
// its PROTO opcode: LONG1 with the magic number 0x1950a86a20f9469cfc6c.
var legacyMagic = []byte{0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19}

func isLegacy(head []byte) bool {
	return len(head) >= 2+len(legacyMagic) && head[0] == 0x80 && bytes.Equal(head[2:2+len(legacyMagic)], legacyMagic)
}

// isTorchHead recognises a zip whose first entry is <dir>/data.pkl or
// <dir>/data/<key> (torch.save and TorchScript), or a legacy pickle.
func isTorchHead(head []byte) bool {
	if isLegacy(head) {
		return true
	}
	name, ok := zipfmt.IsLocalHeader(head)
	if !ok {
		return false
	}
	dir, rest, found := strings.Cut(name, "/")
	return found && dir != "" && (rest == "data.pkl" || strings.HasPrefix(rest, "data/") && len(rest) > 5)
}

// Parser is the codec.Parser of PyTorch checkpoints.
type Parser struct{}

var _ codec.Parser = Parser{}

func init() {
	codec.Register(codec.FormatTorch, Parser{})
	codec.RegisterDetector(codec.FormatTorch, codec.Detector{Content: isTorchHead, Suffixes: []string{".pt", ".pth"}})
	codec.RegisterFixer(codec.FormatTorch, zipfmt.Fixer)
	// the archive root is named after the saved file; a serialization id
	// (torch >= 2.1) is drawn at random by every save
	codec.RegisterDescriber(codec.FormatTorch, zipfmt.Describer{StripPrefix: true,
		Skip: func(name string) bool { return name == ".data/serialization_id" }})
}

// Parse implements codec.Parser.
func (Parser) Parse(r io.ReaderAt, size int64, name string) (*codec.Layout, error) {
	l, _, err := Parse(r, size, name)
	return l, err
}

func opaque(name, format string, args ...any) error {
	return &codec.OpaqueError{File: name, Format: codec.FormatTorch, Reason: fmt.Sprintf(format, args...)}
}

// Parse reads the structure and the pickle of the checkpoint r of size
// bytes and returns its layout (see the package doc). Damaged archives
// give a *FormatError; checkpoints fed keeps opaque (legacy format,
// TorchScript, compressed entries, classes outside the whitelist) a
// *codec.OpaqueError; read errors are wrapped.
func Parse(r io.ReaderAt, size int64, name string) (*codec.Layout, *Checkpoint, error) {
	head := make([]byte, min(size, 16))
	if _, err := r.ReadAt(head, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, nil, fmt.Errorf("torch: read %s: %w", name, err)
	}
	if _, ok := zipfmt.IsLocalHeader(head); !ok {
		if isLegacy(head) {
			return nil, nil, opaque(name, "legacy torch.save format (not zip); save with torch>=1.6 defaults for tensor-level diff and merge")
		}
		return nil, nil, opaque(name, "not a zip checkpoint")
	}
	a, err := zipfmt.Read(r, size)
	if err != nil {
		if errors.Is(err, zipfmt.ErrInvalid) {
			return nil, nil, &FormatError{File: name, Msg: err.Error()}
		}
		return nil, nil, fmt.Errorf("torch: read %s: %w", name, err)
	}
	if len(a.Entries) == 0 {
		return nil, nil, opaque(name, "empty zip archive")
	}
	prefix, _, found := strings.Cut(a.Entries[0].Name, "/")
	if !found {
		return nil, nil, opaque(name, "zip archive without a top directory; not a torch.save checkpoint")
	}
	ck := &Checkpoint{Prefix: prefix, ByStorage: map[string][]string{}}
	for i := range a.Entries {
		e := &a.Entries[i]
		rest, ok := strings.CutPrefix(e.Name, prefix+"/")
		if ok && (rest == "constants.pkl" || strings.HasPrefix(rest, "code/")) {
			return nil, nil, opaque(name, "TorchScript archive (torch.jit.save)")
		}
		if !e.Stored() {
			return nil, nil, opaque(name, "entry %q is compressed or encrypted", e.Name)
		}
	}
	pkl := a.Lookup(prefix + "/data.pkl")
	if pkl == nil {
		return nil, nil, opaque(name, "zip archive without %s/data.pkl", prefix)
	}
	if bo := a.Lookup(prefix + "/byteorder"); bo != nil {
		b := make([]byte, min(bo.CompressedSize, 16))
		if err := readFull(r, b, bo.DataOffset); err != nil {
			return nil, nil, readErr(name, err)
		}
		if string(b) != "little" {
			return nil, nil, opaque(name, "byte order %q is not little-endian", b)
		}
	}
	if pkl.CompressedSize > MaxPickleLen {
		return nil, nil, opaque(name, "data.pkl of %d bytes exceeds the limit of %d", pkl.CompressedSize, MaxPickleLen)
	}
	data := make([]byte, pkl.CompressedSize)
	if err := readFull(r, data, pkl.DataOffset); err != nil {
		return nil, nil, readErr(name, err)
	}
	root, storages, err := unpickle(data)
	if err != nil {
		if errors.Is(err, errUnsupported) {
			return nil, nil, opaque(name, "data.pkl: %v", err)
		}
		return nil, nil, &FormatError{File: name, Msg: "data.pkl: " + err.Error()}
	}
	refs, err := collect(root)
	if err != nil {
		return nil, nil, opaque(name, "data.pkl: %v", err)
	}
	l, err := layout(a, ck, refs, storages, size)
	if err != nil {
		return nil, nil, &FormatError{File: name, Msg: err.Error()}
	}
	return l, ck, nil
}

func readErr(name string, err error) error {
	if errors.Is(err, zipfmt.ErrInvalid) {
		return &FormatError{File: name, Msg: err.Error()}
	}
	return fmt.Errorf("torch: read %s: %w", name, err)
}

// readFull fills buf from r at off.
func readFull(r io.ReaderAt, buf []byte, off int64) error {
	n, err := r.ReadAt(buf, off)
	if n == len(buf) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: truncated at offset %d", zipfmt.ErrInvalid, off)
	}
	return err
}

// namedRef is a tensor reached in the pickled object under a name.
type namedRef struct {
	name string
	ref  *tensorRef
}

// collect walks the unpickled object and returns its tensors with their
// names: dict keys and list indices joined with ".". Containers reached
// twice are walked once (the pickle may share them, even cyclically).
func collect(root any) ([]namedRef, error) {
	var refs []namedRef
	seen := map[any]bool{}
	visits := 0
	var walk func(v any, path string, depth int) error
	walk = func(v any, path string, depth int) error {
		if depth > maxDepth {
			return fmt.Errorf("%w: objects nested deeper than %d", errUnsupported, maxDepth)
		}
		if visits++; visits > maxVisits {
			return fmt.Errorf("%w: object graph of more than %d values", errUnsupported, maxVisits)
		}
		join := func(k string) string {
			if path == "" {
				return k
			}
			return path + "." + k
		}
		switch v := v.(type) {
		case *tensorRef:
			n := path
			if n == "" {
				n = RootName
			}
			refs = append(refs, namedRef{n, v})
		case *pyDict:
			if seen[v] {
				return nil
			}
			seen[v] = true
			for i, k := range v.keys {
				if err := walk(v.vals[i], join(keyName(k)), depth+1); err != nil {
					return err
				}
			}
		case *pyList:
			if seen[v] {
				return nil
			}
			seen[v] = true
			for i, x := range v.items {
				if err := walk(x, join(strconv.Itoa(i)), depth+1); err != nil {
					return err
				}
			}
		case pyTuple:
			if len(v) == 0 || seen[&v[0]] {
				return nil
			}
			seen[&v[0]] = true // tuples are shared by reference, like lists
			for i, x := range v {
				if err := walk(x, join(strconv.Itoa(i)), depth+1); err != nil {
					return err
				}
			}
		case *pySet:
			if seen[v] {
				return nil
			}
			seen[v] = true
			for _, x := range v.items {
				// Set members have no stable name: "" forces their
				// storage to be named after the storage.
				if t, ok := x.(*tensorRef); ok {
					refs = append(refs, namedRef{"", t})
				}
			}
		}
		return nil
	}
	err := walk(root, "", 0)
	return refs, err
}

// keyName renders a dict key as a name component.
func keyName(k any) string {
	switch k := k.(type) {
	case string:
		return k
	case int64:
		return strconv.FormatInt(k, 10)
	case bool:
		if k {
			return "True"
		}
		return "False"
	case nil:
		return "None"
	}
	return describe(k)
}

// contiguous reports whether a tensor of this size and stride is laid out
// row-major without gaps (dimensions of size 1 may have any stride).
func contiguous(size, stride []int64) bool {
	want := int64(1)
	for i := len(size) - 1; i >= 0; i-- {
		if size[i] != 1 && stride[i] != want {
			return false
		}
		want *= size[i]
	}
	return true
}

// numel multiplies out a size, refusing overflow beyond 2^62.
func numel(size []int64) (int64, bool) {
	n := int64(1)
	for _, d := range size {
		if d != 0 && n > (1<<62)/d {
			return 0, false
		}
		n *= d
	}
	return n, true
}

// layout builds the segments: one tensor segment per referenced storage,
// named after its tensor when the mapping is 1:1, else after the storage.
func layout(a *zipfmt.Archive, ck *Checkpoint, refs []namedRef, storages map[string]*storage, size int64) (*codec.Layout, error) {
	byStorage := map[string][]namedRef{}
	for _, r := range refs {
		t := r.ref
		n, ok := numel(t.size)
		if !ok {
			return nil, fmt.Errorf("tensor %q: size %v overflows", r.name, t.size)
		}
		if n > 0 {
			// The furthest element must lie inside the storage.
			last := t.offset
			for i, d := range t.size {
				last += (d - 1) * t.stride[i]
				if last < 0 || last > 1<<62 {
					return nil, fmt.Errorf("tensor %q: view overflows", r.name)
				}
			}
			if last >= t.storage.numel {
				return nil, fmt.Errorf("tensor %q: view (offset %d, size %v, stride %v) runs past storage %q of %d elements",
					r.name, t.offset, t.size, t.stride, t.storage.key, t.storage.numel)
			}
		}
		shape := make([]uint64, len(t.size))
		for i, d := range t.size {
			shape[i] = uint64(d)
		}
		ck.Tensors = append(ck.Tensors, Tensor{Name: r.name, DType: t.storage.dtype, Shape: shape,
			Storage: t.storage.key, Offset: t.offset, Stride: slices.Clone(t.stride)})
		byStorage[t.storage.key] = append(byStorage[t.storage.key], r)
	}

	type seg struct {
		key   string
		entry *zipfmt.Entry
		info  codec.TensorInfo
	}
	var segs []seg
	for key, s := range storages {
		e := a.Lookup(ck.Prefix + "/data/" + key)
		if e == nil {
			return nil, fmt.Errorf("storage %q has no entry %s/data/%s", key, ck.Prefix, key)
		}
		esize, _ := s.dtype.Size()
		if s.numel > (1<<62)/int64(esize) || e.CompressedSize != s.numel*int64(esize) {
			return nil, fmt.Errorf("storage %q: entry has %d bytes, %d elements of %s need %d",
				key, e.CompressedSize, s.numel, s.dtype, s.numel*int64(esize))
		}
		info := codec.TensorInfo{Name: StoragePrefix + key, DType: s.dtype, Shape: []uint64{uint64(s.numel)}}
		if rs := byStorage[key]; len(rs) == 1 && rs[0].name != "" && !strings.HasPrefix(rs[0].name, StoragePrefix) {
			t := rs[0].ref
			if n, _ := numel(t.size); t.offset == 0 && n == s.numel && contiguous(t.size, t.stride) {
				info.Name, info.Shape = rs[0].name, make([]uint64, len(t.size))
				for i, d := range t.size {
					info.Shape[i] = uint64(d)
				}
			}
		}
		segs = append(segs, seg{key, e, info})
	}
	// Two path names may collide (keys "a.b" and a→b): those tensors fall
	// back to the names of their storages, which are unique and cannot
	// collide with path names (these never start with StoragePrefix here).
	count := map[string]int{}
	for _, s := range segs {
		count[s.info.Name]++
	}
	for i := range segs {
		s := &segs[i]
		if count[s.info.Name] > 1 {
			s.info = codec.TensorInfo{Name: StoragePrefix + s.key, DType: s.info.DType, Shape: []uint64{uint64(storages[s.key].numel)}}
		}
		if s.info.Name == StoragePrefix+s.key {
			names := []string{}
			for _, r := range byStorage[s.key] {
				names = append(names, r.name)
			}
			ck.ByStorage[s.info.Name] = names
		}
	}
	slices.SortFunc(segs, func(x, y seg) int { return cmp.Compare(x.entry.DataOffset, y.entry.DataOffset) })
	l := &codec.Layout{Format: codec.FormatTorch, Size: size}
	var pos int64
	for _, s := range segs {
		if s.entry.DataOffset > pos {
			l.Segments = append(l.Segments, codec.Segment{Offset: pos, Length: s.entry.DataOffset - pos})
		}
		info := s.info
		l.Segments = append(l.Segments, codec.Segment{Offset: s.entry.DataOffset, Length: s.entry.CompressedSize, Tensor: &info})
		pos = s.entry.DataEnd()
	}
	if pos < size {
		l.Segments = append(l.Segments, codec.Segment{Offset: pos, Length: size - pos})
	}
	if err := l.Validate(); err != nil {
		return nil, err
	}
	return l, nil
}
