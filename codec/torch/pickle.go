package torch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/fed-vcs/fed/objects"
)

// errUnsupported marks a pickle that is well formed but needs something
// fed does not load (a class outside the whitelist, an opcode of the
// text protocols): such a checkpoint is kept opaque, not refused.
var errUnsupported = errors.New("unsupported")

// The values of the restricted unpickler: nil (None), bool, int64, float64,
// string, []byte, *pyDict, *pyList, pyTuple, *pySet, and the torch types
// *storage, *tensorRef, plus *global for a whitelisted callable.
type (
	pyTuple []any
	pyList  struct{ items []any }
	pySet   struct{ items []any }
	pyDict  struct {
		keys, vals []any
		index      map[string]int // keyString(key) → position
	}
	global struct{ module, name string }

	// storage is one persistent storage of the archive: data/<key>.
	storage struct {
		key   string
		dtype objects.DType
		numel int64
	}
	// tensorRef is a tensor rebuilt from a storage: a view of numel(size)
	// elements at offset with the given strides, all in elements.
	tensorRef struct {
		storage      *storage
		offset       int64
		size, stride []int64
	}
)

func (d *pyDict) set(k, v any, work *int) error {
	ks, ok := keyString(k, 0)
	if !ok {
		return fmt.Errorf("unhashable dict key %T", k)
	}
	if *work += len(ks); *work > maxKeyWork {
		return fmt.Errorf("dict keys of more than %d bytes in all", maxKeyWork)
	}
	if i, ok := d.index[ks]; ok {
		d.vals[i] = v
		return nil
	}
	if d.index == nil {
		d.index = map[string]int{}
	}
	d.index[ks] = len(d.keys)
	d.keys, d.vals = append(d.keys, k), append(d.vals, v)
	return nil
}

// keyString encodes a hashable key so that equal keys (in Python's sense,
// for the types the unpickler makes) get equal strings; ok is false for
// unhashable values. Booleans are ints in Python (True == 1).
func keyString(k any, depth int) (string, bool) {
	if depth > maxDepth {
		return "", false
	}
	switch k := k.(type) {
	case nil:
		return "N", true
	case bool:
		if k {
			return "i1", true
		}
		return "i0", true
	case int64:
		return "i" + strconv.FormatInt(k, 10), true
	case float64:
		if k == math.Trunc(k) && math.Abs(k) < 1<<63 {
			return "i" + strconv.FormatInt(int64(k), 10), true
		}
		return "f" + strconv.FormatUint(math.Float64bits(k), 16), true
	case string:
		return "s" + strconv.Quote(k), true
	case []byte:
		return "b" + strconv.Quote(string(k)), true
	case pyTuple:
		var b strings.Builder
		b.WriteString("t(")
		for _, x := range k {
			xs, ok := keyString(x, depth+1)
			if !ok {
				return "", false
			}
			b.WriteString(xs)
			b.WriteByte(',')
			if b.Len() > maxKey {
				return "", false // shared sub-tuples can make keys exponentially long
			}
		}
		b.WriteByte(')')
		return b.String(), true
	}
	return "", false
}

// storageTypes maps the legacy typed storage classes torch pickles
// (torch.FloatStorage …) to fed's dtypes. Storage classes of other element
// types (quantized, complex128) are not whitelisted.
var storageTypes = map[string]objects.DType{
	"FloatStorage": objects.F32, "DoubleStorage": objects.F64, "HalfStorage": objects.F16,
	"BFloat16Storage": objects.BF16, "LongStorage": objects.I64, "IntStorage": objects.I32,
	"ShortStorage": objects.I16, "CharStorage": objects.I8, "ByteStorage": objects.U8,
	"BoolStorage": objects.Bool, "ComplexFloatStorage": objects.C64,
}

