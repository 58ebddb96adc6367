package textdiff

import (
	"strings"
	"testing"
)

// apply rebuilds b from a and an edit script.
func apply(a, b []string, ops []Op) []string {
	var out []string
	ai := 0
	for _, o := range ops {
		switch o.Kind {
		case '=':
			out = append(out, a[o.A])
			ai = o.A + 1
		case '-':
			ai = o.A + 1
		case '+':
			out = append(out, b[o.B])
		}
	}
	_ = ai
	return out
}

func edits(ops []Op) int {
	n := 0
	for _, o := range ops {
		if o.Kind != '=' {
			n++
		}
	}
	return n
}

func TestDiff(t *testing.T) {
	for _, tc := range []struct {
		a, b  string
		edits int
	}{
		{"", "", 0},
		{"a\nb\nc\n", "a\nb\nc\n", 0},
		{"a\nb\nc\n", "a\nc\n", 1},
		{"a\nb\nc\n", "a\nb\nx\nc\n", 1},
		{"a\nb\nc\na\nb\nb\na\n", "c\nb\na\nb\na\nc\n", 5}, // Myers' paper example
		{"a\nb", "a\nb\n", 2},                              // the last line gained its line ending
		{"x\r\ny\r\n", "x\ny\r\n", 2},                      // line endings are part of lines
	} {
		a, b := Split([]byte(tc.a)), Split([]byte(tc.b))
		ops := Diff(a, b)
		if got := strings.Join(apply(a, b, ops), ""); got != tc.b {
			t.Errorf("Diff(%q, %q) rebuilds %q", tc.a, tc.b, got)
		}
		if edits(ops) != tc.edits {
			t.Errorf("Diff(%q, %q): %d edits, want %d", tc.a, tc.b, edits(ops), tc.edits)
		}
	}
}

func TestUnified(t *testing.T) {
	a := "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\n15\n16\n"
	b := "1\n2\n3\n4\nfive\n6\n7\n8\n9\n10\n11\n12\n13\n14\n15\n16\nseventeen"
	// as `git diff` prints it
	want := `@@ -2,7 +2,7 @@
 2
 3
 4
-5
+five
 6
 7
 8
@@ -14,3 +14,4 @@
 14
 15
 16
+seventeen
\ No newline at end of file
`
	if got := Unified(Split([]byte(a)), Split([]byte(b)), 3); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if got := Unified(nil, Split([]byte("x\n")), 3); got != "@@ -0,0 +1 @@\n+x\n" {
		t.Errorf("new file: %q", got)
	}
	if got := Unified(Split([]byte(a)), Split([]byte(a)), 3); got != "" {
		t.Errorf("equal files: %q", got)
	}
}

func TestMerge3(t *testing.T) {
	base := "a\nb\nc\nd\ne\n"
	for _, tc := range []struct {
		name, ours, theirs, want string
		conflicts                int
	}{
		{"disjoint", "A\nb\nc\nd\ne\n", "a\nb\nc\nd\nE\n", "A\nb\nc\nd\nE\n", 0},
		{"one side", "a\nb\nc\nd\ne\n", "a\nb\nC\nd\ne\nf\n", "a\nb\nC\nd\ne\nf\n", 0},
		{"alike", "a\nB\nc\nd\ne\n", "a\nB\nc\nd\ne\n", "a\nB\nc\nd\ne\n", 0},
		{"deleted and changed elsewhere", "a\nc\nd\ne\n", "a\nb\nc\nd\nE\n", "a\nc\nd\nE\n", 0},
		{"same line", "a\nb\nX\nd\ne\n", "a\nb\nY\nd\ne\n", "a\nb\n<<<<<<< ours\nX\n=======\nY\n>>>>>>> theirs\nd\ne\n", 1},
		{"crlf", "", "", "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "crlf" {
				b := "a\r\nb\r\nc"
				got, n := Merge3(Split([]byte(b)), Split([]byte("a\r\nX\r\nc")), Split([]byte("a\r\nY\r\nc")), "ours", "theirs")
				want := "a\r\n<<<<<<< ours\r\nX\r\n=======\r\nY\r\n>>>>>>> theirs\r\nc"
				if strings.Join(got, "") != want || n != 1 {
					t.Fatalf("got %q (%d conflicts), want %q", strings.Join(got, ""), n, want)
				}
				return
			}
			got, n := Merge3(Split([]byte(base)), Split([]byte(tc.ours)), Split([]byte(tc.theirs)), "ours", "theirs")
			if strings.Join(got, "") != tc.want || n != tc.conflicts {
				t.Fatalf("got %q (%d conflicts), want %q (%d)", strings.Join(got, ""), n, tc.want, tc.conflicts)
			}
		})
	}
}

func TestIsText(t *testing.T) {
	for _, tc := range []struct {
		b    string
		want bool
	}{{"", true}, {"{\"a\": 1}\n", true}, {"héllo\r\n", true}, {"a\x00b", false}, {"\xff\xfe", false}} {
		if IsText([]byte(tc.b)) != tc.want {
			t.Errorf("IsText(%q) = %v", tc.b, !tc.want)
		}
	}
}

func TestMergeJSON(t *testing.T) {
	base := "{\n  \"hidden_size\": 32,\n  \"num_labels\": 10,\n  \"id2label\": {\"0\": \"a\"},\n  \"dropout\": 0.1\n}\n"
	for _, tc := range []struct {
		name  string
		sides []string
		want  string
		ok    bool
	}{
		{"adjacent keys", []string{
			"{\n  \"hidden_size\": 64,\n  \"num_labels\": 10,\n  \"id2label\": {\"0\": \"a\"},\n  \"dropout\": 0.1\n}\n",
			"{\n  \"hidden_size\": 32,\n  \"num_labels\": 12,\n  \"id2label\": {\"0\": \"a\"},\n  \"dropout\": 0.1\n}\n"},
			"{\n  \"hidden_size\": 64,\n  \"num_labels\": 12,\n  \"id2label\": {\n    \"0\": \"a\"\n  },\n  \"dropout\": 0.1\n}\n", true},
		{"nested, added and removed", []string{
			"{\n  \"hidden_size\": 32,\n  \"num_labels\": 10,\n  \"id2label\": {\"0\": \"a\", \"1\": \"b\"},\n  \"dropout\": 0.1\n}\n",
			"{\n  \"hidden_size\": 32,\n  \"num_labels\": 10,\n  \"id2label\": {\"0\": \"A\"},\n  \"extra\": [1, 2]\n}\n"},
			"{\n  \"hidden_size\": 32,\n  \"num_labels\": 10,\n  \"id2label\": {\n    \"0\": \"A\",\n    \"1\": \"b\"\n  },\n  \"extra\": [\n    1,\n    2\n  ]\n}\n", true},
		{"same key", []string{
			"{\"hidden_size\": 64, \"num_labels\": 10, \"id2label\": {\"0\": \"a\"}, \"dropout\": 0.1}",
			"{\"hidden_size\": 48, \"num_labels\": 10, \"id2label\": {\"0\": \"a\"}, \"dropout\": 0.1}"}, "", false},
		{"not an object", []string{"[1]", "[2]"}, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var sides [][]byte
			for _, s := range tc.sides {
				sides = append(sides, []byte(s))
			}
			got, ok := MergeJSON([]byte(base), sides)
			if ok != tc.ok || string(got) != tc.want {
				t.Fatalf("got %q, %v; want %q, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}
