//go:build !windows

// The README sections run under bash with a process group to stop the
// server they start; neither exists on Windows.

package main

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// readmeBlocks returns the ```sh blocks of the README section whose
// heading starts with heading, up to the next "## " heading.
func readmeBlocks(t *testing.T, readme, heading string) string {
	t.Helper()
	i := strings.Index(readme, "\n"+heading)
	if i < 0 {
		t.Fatalf("README has no section %q", heading)
	}
	sec := readme[i+1:]
	if j := strings.Index(sec[len(heading):], "\n## "); j >= 0 {
		sec = sec[:len(heading)+j]
	}
	var out []string
	for {
		a := strings.Index(sec, "```sh\n")
		if a < 0 {
			break
		}
		sec = sec[a+len("```sh\n"):]
		b := strings.Index(sec, "```")
		if b < 0 {
			t.Fatalf("README section %q: unterminated code block", heading)
		}
		out = append(out, sec[:b])
		sec = sec[b+3:]
	}
	if len(out) == 0 {
		t.Fatalf("README section %q has no sh block", heading)
	}
	return strings.Join(out, "\n")
}

// TestReadme runs the README's collaboration and proofs sections as
// written, one after the other in one bash, from an empty directory with
// an empty HOME and fed and genmodel built from this tree on the PATH.
// The one change: the server's port 8417 becomes a free one, so that the
// test does not depend on it being free.
func TestReadme(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	script := "set -euo pipefail -x\n" +
		readmeBlocks(t, readme, "## Two users collaborating through `fed serve`") + "\n" +
		readmeBlocks(t, readme, "## Proofs") + "\n"
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	if !strings.Contains(script, "127.0.0.1:8417") {
		t.Fatal("the README's server no longer listens on 127.0.0.1:8417")
	}
	script = strings.ReplaceAll(script, "127.0.0.1:8417", addr)

	tmp := t.TempDir()
	bin := filepath.Join(tmp, "bin")
	for pkg, name := range map[string]string{".": "fed", "../../examples/genmodel": "genmodel"} {
		if out, err := exec.Command("go", "build", "-o", filepath.Join(bin, name), pkg).CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, out)
		}
	}
	work := filepath.Join(tmp, "work")
	os.MkdirAll(work, 0o755)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute) // ~1.5 min on 2 busy cores
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script)
	cmd.Dir = work
	cmd.Env = []string{"PATH=" + bin + ":" + os.Getenv("PATH"), "HOME=" + filepath.Join(tmp, "home"),
		"FED_ZK_CACHE=" + filepath.Join(tmp, "zk"), "TMPDIR=" + tmp}
	// the README starts the server with --parent $$: it stops with bash
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the README's collaboration and proofs sections: %v\n%s", err, out)
	}
	for _, want := range []string{"Merging 2 side(s) with fedavg", "proved", "verify: OK: 2 of 2 commit(s) verified"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