// whitelist lists the callables the unpickler resolves, by
// "module.name". Resolving a name never imports or runs anything: each
// is interpreted by call below. Every other global makes the pickle
// unsupported.
var whitelist = map[string]bool{
	"collections.OrderedDict":                    true,
	"torch._utils._rebuild_tensor":               true,
	"torch._utils._rebuild_tensor_v2":            true,
	"torch._utils._rebuild_parameter":            true,
	"torch._utils._rebuild_parameter_with_state": true,
	"torch.Size":                    true,
	"builtins.set":                  true,
	"builtins.frozenset":            true,
	"__builtin__.set":               true,
	"__builtin__.frozenset":         true,
	"_codecs.encode":                true,
	"torch._utils._rebuild_qtensor": false, // named to document that it is refused
}

// maxDepth bounds the nesting the reader follows in keys and in the object
// tree; torch state dicts nest a few levels.
const maxDepth = 100

// maxKey bounds the encoding of a dict key (tuples may nest and share).
const maxKey = 64 << 10

// maxKeyWork bounds the bytes of all key encodings of one pickle.
const maxKeyWork = 1 << 28

// maxVisits bounds the values collect visits: tuples that share
// sub-tuples make a tree exponentially larger than the pickle.
const maxVisits = 1 << 20

// maxMemo bounds the memo table so that hostile BINPUT indices cannot
// blow up memory (entries are kept in a map; this caps its size).
const maxMemo = 1 << 24

// unpickler runs the subset of the pickle machine (protocols 2 to 5,
// binary opcodes) that torch.save emits. It never executes or imports
// anything: globals resolve to whitelisted markers only.
type unpickler struct {
	data    []byte
	pos     int
	stack   []any
	marks   []int
	memo    map[uint32]any
	storage map[string]*storage
	keyWork int // bytes of dict key encodings so far
}

func unpickle(data []byte) (any, map[string]*storage, error) {
	u := &unpickler{data: data, memo: map[uint32]any{}, storage: map[string]*storage{}}
	v, err := u.run()
	if err != nil {
		return nil, nil, fmt.Errorf("pickle offset %d: %w", u.pos, err)
	}
	return v, u.storage, nil
}

func (u *unpickler) take(n int) ([]byte, error) {
	if n < 0 || n > len(u.data)-u.pos {
		return nil, fmt.Errorf("truncated: need %d bytes", n)
	}
	b := u.data[u.pos : u.pos+n]
	u.pos += n
	return b, nil
}

func (u *unpickler) uint(n int) (uint64, error) {
	b, err := u.take(n)
	if err != nil {
		return 0, err
	}
	var v uint64
	for i := n - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v, nil
}

func (u *unpickler) push(v any) { u.stack = append(u.stack, v) }

func (u *unpickler) pop() (any, error) {
	if len(u.stack) == 0 || (len(u.marks) > 0 && len(u.stack) == u.marks[len(u.marks)-1]) {
		return nil, fmt.Errorf("stack underflow")
	}
	v := u.stack[len(u.stack)-1]
	u.stack = u.stack[:len(u.stack)-1]
	return v, nil
}

func (u *unpickler) top() (any, error) {
	if len(u.stack) == 0 || (len(u.marks) > 0 && len(u.stack) == u.marks[len(u.marks)-1]) {
		return nil, fmt.Errorf("stack underflow")
	}
	return u.stack[len(u.stack)-1], nil
}

// popMark pops everything above the last mark, and the mark.
func (u *unpickler) popMark() ([]any, error) {
	if len(u.marks) == 0 {
		return nil, fmt.Errorf("no mark on the stack")
	}
	m := u.marks[len(u.marks)-1]
	u.marks = u.marks[:len(u.marks)-1]
	items := append([]any(nil), u.stack[m:]...)
	u.stack = u.stack[:m]
	return items, nil
}

func (u *unpickler) memoPut(i uint32) error {
	v, err := u.top()
	if err != nil {
		return err
	}
	if _, ok := u.memo[i]; !ok && len(u.memo) >= maxMemo {
		return fmt.Errorf("memo exceeds %d entries", maxMemo)
	}
	u.memo[i] = v
	return nil
}

