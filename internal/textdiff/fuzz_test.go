package textdiff

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzDiffMerge: a diff's edit script rebuilds the new file; a merge with
// one side unchanged is the other side; merging a change with itself is
// that change.
func FuzzDiffMerge(f *testing.F) {
	f.Add([]byte("a\nb\nc\n"), []byte("a\nc\nd"), []byte("x\nb\nc\n"))
	f.Add([]byte("{\n  \"n\": 1\n}\n"), []byte("{\n  \"n\": 2\n}\n"), []byte("{\r\n}"))
	f.Fuzz(func(t *testing.T, base, x, y []byte) {
		// few distinct lines, so that diffs have matches to find
		norm := func(b []byte) []string {
			return Split(bytes.Map(func(r rune) rune {
				if r == '\n' {
					return r
				}
				return 'a' + r%4
			}, b))
		}
		o, a, b := norm(base), norm(x), norm(y)
		if got := strings.Join(apply(o, a, Diff(o, a)), ""); got != strings.Join(a, "") {
			t.Fatalf("Diff does not rebuild: %q", got)
		}
		Unified(o, a, 3)
		if got, n := Merge3(o, a, o, "o", "t"); n != 0 || strings.Join(got, "") != strings.Join(a, "") {
			t.Fatalf("merge with theirs unchanged: %q, %d conflicts", got, n)
		}
		if got, n := Merge3(o, o, b, "o", "t"); n != 0 || strings.Join(got, "") != strings.Join(b, "") {
			t.Fatalf("merge with ours unchanged: %q, %d conflicts", got, n)
		}
		if got, n := Merge3(o, a, a, "o", "t"); n != 0 || strings.Join(got, "") != strings.Join(a, "") {
			t.Fatalf("merge of one change with itself: %q, %d conflicts", got, n)
		}
	})
}
