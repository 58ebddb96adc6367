package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fed-vcs/fed/refs"
	"github.com/fed-vcs/fed/repo"
)

func TestReportExitCodes(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	bg := context.Background()
	tests := []struct {
		name     string
		ctx      context.Context
		err      error
		want     int
		wantHint string
	}{
		{"ok", bg, nil, 0, ""},
		{"failure", bg, errors.New("boom"), 1, ""},
		{"usage", bg, usageErrorf("bad"), 2, "fed --help"},
		{"not a repo", bg, fmt.Errorf("open: %w", repo.ErrNotRepo), 3, "fed init"},
		{"dirty", bg, &repo.DirtyError{Op: "switch", Paths: []string{"a"}}, 4, "--force"},
		{"conflict", bg, fmt.Errorf("revert: %w", repo.ErrConflict), 4, "resolve the conflicts"},
		{"stale ref", bg, &refs.StaleError{Name: "refs/heads/main"}, 4, "try again"},
		{"no key", bg, repo.ErrNoKey, 1, "fed keygen"},
		{"interrupted", cancelled, fmt.Errorf("store: %w", context.Canceled), 130, ""},
		{"interrupted, other error", cancelled, errors.New("write: broken pipe"), 130, ""},
		{"fsck problems", bg, &exitError{code: 1, msg: "fsck found 2 problem(s)"}, 1, ""},
		{"own hint", bg, withHint(errors.New("x"), "do y"), 1, "do y"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			if got := report(tt.ctx, &stderr, tt.err); got != tt.want {
				t.Errorf("exit code %d, want %d", got, tt.want)
			}
			out := stderr.String()
			if tt.err == nil {
				if out != "" {
					t.Errorf("printed %q for no error", out)
				}
				return
			}
			line := "fed: error: " + message(tt.err) + "\n"
			if tt.want == 130 {
				line = "fed: interrupted: " + message(tt.err) + "\n"
			}
			if !strings.HasPrefix(out, line) {
				t.Errorf("stderr %q does not start with %q", out, line)
			}
			if tt.wantHint != "" && !strings.Contains(out, "fed: hint: ") {
				t.Errorf("stderr %q has no hint line", out)
			}
			if !strings.Contains(out, tt.wantHint) {
				t.Errorf("stderr %q lacks hint %q", out, tt.wantHint)
			}
		})
	}
}

// TestRunInterrupted: a command whose context is cancelled exits 130.
func TestMessage(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"sentinel", "repo: unknown revision: nope", "unknown revision: nope"},
		{"wrapped", "read ref main: refs: not found", "read ref main: not found"},
		{"nested", "commit abc chunk 0 update check: zk: update over the bound", "commit abc chunk 0 update check: update over the bound"},
		{"repeated part", `merge: unknown strategy: unknown strategy "x"`, `unknown strategy "x"`},
		{"format prefix kept", "model.safetensors: safetensors: header too large", "model.safetensors: safetensors: header too large"},
		{"remote kept", "remote: GET /x: connection refused", "remote: GET /x: connection refused"},
		{"word in a sentence", "the repo: files", "the repo: files"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := message(errors.New(tt.in)); got != tt.want {
				t.Errorf("message(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestFlagMessage(t *testing.T) {
	tests := []struct {
		in   string
		args []string
		want string
	}{
		{"flag provided but not defined: -all", []string{"status", "--all"}, "flag provided but not defined: --all"},
		{"flag provided but not defined: -all", []string{"status", "-all"}, "flag provided but not defined: -all"},
		{"flag provided but not defined: -qm", []string{"commit", "-qm", "x"}, "flag provided but not defined: -qm"},
		{"flag needs an argument: -message", []string{"commit", "--message"}, "flag needs an argument: --message"},
		{`invalid value "x" for flag -max-count: parse error`, []string{"log", "--max-count=x"}, `invalid value "x" for flag --max-count: parse error`},
		{`invalid boolean value "x" for -oneline: parse error`, []string{"log", "--oneline=x"}, `invalid boolean value "x" for --oneline: parse error`},
	}
	for _, tt := range tests {
		if got := flagMessage(tt.in, tt.args); got != tt.want {
			t.Errorf("flagMessage(%q, %q) = %q, want %q", tt.in, tt.args, got, tt.want)
		}
	}
}

func TestRunInterrupted(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("FED_CONFIG", dir+"/config")
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"init", dir}, nil, &out, &errb); code != 0 {
		t.Fatalf("init: exit %d: %s", code, errb.String())
	}
	var model bytes.Buffer
	if err := writeModel(&model, 1, []modelTensor{{"w", []uint64{256, 256}}}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "m.safetensors"), model.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if code := run(ctx, []string{"-C", dir, "add", "m.safetensors"}, nil, &out, &errb); code != 130 {
		t.Fatalf("add with a cancelled context: exit %d, want 130; stderr %q", code, errb.String())
	}
	if got := errb.String(); !strings.HasPrefix(got, "fed: interrupted") || strings.Contains(got, "fed: error:") {
		t.Errorf("stderr after an interrupt: %q, want it to say fed was interrupted", got)
	}
}

func TestReorderArgs(t *testing.T) {
	app := newApp(&env{})
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{"flags after args", []string{"log", "main", "--oneline", "-n", "3"}, []string{"log", "--oneline", "-n", "3", "--", "main"}},
		{"global after command", []string{"commit", "-m", "x", "--quiet"}, []string{"--quiet", "commit", "-m", "x", "--"}},
		{"global value flag", []string{"status", "-C", "dir"}, []string{"-C", "dir", "status", "--"}},
		{"globals before command", []string{"-C", "d", "add", "a"}, []string{"-C", "d", "add", "--", "a"}},
		{"dash dash kept", []string{"diff", "HEAD", "--", "-x.bin", "--stat"}, []string{"diff", "--", "HEAD", "--", "-x.bin", "--stat"}},
		{"short group with value", []string{"commit", "-am", "msg", "--samples=3"}, []string{"commit", "-am", "msg", "--samples=3", "--"}},
		{"unknown flag stays a flag", []string{"add", "a", "--bogus"}, []string{"add", "--bogus", "--", "a"}},
		{"unknown command untouched", []string{"frob", "--x"}, []string{"frob", "--x"}},
		{"no command", []string{"--quiet"}, []string{"--quiet"}},
		{"-N is -n N", []string{"log", "-3", "main"}, []string{"log", "--max-count=3", "--", "main"}},
		{"-nN", []string{"log", "-n5"}, []string{"log", "--max-count=5", "--"}},
		{"-N only where -n counts", []string{"add", "-3"}, []string{"add", "-3", "--"}},
		{"value flag last", []string{"log", "main", "-n"}, []string{"log", "-n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := reorderArgs(app, tt.in)
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("reorderArgs(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