func (u *unpickler) memoGet(i uint32) error {
	v, ok := u.memo[i]
	if !ok {
		return fmt.Errorf("memo entry %d missing", i)
	}
	u.push(v)
	return nil
}

func (u *unpickler) run() (any, error) {
	for {
		if u.pos >= len(u.data) {
			return nil, fmt.Errorf("truncated: no STOP opcode")
		}
		op := u.data[u.pos]
		u.pos++
		if err := u.step(op); err != nil {
			if errors.Is(err, errStop) {
				if len(u.stack) != 1 || len(u.marks) != 0 {
					return nil, fmt.Errorf("STOP with %d values and %d marks on the stack", len(u.stack), len(u.marks))
				}
				return u.stack[0], nil
			}
			return nil, err
		}
	}
}

var errStop = errors.New("stop")

func (u *unpickler) step(op byte) error {
	switch op {
	case 0x80: // PROTO
		v, err := u.uint(1)
		if err != nil {
			return err
		}
		if v < 2 || v > 5 {
			return fmt.Errorf("%w: pickle protocol %d", errUnsupported, v)
		}
	case 0x95: // FRAME: framing is transparent to a reader of the whole stream
		_, err := u.uint(8)
		return err
	case '.': // STOP
		return errStop
	case '(': // MARK
		u.marks = append(u.marks, len(u.stack))
	case '0': // POP
		_, err := u.pop()
		return err
	case '1': // POP_MARK
		_, err := u.popMark()
		return err
	case '2': // DUP
		v, err := u.top()
		if err != nil {
			return err
		}
		u.push(v)
	case 'N':
		u.push(nil)
	case 0x88:
		u.push(true)
	case 0x89:
		u.push(false)
	case 'J': // BININT
		v, err := u.uint(4)
		if err != nil {
			return err
		}
		u.push(int64(int32(uint32(v))))
	case 'K': // BININT1
		v, err := u.uint(1)
		if err != nil {
			return err
		}
		u.push(int64(v))
	case 'M': // BININT2
		v, err := u.uint(2)
		if err != nil {
			return err
		}
		u.push(int64(v))
	case 0x8a, 0x8b: // LONG1, LONG4
		w := 1
		if op == 0x8b {
			w = 4
		}
		n, err := u.uint(w)
		if err != nil {
			return err
		}
		if n > 8 {
			if _, err := u.take(int(min(n, math.MaxInt32))); err != nil {
				return err
			}
			return fmt.Errorf("%w: integer of %d bytes", errUnsupported, n)
		}
		b, err := u.take(int(n))
		if err != nil {
			return err
		}
		var v int64
		if n > 0 {
			var buf [8]byte
			if b[n-1]&0x80 != 0 {
				buf = [8]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
			}
			copy(buf[:], b)
			v = int64(binary.LittleEndian.Uint64(buf[:]))
		}
		u.push(v)
	case 'G': // BINFLOAT, big-endian
		b, err := u.take(8)
		if err != nil {
			return err
		}
		u.push(math.Float64frombits(binary.BigEndian.Uint64(b)))
	case 'X', 0x8c, 0x8d, 'T', 'U', 'B', 'C', 0x8e, 0x96: // strings and bytes
		return u.bytesOp(op)
	case '}':
		u.push(&pyDict{})
	case ']':
		u.push(&pyList{})
	case ')':
		u.push(pyTuple{})
	case 0x8f: // EMPTY_SET
		u.push(&pySet{})
	case 0x90: // ADDITEMS
		items, err := u.popMark()
		if err != nil {
			return err
		}
		t, err := u.top()
		if err != nil {
			return err
		}
		s, ok := t.(*pySet)
		if !ok {
			return fmt.Errorf("ADDITEMS on %T", t)
		}
		s.items = append(s.items, items...)
	case 0x91: // FROZENSET
		items, err := u.popMark()
		if err != nil {
			return err
		}
		u.push(&pySet{items: items})
	case 't':
		items, err := u.popMark()
		if err != nil {
			return err
		}
		u.push(pyTuple(items))
	case 0x85, 0x86, 0x87: // TUPLE1..3
		n := int(op - 0x84)
		t := make(pyTuple, n)
		for i := n - 1; i >= 0; i-- {
			v, err := u.pop()
			if err != nil {
				return err
			}
			t[i] = v
		}
		u.push(t)
	case 'l': // LIST
		items, err := u.popMark()
		if err != nil {
			return err
		}
		u.push(&pyList{items: items})
	case 'd': // DICT
		items, err := u.popMark()
		if err != nil {
			return err
		}
		d := &pyDict{}
		if err := u.setItems(d, items); err != nil {
			return err
		}
		u.push(d)
	case 'a', 'e': // APPEND, APPENDS
		var items []any
		if op == 'a' {
			v, err := u.pop()
			if err != nil {
				return err
			}
			items = []any{v}
		} else {
			var err error
			if items, err = u.popMark(); err != nil {
				return err
			}
		}
		t, err := u.top()
		if err != nil {
			return err
		}
		l, ok := t.(*pyList)
		if !ok {
			return fmt.Errorf("%w: append to %T", errUnsupported, t)
		}
		l.items = append(l.items, items...)
	case 's', 'u': // SETITEM, SETITEMS
		var items []any
		if op == 's' {
			v, err := u.pop()
			if err != nil {
				return err
			}
			k, err := u.pop()
			if err != nil {
				return err
			}
			items = []any{k, v}
		} else {
			var err error
			if items, err = u.popMark(); err != nil {
				return err
			}
		}
		t, err := u.top()
		if err != nil {
			return err
		}
		d, ok := t.(*pyDict)
		if !ok {
			return fmt.Errorf("%w: set item of %T", errUnsupported, t)
		}
		return u.setItems(d, items)
	case 'q', 'r': // BINPUT, LONG_BINPUT
		w := 1
		if op == 'r' {
			w = 4
		}
		i, err := u.uint(w)
		if err != nil {
			return err
		}
		return u.memoPut(uint32(i))
	case 0x94: // MEMOIZE
		return u.memoPut(uint32(len(u.memo)))
	case 'h', 'j': // BINGET, LONG_BINGET
		w := 1
		if op == 'j' {
			w = 4
		}
		i, err := u.uint(w)
		if err != nil {
			return err
		}
		return u.memoGet(uint32(i))
	case 'c': // GLOBAL "module\nname\n"
		mod, err := u.line()
		if err != nil {
			return err
		}
		name, err := u.line()
		if err != nil {
			return err
		}
		return u.global(mod, name)
	case 0x93: // STACK_GLOBAL
		name, err := u.pop()
		if err != nil {
			return err
		}
		mod, err := u.pop()
		if err != nil {
			return err
		}
		ms, ok1 := mod.(string)
		ns, ok2 := name.(string)
		if !ok1 || !ok2 {
			return fmt.Errorf("STACK_GLOBAL of %T and %T", mod, name)
		}
		return u.global(ms, ns)
	case 'R', 0x81: // REDUCE, NEWOBJ
		args, err := u.pop()
		if err != nil {
			return err
		}
		f, err := u.pop()
		if err != nil {
			return err
		}
		t, ok := args.(pyTuple)
		if !ok {
			return fmt.Errorf("call arguments are %T, not a tuple", args)
		}
		g, ok := f.(*global)
		if !ok {
			return fmt.Errorf("%w: call of %T", errUnsupported, f)
		}
		v, err := u.call(g, t)
		if err != nil {
			return err
		}
		u.push(v)
	case 'b': // BUILD
		state, err := u.pop()
		if err != nil {
			return err
		}
		t, err := u.top()
		if err != nil {
			return err
		}
		// An OrderedDict's state (torch puts the state dict's _metadata
		// there) is not tensor data: the bytes are kept anyway.
		if _, ok := t.(*pyDict); ok {
			switch state.(type) {
			case nil, *pyDict, pyTuple:
				return nil
			}
		}
		return fmt.Errorf("%w: BUILD of %T", errUnsupported, t)
	case 'Q': // BINPERSID
		pid, err := u.pop()
		if err != nil {
			return err
		}
		s, err := u.persistent(pid)
		if err != nil {
			return err
		}
		u.push(s)
	default:
		return fmt.Errorf("%w: opcode 0x%02x", errUnsupported, op)
	}
	return nil
}

