package repo

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAddWarnsOpaque: a legacy (non-zip) torch pickle is stored opaque and
// add says why; status (hashing only) says nothing.
func TestAddWarnsOpaque(t *testing.T) {
	ctx := context.Background()
	r := newTestRepo(t)
	var warnings []string
	r.Warn = func(m string) { warnings = append(warnings, m) }
	b, err := os.ReadFile("../codec/torch/testdata/legacy.pt")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(r.Root, "legacy.pt")
	os.WriteFile(p, b, 0o644)
	if err := r.Add(ctx, []string{p}, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "legacy.pt") || !strings.Contains(warnings[0], "opaque") {
		t.Fatalf("warnings: %q", warnings)
	}
	os.WriteFile(p, append(b, 0), 0o644)
	if _, err := r.Status(ctx); err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 {
		t.Fatalf("status warned: %q", warnings)
	}
}
