package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestVersionStamped checks that the values -ldflags "-X main.version=…
// -X main.commit=…" stamp are what fed --version prints.
func TestVersionStamped(t *testing.T) {
	oldV, oldC := version, commit
	t.Cleanup(func() { version, commit = oldV, oldC })
	version, commit = "v1.2.3", "0123456789abcdef0123456789abcdef01234567"
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"--version"}, nil, &out, &errOut); code != 0 {
		t.Fatalf("fed --version: exit %d: %s", code, errOut.String())
	}
	want := "fed version v1.2.3 (commit 0123456789abcdef0123456789abcdef01234567, storage format 1, "
	if !strings.HasPrefix(out.String(), want) {
		t.Errorf("fed --version printed %q, want it to start with %q", out.String(), want)
	}
}