func (u *unpickler) setItems(d *pyDict, items []any) error {
	if len(items)%2 != 0 {
		return fmt.Errorf("odd number of dict items")
	}
	for i := 0; i < len(items); i += 2 {
		if err := d.set(items[i], items[i+1], &u.keyWork); err != nil {
			return fmt.Errorf("%w: %w", errUnsupported, err)
		}
	}
	return nil
}

func (u *unpickler) bytesOp(op byte) error {
	var w int
	switch op {
	case 'X', 'T', 'B':
		w = 4
	case 0x8c, 'U', 'C':
		w = 1
	default:
		w = 8
	}
	n, err := u.uint(w)
	if err != nil {
		return err
	}
	if n > uint64(len(u.data)-u.pos) {
		return fmt.Errorf("truncated: string of %d bytes", n)
	}
	b, _ := u.take(int(n))
	switch op {
	case 'X', 0x8c, 0x8d, 'T', 'U':
		u.push(string(b))
	default:
		u.push(append([]byte(nil), b...))
	}
	return nil
}

// line reads a newline-terminated line of a GLOBAL opcode.
func (u *unpickler) line() (string, error) {
	i := strings.IndexByte(string(u.data[u.pos:min(len(u.data), u.pos+256)]), '\n')
	if i < 0 {
		return "", fmt.Errorf("GLOBAL name without newline within 256 bytes")
	}
	s := string(u.data[u.pos : u.pos+i])
	u.pos += i + 1
	return s, nil
}

