package textdiff

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxSize is the largest file, in bytes, that IsText accepts: text diffs
// and merges hold whole files in memory.
const MaxSize = 8 << 20

// maxD bounds the differences the Myers search looks for; beyond it the
// changed middle is reported as removed and added in whole.
const maxD = 4096

// IsText reports whether b is a text file fed diffs and merges by lines:
// at most MaxSize bytes of valid UTF-8 without NUL.
func IsText(b []byte) bool {
	return len(b) <= MaxSize && utf8.Valid(b) && bytes.IndexByte(b, 0) < 0
}

// Split splits b into lines, each with its line ending.
func Split(b []byte) []string {
	var out []string
	s := string(b)
	for len(s) > 0 {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			out = append(out, s)
			break
		}
		out = append(out, s[:i+1])
		s = s[i+1:]
	}
	return out
}

// Op is one step of an edit script: Kind '=' keeps line A of a (which
// equals line B of b), '-' deletes line A of a, '+' inserts line B of b.
type Op struct {
	Kind byte
	A, B int
}

// Diff returns an edit script from a to b with the fewest insertions and
// deletions (up to maxD of them), deletions before insertions where they
// meet.
func Diff(a, b []string) []Op {
	var ops []Op
	pre := 0
	for pre < len(a) && pre < len(b) && a[pre] == b[pre] {
		ops = append(ops, Op{'=', pre, pre})
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && a[len(a)-1-suf] == b[len(b)-1-suf] {
		suf++
	}
	ops = append(ops, myers(a[pre:len(a)-suf], b[pre:len(b)-suf], pre)...)
	for i := suf; i > 0; i-- {
		ops = append(ops, Op{'=', len(a) - i, len(b) - i})
	}
	// each op's positions in both files, after reordering
	ai, bi := 0, 0
	for i, o := range ops {
		ops[i].A, ops[i].B = ai, bi
		switch o.Kind {
		case '=':
			ai, bi = ai+1, bi+1
		case '-':
			ai++
		case '+':
			bi++
		}
	}
	return ops
}

// myers is Myers' greedy search with the path recovered from the
// furthest-reaching points kept per step; indices are shifted by off.
func myers(a, b []string, off int) []Op {
	n, m := len(a), len(b)
	whole := func() []Op {
		var ops []Op
		for i := range a {
			ops = append(ops, Op{'-', off + i, off})
		}
		for j := range b {
			ops = append(ops, Op{'+', off + n, off + j})
		}
		return ops
	}
	if n == 0 || m == 0 {
		return whole()
	}
	max := n + m
	v := make([]int, 2*max+2)
	at := func(k int) *int { return &v[k+max+1] }
	var trace [][]int // trace[d][k+d] = furthest x on diagonal k before step d
	found := -1
	for d := 0; d <= max && d <= maxD; d++ {
		trace = append(trace, append([]int(nil), v[max+1-d:max+1+d+1]...))
		for k := -d; k <= d; k += 2 {
			var x int
			if k == -d || k != d && *at(k - 1) < *at(k + 1) {
				x = *at(k + 1)
			} else {
				x = *at(k - 1) + 1
			}
			y := x - k
			for x < n && y < m && a[x] == b[y] {
				x, y = x+1, y+1
			}
			*at(k) = x
			if x >= n && y >= m {
				found = d
				break
			}
		}
		if found >= 0 {
			break
		}
	}
	if found < 0 {
		return whole()
	}
	var rev []Op
	x, y := n, m
	for d := found; d > 0; d-- {
		tv := trace[d]
		get := func(k int) int { return tv[k+d] }
		k := x - y
		var pk int
		if k == -d || k != d && get(k-1) < get(k+1) {
			pk = k + 1
		} else {
			pk = k - 1
		}
		px := get(pk)
		py := px - pk
		for x > px && y > py {
			x, y = x-1, y-1
			rev = append(rev, Op{'=', off + x, off + y})
		}
		if x == px {
			rev = append(rev, Op{'+', off + px, off + py})
		} else {
			rev = append(rev, Op{'-', off + px, off + py})
		}
		x, y = px, py
	}
	for x > 0 && y > 0 {
		x, y = x-1, y-1
		rev = append(rev, Op{'=', off + x, off + y})
	}
	// reverse, then put deletions before insertions in each run of edits
	ops := make([]Op, len(rev))
	for i, o := range rev {
		ops[len(rev)-1-i] = o
	}
	for i := 0; i < len(ops); {
		if ops[i].Kind == '=' {
			i++
			continue
		}
		j := i
		for j < len(ops) && ops[j].Kind != '=' {
			j++
		}
		run := ops[i:j]
		var del, ins []Op
		for _, o := range run {
			if o.Kind == '-' {
				del = append(del, o)
			} else {
				ins = append(ins, o)
			}
		}
		copy(run, append(del, ins...))
		i = j
	}
	return ops
}

// Unified returns the hunks of a unified diff from a to b with context
// lines of context, as git prints them (without the ---/+++ header); ""
// when a and b are equal. A last line without a line ending is followed
// by "\ No newline at end of file".
func Unified(a, b []string, context int) string {
	ops := Diff(a, b)
	var sb strings.Builder
	for i := 0; i < len(ops); {
		if ops[i].Kind == '=' {
			i++
			continue
		}
		// a hunk: from context lines before the first edit to context
		// lines after the last edit that is within 2·context of the next
		start := max(0, i-context)
		end := i
		for {
			for end < len(ops) && ops[end].Kind != '=' {
				end++
			}
			j := end
			for j < len(ops) && ops[j].Kind == '=' {
				j++
			}
			if j < len(ops) && j-end <= 2*context {
				end = j
				continue
			}
			end = min(len(ops), end+context)
			break
		}
		h := ops[start:end]
		var na, nb int
		for _, o := range h {
			switch o.Kind {
			case '=':
				na, nb = na+1, nb+1
			case '-':
				na++
			case '+':
				nb++
			}
		}
		fmt.Fprintf(&sb, "@@ -%s +%s @@\n", hunkRange(h[0].A, na), hunkRange(h[0].B, nb))
		for _, o := range h {
			var line string
			switch o.Kind {
			case '=', '-':
				line = a[o.A]
			case '+':
				line = b[o.B]
			}
			sb.WriteByte(map[byte]byte{'=': ' ', '-': '-', '+': '+'}[o.Kind])
			sb.WriteString(line)
			if !strings.HasSuffix(line, "\n") {
				sb.WriteString("\n\\ No newline at end of file\n")
			}
		}
		i = end
	}
	return sb.String()
}

// hunkRange formats the start (0-based first line) and count of a hunk
// side as git does: "l,n", "l" when n is 1, and the line before when n
// is 0.
func hunkRange(first, n int) string {
	switch n {
	case 0:
		return fmt.Sprintf("%d,0", first)
	case 1:
		return fmt.Sprintf("%d", first+1)
	}
	return fmt.Sprintf("%d,%d", first+1, n)
}
