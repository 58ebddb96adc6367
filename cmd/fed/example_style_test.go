package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The example scripts (make demo) colour their headings and command lines
// only on a terminal and never under NO_COLOR: piped output carried escape
// codes. A terminal is made with script(1) when it is installed.
func TestExampleStyleHonoursNoColorAndPipes(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	style, err := filepath.Abs("../../examples/style.sh")
	if err != nil {
		t.Fatal(err)
	}
	// the demo writes its escape codes only through style.sh
	demo, err := os.ReadFile("../../examples/demo.sh")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(demo), `\033`) || strings.Contains(string(demo), `\e[`) || !strings.Contains(string(demo), "examples/style.sh") {
		t.Errorf("examples/demo.sh writes escape codes of its own or does not source style.sh")
	}
	body := ". " + style + "; step heading; show fed init"
	run := func(t *testing.T, tty bool, env ...string) string {
		t.Helper()
		var cmd *exec.Cmd
		if tty {
			cmd = exec.Command("script", "-qec", "bash -c '"+body+"'", "/dev/null")
		} else {
			cmd = exec.Command("bash", "-c", body)
		}
		cmd.Env = append(os.Environ(), "TERM=xterm")
		cmd.Env = append(cmd.Env, env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", cmd.Args, err, out)
		}
		if !strings.Contains(string(out), "== heading") || !strings.Contains(string(out), "$ fed init") {
			t.Fatalf("output lacks the heading or the command: %q", out)
		}
		return string(out)
	}
	t.Run("pipe", func(t *testing.T) {
		if out := run(t, false, "NO_COLOR="); strings.Contains(out, "\x1b") {
			t.Errorf("piped output has escape codes: %q", out)
		}
	})
	if _, err := exec.LookPath("script"); err != nil {
		t.Skip("no script(1) to make a terminal")
	}
	t.Run("terminal", func(t *testing.T) {
		if out := run(t, true, "NO_COLOR="); !strings.Contains(out, "\x1b[1m") || !strings.Contains(out, "\x1b[2m") {
			t.Errorf("terminal output has no bold heading or dim command: %q", out)
		}
	})
	t.Run("terminal, NO_COLOR", func(t *testing.T) {
		if out := run(t, true, "NO_COLOR=1"); strings.Contains(out, "\x1b") {
			t.Errorf("NO_COLOR output has escape codes: %q", out)
		}
	})
}
