package repo

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fed-vcs/fed/objects"
)

// An octopus merge with a lane to its right: the lane moves out of the
// way before the merge's line ("*-."), and once more as the merge fans out
// to its two new lanes, so no lane is drawn where none was opened.
func TestGraphOctopusBesideALane(t *testing.T) {
	id := func(b byte) objects.ID { var x objects.ID; x[0] = b; return x }
	base, p0, p1, p2, y, m, tip := id(1), id(2), id(3), id(4), id(5), id(6), id(7)
	entry := func(x objects.ID, ps ...objects.ID) LogEntry {
		return LogEntry{ID: x, Commit: &objects.Commit{Parents: ps}}
	}
	rows := Graph([]LogEntry{
		entry(tip, m, y),
		entry(m, p0, p1, p2),
		entry(y, base),
		entry(p2, base),
		entry(p1, base),
		entry(p0, base),
		entry(base),
	})
	var got []string
	for _, r := range rows {
		got = append(got, r.Pre...)
		got = append(got, strings.TrimRight(r.Commit, " "))
		got = append(got, r.Mid...)
		got = append(got, r.After...)
	}
	want := []string{
		"*",       // tip
		`|\`,      // opens y
		`|  \`,    // y moves out of the octopus's way
		"*-. |",   // m
		`|\ \ \`,  // m's two new lanes; y moves once more
		"| | | *", // y
		"| | * |", // p2
		"| | |/",
		"| * |", // p1
		"| |/",
		"* |", // p0
		"|/",
		"*", // base
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("graph (-want +got):\n%s", diff)
	}
	if got, want := rows[1].Rest, "| | | | "; got != want {
		t.Errorf("lines of the merge's message after %q, want %q (every lane after the fan-out)", got, want)
	}
}
