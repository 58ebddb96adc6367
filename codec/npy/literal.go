package npy

import (
	"fmt"
	"strconv"
	"strings"
)

// maxLiteralDepth bounds the nesting of the header literal (structured
// dtypes nest lists of tuples).
const maxLiteralDepth = 32

// pyTuple and pyList are the sequences of a header literal; the other
// values are string, bool and int64, and map[string]any for dicts.
type (
	pyTuple []any
	pyList  []any
)

// literal parses the restricted Python literal of an .npy header: dicts
// with string keys, tuples, lists, strings, True, False, None and decimal
// integers. Nothing else (no expressions, no floats) is accepted.
type literal struct {
	s   string
	pos int
}

func parseLiteral(s string) (any, error) {
	p := &literal{s: s}
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.pos != len(p.s) {
		return nil, fmt.Errorf("unexpected %q after the header dict", p.rest())
	}
	return v, nil
}

func (p *literal) rest() string {
	r := p.s[p.pos:]
	if len(r) > 16 {
		r = r[:16] + "…"
	}
	return r
}

func (p *literal) space() {
	for p.pos < len(p.s) && strings.IndexByte(" \t\r\n", p.s[p.pos]) >= 0 {
		p.pos++
	}
}

func (p *literal) value(depth int) (any, error) {
	if depth > maxLiteralDepth {
		return nil, fmt.Errorf("header literal nested deeper than %d", maxLiteralDepth)
	}
	p.space()
	if p.pos == len(p.s) {
		return nil, fmt.Errorf("header ends inside a value")
	}
	switch c := p.s[p.pos]; {
	case c == '{':
		return p.dict(depth)
	case c == '(':
		v, err := p.seq(depth, ')')
		return pyTuple(v), err
	case c == '[':
		v, err := p.seq(depth, ']')
		return pyList(v), err
	case c == '\'' || c == '"':
		return p.str()
	case c == '-' || c >= '0' && c <= '9':
		return p.int()
	}
	for _, kw := range []struct {
		word string
		v    any
	}{{"True", true}, {"False", false}, {"None", nil}} {
		if strings.HasPrefix(p.s[p.pos:], kw.word) {
			p.pos += len(kw.word)
			return kw.v, nil
		}
	}
	return nil, fmt.Errorf("unexpected %q in header", p.rest())
}

func (p *literal) dict(depth int) (any, error) {
	p.pos++ // '{'
	d := map[string]any{}
	for {
		p.space()
		if p.pos < len(p.s) && p.s[p.pos] == '}' {
			p.pos++
			return d, nil
		}
		k, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		key, ok := k.(string)
		if !ok {
			return nil, fmt.Errorf("header dict key %v is not a string", k)
		}
		if _, dup := d[key]; dup {
			return nil, fmt.Errorf("duplicate header key %q", key)
		}
		p.space()
		if p.pos == len(p.s) || p.s[p.pos] != ':' {
			return nil, fmt.Errorf("expected ':' after header key %q", key)
		}
		p.pos++
		if d[key], err = p.value(depth + 1); err != nil {
			return nil, err
		}
		p.space()
		if p.pos < len(p.s) && p.s[p.pos] == ',' {
			p.pos++
		} else if p.pos == len(p.s) || p.s[p.pos] != '}' {
			return nil, fmt.Errorf("expected ',' or '}' in header dict, found %q", p.rest())
		}
	}
}

func (p *literal) seq(depth int, end byte) ([]any, error) {
	p.pos++ // '(' or '['
	v := []any{}
	for {
		p.space()
		if p.pos < len(p.s) && p.s[p.pos] == end {
			p.pos++
			return v, nil
		}
		x, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		v = append(v, x)
		p.space()
		if p.pos < len(p.s) && p.s[p.pos] == ',' {
			p.pos++
		} else if p.pos == len(p.s) || p.s[p.pos] != end {
			return nil, fmt.Errorf("expected ',' or %q in header, found %q", end, p.rest())
		}
	}
}

// str parses a quoted string without escapes other than \\ and \' or \",
// which is all numpy's repr of a dtype descr ever produces.
func (p *literal) str() (any, error) {
	q := p.s[p.pos]
	p.pos++
	var b strings.Builder
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		p.pos++
		switch {
		case c == q:
			return b.String(), nil
		case c == '\\':
			if p.pos == len(p.s) {
				return nil, fmt.Errorf("header ends inside a string")
			}
			e := p.s[p.pos]
			p.pos++
			if e != '\\' && e != '\'' && e != '"' {
				return nil, fmt.Errorf("unsupported escape \\%c in header string", e)
			}
			b.WriteByte(e)
		case c == '\n':
			return nil, fmt.Errorf("newline inside a header string")
		default:
			b.WriteByte(c)
		}
	}
	return nil, fmt.Errorf("header ends inside a string")
}

func (p *literal) int() (any, error) {
	start := p.pos
	if p.s[p.pos] == '-' {
		p.pos++
	}
	for p.pos < len(p.s) && p.s[p.pos] >= '0' && p.s[p.pos] <= '9' {
		p.pos++
	}
	// numpy < 1.x on Python 2 wrote longs as "3L".
	txt := p.s[start:p.pos]
	if p.pos < len(p.s) && p.s[p.pos] == 'L' {
		p.pos++
	}
	n, err := strconv.ParseInt(txt, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("bad integer %q in header", txt)
	}
	return n, nil
}
