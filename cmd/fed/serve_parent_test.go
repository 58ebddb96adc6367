//go:build unix

package main

import (
	"bytes"
	"context"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestServeStopsWithParent: fed serve --parent PID stops, with a note, once
// process PID has exited (the README's promise for scripts that start it
// with --parent $$).
func TestServeStopsWithParent(t *testing.T) {
	parent := exec.Command("sleep", "60")
	if err := parent.Start(); err != nil {
		t.Skipf("no sleep to stand for the parent: %v", err)
	}
	defer parent.Process.Kill()
	var stderr bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(context.Background(), []string{"serve", "--root", t.TempDir(), "--addr", "127.0.0.1:0",
			"--parent", strconv.Itoa(parent.Process.Pid)}, strings.NewReader(""), &bytes.Buffer{}, &stderr)
	}()
	select {
	case code := <-done:
		t.Fatalf("fed serve exited (%d) while its parent runs: %s", code, stderr.String())
	case <-time.After(time.Second):
	}
	if err := parent.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	parent.Wait()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("fed serve exited %d after its parent, want 0: %s", code, stderr.String())
		}
		if !strings.Contains(stderr.String(), "parent process "+strconv.Itoa(parent.Process.Pid)+" has exited") {
			t.Errorf("stderr lacks the parent note: %s", stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("fed serve still runs 10 s after its parent exited")
	}
}
