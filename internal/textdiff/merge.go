package textdiff

import (
	"slices"
	"strings"
)

// Merge3 merges the changes ours and theirs made to base (diff3): a
// region changed on one side only, or alike on both, takes that change; a
// region both sides changed differently is a conflict, written as git
// writes it:
//
//	<<<<<<< labelOurs
//	ours' lines
//	=======
//	theirs' lines
//	>>>>>>> labelTheirs
//
// with the line ending of the first line of base, ours or theirs that has
// one ("\n" if none). It returns the merged lines and the number of
// conflicts.
func Merge3(base, ours, theirs []string, labelOurs, labelTheirs string) ([]string, int) {
	ma, mb := matches(base, ours), matches(base, theirs)
	eol := "\n"
	for _, f := range [][]string{base, ours, theirs} {
		if len(f) > 0 && strings.HasSuffix(f[0], "\r\n") {
			eol = "\r\n"
			break
		} else if len(f) > 0 && strings.HasSuffix(f[0], "\n") {
			break
		}
	}
	var out []string
	conflicts := 0
	o, a, b := 0, 0, 0
	for {
		// the next base line both sides kept
		next := o
		for next < len(base) && (ma[next] < 0 || mb[next] < 0) {
			next++
		}
		ea, eb := len(ours), len(theirs)
		if next < len(base) {
			ea, eb = ma[next], mb[next]
		}
		cb, ca, ct := base[o:next], ours[a:ea], theirs[b:eb]
		switch {
		case slices.Equal(ca, cb):
			out = append(out, ct...)
		case slices.Equal(ct, cb), slices.Equal(ca, ct):
			out = append(out, ca...)
		default:
			conflicts++
			out = append(out, "<<<<<<< "+labelOurs+eol)
			out = appendEnded(out, ca, eol)
			out = append(out, "======="+eol)
			out = appendEnded(out, ct, eol)
			out = append(out, ">>>>>>> "+labelTheirs+eol)
		}
		if next >= len(base) {
			return out, conflicts
		}
		out = append(out, ours[ea])
		o, a, b = next+1, ea+1, eb+1
	}
}

// matches maps each line of base to the line of other it is kept as, or
// -1.
func matches(base, other []string) []int {
	m := make([]int, len(base))
	for i := range m {
		m[i] = -1
	}
	for _, op := range Diff(base, other) {
		if op.Kind == '=' {
			m[op.A] = op.B
		}
	}
	return m
}

// appendEnded appends lines, ending the last with eol if it has no line
// ending, so that a conflict marker starts a line.
func appendEnded(out, lines []string, eol string) []string {
	out = append(out, lines...)
	if n := len(out); len(lines) > 0 && !strings.HasSuffix(out[n-1], "\n") {
		out[n-1] += eol
	}
	return out
}
