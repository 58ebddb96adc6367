package refs

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ok   bool
	}{
		{"HEAD", true},
		{"MERGE_HEAD", true},
		{"ORIG_HEAD", true},
		{"refs/heads/main", true},
		{"refs/heads/feature/x-1", true},
		{"refs/tags/v1.0", true},
		{"refs/remotes/origin/main", true},
		{"refs/proofs/ab12", true},
		{"refs/heads/a@b", true},
		{"refs/heads/ünïcode", true},
		{"refs/x", true},
		{"refs/heads/" + strings.Repeat("a", MaxNameLen-len("refs/heads/")), true},

		{"", false},
		{"@", false},
		{"main", false},
		{"head", false},
		{"Head", false},
		{"HEAD/x", false},
		{"_HEAD", false},
		{"refs", false},
		{"refs/", false},
		{"foo/bar", false},
		{"/refs/heads/main", false},
		{"refs/heads/main/", false},
		{"refs//heads", false},
		{"refs/heads/a..b", false},
		{"refs/heads/..", false},
		{"refs/heads/.hidden", false},
		{"refs/heads/a/.b", false},
		{"refs/heads/main.lock", false},
		{"refs/heads/main.lock/x", false},
		{"refs/heads/main.", false},
		{"refs/heads/a@{1}", false},
		{"refs/heads/a b", false},
		{"refs/heads/a\tb", false},
		{"refs/heads/a\nb", false},
		{"refs/heads/a\x00b", false},
		{"refs/heads/a\x7fb", false},
		{"refs/heads/a~1", false},
		{"refs/heads/a^", false},
		{"refs/heads/a:b", false},
		{"refs/heads/a?", false},
		{"refs/heads/a*", false},
		{"refs/heads/a[1]", false},
		{`refs/heads/a\b`, false},
		{"refs/heads/" + strings.Repeat("a", MaxNameLen-len("refs/heads/")+1), false},
	}
	for _, tt := range tests {
		t.Run(strings.ToValidUTF8(tt.name, "?"), func(t *testing.T) {
			err := ValidateName(tt.name)
			if tt.ok && err != nil {
				t.Fatalf("ValidateName(%q) = %v, want nil", tt.name, err)
			}
			if !tt.ok && !errors.Is(err, ErrBadName) {
				t.Fatalf("ValidateName(%q) = %v, want ErrBadName", tt.name, err)
			}
		})
	}
}

func TestNameHelpers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		n     Name
		full  string
		short string
	}{
		{Branch("main"), "refs/heads/main", "main"},
		{Branch("feat/x"), "refs/heads/feat/x", "feat/x"},
		{Tag("v1"), "refs/tags/v1", "v1"},
		{Remote("origin", "main"), "refs/remotes/origin/main", "origin/main"},
		{Name("refs/proofs/abc"), "refs/proofs/abc", "refs/proofs/abc"},
		{HeadName, "HEAD", "HEAD"},
	}
	for _, tt := range tests {
		if tt.n.String() != tt.full {
			t.Errorf("full name = %q, want %q", tt.n, tt.full)
		}
		if got := tt.n.Short(); got != tt.short {
			t.Errorf("%s.Short() = %q, want %q", tt.n, got, tt.short)
		}
		if err := ValidateName(string(tt.n)); err != nil {
			t.Errorf("helper made invalid name: %v", err)
		}
	}
	if !Branch("x").IsBranch() || Tag("x").IsBranch() {
		t.Error("IsBranch wrong")
	}
}
