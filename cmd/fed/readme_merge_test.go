package main

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/fed-vcs/fed/merge"
)

// TestReadmeMergeStrategies: the README's table of merge strategies names
// every strategy fed has, each with exactly the parameters it takes (the
// parenthesis after a name lists them; fedavg's names its `exact=true`).
func TestReadmeMergeStrategies(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, l := range strings.Split(string(b), "\n") {
		for _, family := range []string{"| federated |", "| server optimisers", "| model merging |"} {
			if strings.HasPrefix(l, family) {
				rows = append(rows, l[strings.Index(l[1:], "|")+2:])
			}
		}
	}
	if len(rows) != 3 {
		t.Fatalf("README: found %d of the 3 rows of the merge strategy table", len(rows))
	}
	entry := regexp.MustCompile("`([a-z-]+)`(?: \\(([^)]*)\\))?")
	keyOf := regexp.MustCompile("`([a-z0-9]+)=[^`]*`")
	documented := map[string][]string{}
	for _, row := range rows {
		for _, m := range entry.FindAllStringSubmatch(row, -1) {
			var params []string
			switch {
			case strings.Contains(m[2], "`"):
				for _, k := range keyOf.FindAllStringSubmatch(m[2], -1) {
					params = append(params, k[1])
				}
			case m[2] != "":
				params = strings.Split(m[2], ", ")
			}
			slices.Sort(params)
			documented[m[1]] = params
		}
	}
	for _, s := range merge.Strategies() {
		doc, ok := documented[s]
		if !ok {
			t.Errorf("README's strategy table lacks %s", s)
			continue
		}
		delete(documented, s)
		sides := 4
		if s == merge.Slerp {
			sides = 2
		}
		o := merge.Options{Strategy: s, HasBase: true}
		if err := o.Validate(sides); err != nil {
			t.Errorf("%s with defaults: %v", s, err)
			continue
		}
		var got []string
		for k := range o.Params {
			got = append(got, k)
		}
		slices.Sort(got)
		if !slices.Equal(got, doc) {
			t.Errorf("%s: README lists parameters %v, the strategy takes %v", s, doc, got)
		}
	}
	for s := range documented {
		t.Errorf("README's strategy table names %s, which is no strategy", s)
	}
}
