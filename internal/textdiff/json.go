package textdiff

import (
	"bytes"
	"encoding/json"
	"strings"
)

// jnode is a JSON value: an object with its keys in order, or any other
// value as compact JSON.
type jnode struct {
	keys []string
	vals map[string]*jnode // nil for a non-object
	raw  []byte            // compact JSON of a non-object
}

func parseJSON(b []byte) (*jnode, bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil || dec.More() {
		return nil, false
	}
	n, err := parseNode(raw)
	return n, err == nil
}

func parseNode(raw []byte) (*jnode, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		var c bytes.Buffer
		if err := json.Compact(&c, raw); err != nil {
			return nil, err
		}
		return &jnode{raw: c.Bytes()}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil { // {
		return nil, err
	}
	n := &jnode{vals: map[string]*jnode{}}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		k, _ := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		c, err := parseNode(v)
		if err != nil {
			return nil, err
		}
		if _, dup := n.vals[k]; dup {
			return nil, &json.SyntaxError{}
		}
		n.keys = append(n.keys, k)
		n.vals[k] = c
	}
	return n, nil
}

func (n *jnode) equal(m *jnode) bool {
	switch {
	case n == nil || m == nil:
		return n == m
	case n.vals == nil || m.vals == nil:
		return n.vals == nil && m.vals == nil && bytes.Equal(n.raw, m.raw)
	case len(n.keys) != len(m.keys):
		return false
	}
	for _, k := range n.keys {
		if !n.vals[k].equal(m.vals[k]) {
			return false
		}
	}
	return true
}

// merge3 merges the sides' versions of a value against the base's (nil:
// absent), as a three-way merge of maps for objects; ok is false when
// a value was changed differently on several sides.
func merge3(base *jnode, sides []*jnode) (*jnode, bool) {
	var changed []*jnode
	for _, s := range sides {
		if !s.equal(base) {
			changed = append(changed, s)
		}
	}
	if len(changed) == 0 {
		return base, true
	}
	alike := true
	for _, c := range changed[1:] {
		if !c.equal(changed[0]) {
			alike = false
		}
	}
	if alike {
		return changed[0], true
	}
	// several different changes: only objects on every side merge
	for _, s := range sides {
		if s == nil || s.vals == nil {
			return nil, false
		}
	}
	if base != nil && base.vals == nil {
		return nil, false
	}
	out := &jnode{vals: map[string]*jnode{}}
	seen := map[string]bool{}
	var order []string
	for _, s := range sides {
		for _, k := range s.keys {
			if !seen[k] {
				seen[k] = true
				order = append(order, k)
			}
		}
	}
	if base != nil {
		for _, k := range base.keys {
			if !seen[k] {
				seen[k] = true
				order = append(order, k)
			}
		}
	}
	for _, k := range order {
		var bk *jnode
		if base != nil {
			bk = base.vals[k]
		}
		sk := make([]*jnode, len(sides))
		for i, s := range sides {
			sk[i] = s.vals[k]
		}
		v, ok := merge3(bk, sk)
		if !ok {
			return nil, false
		}
		if v != nil {
			out.keys = append(out.keys, k)
			out.vals[k] = v
		}
	}
	return out, true
}

// MergeJSON merges JSON documents key by key: objects as three-way merges
// of maps against base (nil when there is none), recursively; any other
// value changed differently on several sides is a conflict (ok false).
// The result keeps the first side's key order (keys other sides added
// follow, in their order) and is written in the first side's style:
// compact when it is on one line, else indented with the indentation of
// its first indented line and ": " after keys, ending with a newline when
// the first side does.
func MergeJSON(base []byte, sides [][]byte) ([]byte, bool) {
	var bn *jnode
	if base != nil {
		var ok bool
		if bn, ok = parseJSON(base); !ok {
			return nil, false
		}
	}
	sn := make([]*jnode, len(sides))
	for i, s := range sides {
		n, ok := parseJSON(s)
		if !ok {
			return nil, false
		}
		sn[i] = n
	}
	m, ok := merge3(bn, sn)
	if !ok || m == nil {
		return nil, false
	}
	first := string(sides[0])
	indent := ""
	if i := strings.IndexByte(strings.TrimSpace(first), '\n'); i >= 0 {
		rest := strings.TrimSpace(first)[i+1:]
		indent = rest[:len(rest)-len(strings.TrimLeft(rest, " \t"))]
	}
	eol := "\n"
	if strings.Contains(first, "\r\n") {
		eol = "\r\n"
	}
	var buf bytes.Buffer
	m.write(&buf, indent, eol, 0)
	if strings.HasSuffix(first, "\n") {
		buf.WriteString(eol)
	}
	return buf.Bytes(), true
}

func (n *jnode) write(buf *bytes.Buffer, indent, eol string, depth int) {
	if n.vals == nil {
		if indent == "" {
			buf.Write(n.raw)
			return
		}
		var ind bytes.Buffer
		json.Indent(&ind, n.raw, strings.Repeat(indent, depth), indent)
		buf.WriteString(strings.ReplaceAll(ind.String(), "\n", eol))
		return
	}
	if len(n.keys) == 0 {
		buf.WriteString("{}")
		return
	}
	buf.WriteByte('{')
	for i, k := range n.keys {
		if i > 0 {
			buf.WriteByte(',')
		}
		if indent != "" {
			buf.WriteString(eol + strings.Repeat(indent, depth+1))
		}
		var kb bytes.Buffer
		enc := json.NewEncoder(&kb)
		enc.SetEscapeHTML(false)
		enc.Encode(k)
		buf.Write(bytes.TrimRight(kb.Bytes(), "\n"))
		if indent != "" {
			buf.WriteString(": ")
		} else {
			buf.WriteByte(':')
		}
		n.vals[k].write(buf, indent, eol, depth+1)
	}
	if indent != "" {
		buf.WriteString(eol + strings.Repeat(indent, depth))
	}
	buf.WriteByte('}')
}