// global resolves module.name against the whitelist.
func (u *unpickler) global(mod, name string) error {
	full := mod + "." + name
	if mod == "torch" {
		if _, ok := storageTypes[name]; ok {
			u.push(&global{module: mod, name: name})
			return nil
		}
	}
	if !whitelist[full] {
		return fmt.Errorf("%w: pickle needs %s, which is not on fed's whitelist", errUnsupported, full)
	}
	u.push(&global{module: mod, name: name})
	return nil
}

// persistent interprets a torch persistent id:
// ('storage', storage_type, key, location, numel).
func (u *unpickler) persistent(pid any) (*storage, error) {
	t, ok := pid.(pyTuple)
	if !ok || len(t) != 5 || t[0] != "storage" {
		return nil, fmt.Errorf("%w: persistent id %v", errUnsupported, describe(pid))
	}
	g, ok := t[1].(*global)
	if !ok || g.module != "torch" {
		return nil, fmt.Errorf("%w: storage type %v", errUnsupported, describe(t[1]))
	}
	dt, ok := storageTypes[g.name]
	if !ok {
		return nil, fmt.Errorf("%w: storage type torch.%s", errUnsupported, g.name)
	}
	key, ok1 := t[2].(string)
	_, ok2 := t[3].(string)
	numel, ok3 := t[4].(int64)
	if !ok1 || !ok2 || !ok3 || numel < 0 || key == "" {
		return nil, fmt.Errorf("bad storage persistent id %v", describe(pid))
	}
	if s, ok := u.storage[key]; ok {
		if s.dtype != dt || s.numel != numel {
			return nil, fmt.Errorf("storage %q is referenced as %s×%d and as %s×%d", key, s.dtype, s.numel, dt, numel)
		}
		return s, nil
	}
	s := &storage{key: key, dtype: dt, numel: numel}
	u.storage[key] = s
	return s, nil
}

