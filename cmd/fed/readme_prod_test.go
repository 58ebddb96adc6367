//go:build !windows

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

// TestReadmeProduction runs the sh block of the README's production
// section as written, in bash from an empty directory with fed from this
// tree on the PATH: HTTPS with a self-signed certificate, the health,
// readiness and metrics checks, a reload on SIGHUP and a stop on SIGTERM.
// The one change: port 8417 becomes a free one. (The proxy, container and
// systemd blocks cannot run here; deploy_test.go checks deploy/.)
func TestReadmeProduction(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	for _, tool := range []string{"bash", "openssl", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s here: the README's production commands need it", tool)
		}
	}
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	script := readmeBlocks(t, string(b), "## Running fed serve in production")
	if !strings.Contains(script, "127.0.0.1:8417") {
		t.Fatal("the README's production server no longer listens on 127.0.0.1:8417")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	script = "set -euo pipefail\n" + strings.ReplaceAll(script, "127.0.0.1:8417", addr)

	tmp := t.TempDir()
	bin := filepath.Join(tmp, "bin")
	if out, err := exec.Command("go", "build", "-o", filepath.Join(bin, "fed"), ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	work := filepath.Join(tmp, "work")
	os.MkdirAll(work, 0o755)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script)
	cmd.Dir = work
	cmd.Env = []string{"PATH=" + bin + ":" + os.Getenv("PATH"), "HOME=" + filepath.Join(tmp, "home"), "TMPDIR=" + tmp}
	out, err := cmd.CombinedOutput()
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(work, "serve.log"))
		t.Fatalf("the README's production section: %v\n%s\nserve.log:\n%s", err, out, log)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < 4 || lines[0] != "ok" || lines[1] != "ready" || !strings.HasPrefix(lines[2], "fed_http_requests_total{") {
		t.Fatalf("output:\n%s", out)
	}
	// The info request is logged; health and metrics requests are
	// debug-level.
	last := lines[len(lines)-1]
	if !strings.Contains(last, `"route":"info","status":200`) || !strings.Contains(last, `"id":"`) || strings.Count(string(out), `"msg":"request"`) != 1 {
		t.Errorf("request lines:\n%s", out)
	}
	log, err := os.ReadFile(filepath.Join(work, "serve.log"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"msg":"serving"`, `"tls":true`, `"msg":"tls certificate reloaded"`, `"msg":"shutting down"`, `"msg":"stopped"`} {
		if !strings.Contains(string(log), want) {
			t.Errorf("serve.log lacks %s:\n%s", want, log)
		}
	}
}
