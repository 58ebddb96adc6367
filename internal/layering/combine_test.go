package layering

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// worlds are the packages of the middle floor, each the one owner of an
// outside world: proofs (zk), the wire (remote, remote/server) and the
// chain (nft).
var worlds = []string{"zk", "remote", "nft"}

// combiners are the packages at repo's level (and above) that may combine
// the worlds: what ties a proof to a push or an NFT to a repository
// happens there, not inside a lower package.
var combiners = map[string]bool{
	"repo": true, "mergeexec": true, "transfer": true, "proving": true, "hosting": true, "nftlink": true,
	"governing": true,
	"cmd/fed":   true,
}

// combined returns the worlds that imports (full import paths) reach
// directly, in the order of worlds.
func combined(imports []string) []string {
	var out []string
	for _, w := range worlds {
		for _, imp := range imports {
			if imp == mod+w || strings.HasPrefix(imp, mod+w+"/") {
				out = append(out, w)
				break
			}
		}
	}
	return out
}

// mayCombine reports whether package pkg (relative to the module) may
// import more than one world.
func mayCombine(pkg string) bool {
	return combiners[pkg] || strings.HasPrefix(pkg, "internal/") || strings.HasPrefix(pkg, "bench/")
}

// TestOnlyRepoLevelCombines: no package below repo's level imports two of
// zk, remote and nft (doc/architecture.md).
func TestOnlyRepoLevelCombines(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}:{{join .Imports " "}}`, mod+"...").Output()
	if err != nil {
		t.Skipf("go list is not available here: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		path, imports, _ := strings.Cut(line, ":")
		pkg := strings.TrimPrefix(path, mod)
		if w := combined(strings.Fields(imports)); len(w) > 1 && !mayCombine(pkg) {
			t.Errorf("%s imports %s: only the packages at repo's level (%s) combine them", pkg, strings.Join(w, " and "), strings.Join(combinerNames(), ", "))
		}
	}
}

func combinerNames() []string {
	var out []string
	for p := range combiners {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// The rule's own logic, on made-up import lists: the test above would
// fail for a lower package that combines two worlds.
func TestCombined(t *testing.T) {
	for _, c := range []struct {
		imports []string
		want    []string
	}{
		{[]string{mod + "objects", mod + "refs"}, nil},
		{[]string{mod + "zk", mod + "objects"}, []string{"zk"}},
		{[]string{mod + "remote/server", mod + "nft"}, []string{"remote", "nft"}},
		{[]string{mod + "zk", mod + "remote", mod + "nft", "github.com/x/zk"}, []string{"zk", "remote", "nft"}},
		{[]string{mod + "zkextra", mod + "remotes"}, nil}, // other names sharing a prefix
	} {
		if got := combined(c.imports); !slices.Equal(got, c.want) {
			t.Errorf("combined(%v) = %v, want %v", c.imports, got, c.want)
		}
	}
	if mayCombine("remote/server") || mayCombine("codec") || !mayCombine("hosting") || !mayCombine("internal/testchain") {
		t.Error("mayCombine does not follow the floors")
	}
}