// call applies a whitelisted callable.
func (u *unpickler) call(g *global, args pyTuple) (any, error) {
	switch g.module + "." + g.name {
	case "collections.OrderedDict":
		if len(args) != 0 {
			return nil, fmt.Errorf("%w: OrderedDict with arguments", errUnsupported)
		}
		return &pyDict{}, nil
	case "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor":
		if len(args) < 4 {
			return nil, fmt.Errorf("%s with %d arguments", g.name, len(args))
		}
		return rebuildTensor(args)
	case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state":
		if len(args) < 1 {
			return nil, fmt.Errorf("%s without arguments", g.name)
		}
		if _, ok := args[0].(*tensorRef); !ok {
			return nil, fmt.Errorf("%s of %T", g.name, args[0])
		}
		return args[0], nil
	case "torch.Size":
		if len(args) != 1 {
			return nil, fmt.Errorf("torch.Size with %d arguments", len(args))
		}
		return sequence(args[0])
	case "builtins.set", "builtins.frozenset", "__builtin__.set", "__builtin__.frozenset":
		if len(args) == 0 {
			return &pySet{}, nil
		}
		items, err := sequence(args[0])
		if err != nil {
			return nil, err
		}
		return &pySet{items: items}, nil
	case "_codecs.encode":
		// Protocol 2 pickles bytes as _codecs.encode(text, "latin1").
		if len(args) != 2 {
			return nil, fmt.Errorf("_codecs.encode with %d arguments", len(args))
		}
		s, ok1 := args[0].(string)
		enc, ok2 := args[1].(string)
		if !ok1 || !ok2 || enc != "latin1" {
			return nil, fmt.Errorf("%w: _codecs.encode(%v)", errUnsupported, describe(args))
		}
		b := make([]byte, 0, len(s))
		for _, r := range s {
			if r > 0xff {
				return nil, fmt.Errorf("_codecs.encode: %U is not latin1", r)
			}
			b = append(b, byte(r))
		}
		return b, nil
	}
	return nil, fmt.Errorf("%w: call of %s.%s", errUnsupported, g.module, g.name)
}

func sequence(v any) ([]any, error) {
	switch v := v.(type) {
	case pyTuple:
		return v, nil
	case *pyList:
		return v.items, nil
	}
	return nil, fmt.Errorf("%w: sequence of %T", errUnsupported, v)
}

// rebuildTensor interprets (storage, storage_offset, size, stride, …).
func rebuildTensor(args pyTuple) (*tensorRef, error) {
	s, ok := args[0].(*storage)
	if !ok {
		return nil, fmt.Errorf("%w: tensor over %T", errUnsupported, args[0])
	}
	off, ok := args[1].(int64)
	if !ok || off < 0 {
		return nil, fmt.Errorf("bad storage offset %v", describe(args[1]))
	}
	size, err := ints(args[2])
	if err != nil {
		return nil, fmt.Errorf("tensor size: %w", err)
	}
	stride, err := ints(args[3])
	if err != nil {
		return nil, fmt.Errorf("tensor stride: %w", err)
	}
	if len(size) != len(stride) {
		return nil, fmt.Errorf("tensor size %v and stride %v differ in rank", size, stride)
	}
	return &tensorRef{storage: s, offset: off, size: size, stride: stride}, nil
}

func ints(v any) ([]int64, error) {
	items, err := sequence(v)
	if err != nil {
		return nil, err
	}
	out := make([]int64, len(items))
	for i, x := range items {
		n, ok := x.(int64)
		if !ok || n < 0 {
			return nil, fmt.Errorf("%v is not a tuple of non-negative integers", describe(v))
		}
		out[i] = n
	}
	return out, nil
}

// describe renders a value briefly for error messages.
func describe(v any) string { return describeDepth(v, 0) }

func describeDepth(v any, depth int) string {
	if depth > 3 {
		return "…"
	}
	switch v := v.(type) {
	case nil:
		return "None"
	case string:
		return strconv.Quote(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case *global:
		return v.module + "." + v.name
	case pyTuple:
		parts := make([]string, 0, len(v))
		for i, x := range v {
			if i == 8 {
				parts = append(parts, "…")
				break
			}
			parts = append(parts, describeDepth(x, depth+1))
		}
		return "(" + strings.Join(parts, ", ") + ")"
	}
	return fmt.Sprintf("%T", v)
}
